//! Producers' outputs: read from their CloudFormation stacks (with their own credentials) or
//! taken from the deploy that just ran, and rendered into their consumers' params.

use std::cell::RefCell;
use std::collections::HashMap;

use deployer_config::compose::OutputRef;
use indexmap::IndexMap;

use super::runner::bounded;
use super::{ComposeOptions, Named, Project, placeholder, stage_options, static_params};
use crate::commands::info::info;
use crate::observer::Observer;

/// A service's outputs, or why they could not be read.
type Known = Result<IndexMap<String, String>, String>;

/// The outputs known so far, per service (`Err`: why they could not be read).
#[derive(Default)]
pub(crate) struct Outputs {
    known: RefCell<HashMap<String, Known>>,
}

/// What to do with an output that has no value.
pub(crate) enum Missing<'a> {
    /// The consumer cannot run (up).
    Fail,
    /// A visible placeholder and one note per reference (package, print, diff, remove).
    Placeholder(&'a RefCell<Vec<String>>),
}

impl Outputs {
    /// Records the outputs `service` deployed or has.
    pub fn set(&self, service: &str, outputs: IndexMap<String, String>) {
        self.known
            .borrow_mut()
            .insert(service.to_string(), Ok(outputs));
    }

    /// Records why `service`'s outputs cannot be read.
    pub fn unavailable(&self, service: &str, why: String) {
        self.known
            .borrow_mut()
            .insert(service.to_string(), Err(why));
    }

    fn lookup(&self, r: &OutputRef) -> Result<String, String> {
        match self.known.borrow().get(&r.service) {
            None => Err(format!("{r}: the outputs of {} were not read", r.service)),
            Some(Err(why)) => Err(format!("{r}: {why}")),
            Some(Ok(map)) => map.get(&r.output).cloned().ok_or_else(|| {
                let have: Vec<&str> = map.keys().map(String::as_str).collect();
                format!(
                    "{r}: the stack of {} has no output {} (it has: {})",
                    r.service,
                    r.output,
                    if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    }
                )
            }),
        }
    }

    /// The `key=value` params of `name`, its output references answered.
    pub fn params(
        &self,
        project: &Project,
        name: &str,
        missing: &Missing<'_>,
    ) -> anyhow::Result<Vec<String>> {
        let mut params = Vec::new();
        for (key, template) in &project.member(name).params {
            let value = template.render(&|r| match self.lookup(r) {
                Ok(v) => Some(v),
                Err(why) => match missing {
                    Missing::Fail => None,
                    Missing::Placeholder(notes) => {
                        notes.borrow_mut().push(format!(
                            "{name}: params.{key} holds the placeholder \"{}\": {why}",
                            placeholder(r)
                        ));
                        Some(placeholder(r))
                    }
                },
            });
            match value {
                Ok(v) => params.push(format!("{key}={v}")),
                Err(r) => {
                    let why = self.lookup(&r).err().unwrap_or_default();
                    anyhow::bail!(
                        "services.{name}.params.{key}: {why}; deploy {} first (or include \
                         it with --service)",
                        r.service
                    );
                }
            }
        }
        Ok(params)
    }
}

type Read = (String, anyhow::Result<crate::commands::info::StageInfo>);

/// Reads the deployed outputs of each of `names` (with each one's own credentials, guard
/// first), `max` at once.
pub(crate) async fn read_deployed(
    project: &Project,
    names: &[String],
    opts: &ComposeOptions,
    observer: &dyn Observer,
    outputs: &Outputs,
) {
    let jobs = names
        .iter()
        .map(|name| {
            let options = stage_options(project, name, static_params(project, name), opts);
            Box::pin(async move {
                let named = Named::new(observer, name);
                (name.clone(), info(&options, &named).await)
            }) as std::pin::Pin<Box<dyn std::future::Future<Output = Read>>>
        })
        .collect();
    for (name, read) in bounded(jobs, opts.max_concurrency.max(1)).await {
        match read {
            Ok(info) => outputs.set(&name, info.outputs),
            Err(err) => outputs.unavailable(
                &name,
                format!("the outputs of {name} could not be read from its stack: {err:#}"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use deployer_config::ProcessEnv;
    use deployer_config::compose::{Context, read};

    use super::*;

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        for f in ["p", "c"] {
            std::fs::create_dir_all(dir.path().join(f)).unwrap();
        }
        let file = dir.path().join("serverless-compose.yml");
        std::fs::write(
            &file,
            "services:\n  p: { path: p }\n  c:\n    path: c\n    params:\n      \
             url: 'q=${p.Url}'\n      plain: x\n",
        )
        .unwrap();
        let opts = BTreeMap::new();
        let ctx = Context {
            stage: "dev",
            env: &ProcessEnv,
            opts: &opts,
        };
        let compose = read(&file, &ctx).unwrap();
        let selected = compose.services.keys().cloned().collect();
        let project = Project {
            compose,
            selected,
            facts: BTreeMap::new(),
        };
        (dir, project)
    }

    #[test]
    fn outputs_render_into_params_or_name_what_is_missing() {
        let (_dir, project) = project();
        let outputs = Outputs::default();
        outputs.set(
            "p",
            IndexMap::from([("Other".to_string(), "o".to_string())]),
        );
        let err = outputs
            .params(&project, "c", &Missing::Fail)
            .unwrap_err()
            .to_string();
        assert!(err.contains("services.c.params.url"), "{err}");
        assert!(err.contains("has no output Url (it has: Other)"), "{err}");

        outputs.set(
            "p",
            IndexMap::from([("Url".to_string(), "https://q".to_string())]),
        );
        let params = outputs.params(&project, "c", &Missing::Fail).unwrap();
        assert_eq!(params, vec!["url=q=https://q", "plain=x"]);
    }

    #[test]
    fn a_missing_output_becomes_a_placeholder_with_one_note() {
        let (_dir, project) = project();
        let outputs = Outputs::default();
        outputs.unavailable("p", "not deployed".into());
        let notes = RefCell::new(Vec::new());
        let params = outputs
            .params(&project, "c", &Missing::Placeholder(&notes))
            .unwrap();
        assert_eq!(params[0], "url=q=<output p.Url not available>");
        let notes = notes.into_inner();
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("${p.Url}: not deployed"), "{notes:?}");
    }
}
