//! The dependency graph of a compose project: waves of services whose dependencies are all
//! in earlier waves, cycles found and named.

use indexmap::{IndexMap, IndexSet};

/// Services in waves: every service of a wave depends only on services of earlier waves. The
/// order inside a wave is the order of the compose file.
///
/// `deps` maps each service to the services it depends on (all of them keys of `deps`).
/// `Err` holds one cycle, as the services along it with the first repeated at the end.
pub fn waves(deps: &IndexMap<String, Vec<String>>) -> Result<Vec<Vec<String>>, Vec<String>> {
    let mut done: IndexSet<&str> = IndexSet::new();
    let mut waves = Vec::new();
    while done.len() < deps.len() {
        let wave: Vec<String> = deps
            .iter()
            .filter(|(name, _)| !done.contains(name.as_str()))
            .filter(|(_, on)| on.iter().all(|d| done.contains(d.as_str())))
            .map(|(name, _)| name.clone())
            .collect();
        if wave.is_empty() {
            return Err(cycle(deps, &done));
        }
        for name in &wave {
            let key = deps.get_key_value(name).map(|(k, _)| k.as_str());
            done.extend(key);
        }
        waves.push(wave);
    }
    Ok(waves)
}

/// One cycle among the services not in `done` (every one of them waits on another of them).
fn cycle(deps: &IndexMap<String, Vec<String>>, done: &IndexSet<&str>) -> Vec<String> {
    let Some(start) = deps.keys().find(|k| !done.contains(k.as_str())) else {
        return Vec::new();
    };
    let mut path: Vec<String> = vec![start.clone()];
    loop {
        let last = path.last().cloned().unwrap_or_default();
        let next = deps
            .get(&last)
            .and_then(|on| on.iter().find(|d| !done.contains(d.as_str())))
            .cloned()
            .unwrap_or_default();
        if let Some(i) = path.iter().position(|p| *p == next) {
            let mut found = path.split_off(i);
            found.push(next);
            return found;
        }
        path.push(next);
    }
}

/// The waves limited to `selected` (kept in their waves; empty waves dropped).
pub fn only(waves: &[Vec<String>], selected: &[String]) -> Vec<Vec<String>> {
    waves
        .iter()
        .map(|w| {
            w.iter()
                .filter(|s| selected.contains(s))
                .cloned()
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Every service that depends on `failed`, directly or through others.
pub fn dependents(deps: &IndexMap<String, Vec<String>>, failed: &str) -> Vec<String> {
    let mut found: IndexSet<String> = IndexSet::new();
    let mut frontier = vec![failed.to_string()];
    while let Some(current) = frontier.pop() {
        for (name, on) in deps {
            if on.contains(&current) && found.insert(name.clone()) {
                frontier.push(name.clone());
            }
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> IndexMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn waves_follow_dependencies_in_file_order() {
        let g = graph(&[
            ("consumer", &["producer"]),
            ("producer", &[]),
            ("other", &[]),
            ("last", &["consumer", "other"]),
        ]);
        let w = waves(&g).unwrap();
        assert_eq!(
            w,
            vec![
                vec!["producer".to_string(), "other".into()],
                vec!["consumer".into()],
                vec!["last".into()]
            ]
        );
    }

    #[test]
    fn a_cycle_is_named_along_its_services() {
        let g = graph(&[("free", &[]), ("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(waves(&g).unwrap_err(), vec!["a", "b", "c", "a"]);
        let own = graph(&[("self", &["self"])]);
        assert_eq!(waves(&own).unwrap_err(), vec!["self", "self"]);
    }

    #[test]
    fn dependents_are_transitive_and_only_those() {
        let g = graph(&[("p", &[]), ("c1", &["p"]), ("c2", &["c1"]), ("free", &[])]);
        assert_eq!(dependents(&g, "p"), vec!["c1", "c2"]);
        assert!(dependents(&g, "free").is_empty());
    }

    #[test]
    fn selection_keeps_wave_positions() {
        let w = vec![vec!["a".to_string(), "b".into()], vec!["c".into()]];
        assert_eq!(
            only(&w, &["c".into(), "b".into()]),
            vec![vec!["b"], vec!["c"]]
        );
    }
}
