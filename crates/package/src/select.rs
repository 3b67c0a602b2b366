//! File selection: the candidate walk and Serverless v3's ordered include/exclude patterns.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use crate::PackageError;

/// A regular file (or a symlink to one) found under the service directory.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Path relative to the service directory with `/` separators: the zip entry name.
    pub name: String,
    /// Where to read the file from.
    pub path: PathBuf,
    /// Whether the owner-execute bit is set (the entry is then stored as `0755`).
    pub executable: bool,
    /// Size in bytes at walk time, used only to size compression batches.
    pub size: u64,
}

/// A symlink under the service directory whose target lies outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutsideLink {
    /// The link's path relative to the walked directory (`/`-separated).
    pub name: String,
    /// Where it leads (canonical).
    pub target: PathBuf,
}

/// What [`walk_all`] found.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// The files.
    pub files: Vec<Candidate>,
    /// The outermost symlinks leading outside the walked directory, in walk order.
    pub outside: Vec<OutsideLink>,
}

/// Lists every file under `root`, following symlinks, dot files included, the way v3's
/// `globby('**', { dot: true, follow: true, nodir: true })` does. `skip` is a directory that
/// is not descended into (the output directory when it lies inside the service).
///
/// Broken symlinks are skipped (fast-glob reports them as links, not files) and so are links
/// that point back to one of their own ancestors, which would otherwise recurse forever.
pub(crate) fn walk(root: &Path, skip: Option<&Path>) -> Result<Vec<Candidate>, PackageError> {
    walk_all(root, skip).map(|w| w.files)
}

/// [`walk`], also noting the symlinks that lead outside `root` (followed all the same, as v3
/// does, and warned about by [`warnings`]).
pub(crate) fn walk_all(root: &Path, skip: Option<&Path>) -> Result<Walk, PackageError> {
    let mut out = Walk::default();
    // Only symlinks are resolved, so a tree without any costs nothing more.
    let canonical_root = std::fs::canonicalize(root).ok();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| skip.is_none_or(|s| e.path() != s));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                if err.loop_ancestor().is_some() || is_broken_link(&err) {
                    continue;
                }
                let path = err.path().unwrap_or(root).to_path_buf();
                let source = err
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("file system loop"));
                return Err(PackageError::Walk { path, source });
            }
        };
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir yields paths under its root");
        if entry.path_is_symlink()
            && let Some(canonical_root) = &canonical_root
        {
            note_outside_link(&mut out.outside, canonical_root, entry.path(), rel)?;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let metadata = entry.metadata().map_err(|err| PackageError::Walk {
            path: entry.path().to_path_buf(),
            source: err
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("cannot read metadata")),
        })?;
        out.files.push(Candidate {
            name: entry_name(rel)?,
            path: entry.path().to_path_buf(),
            executable: is_executable(&metadata),
            size: metadata.len(),
        });
    }
    Ok(out)
}

/// Records the symlink at `path` when it leads outside `canonical_root` and no recorded link
/// already holds it.
fn note_outside_link(
    outside: &mut Vec<OutsideLink>,
    canonical_root: &Path,
    path: &Path,
    rel: &Path,
) -> Result<(), PackageError> {
    let name = entry_name(rel)?;
    if outside.iter().any(|l| under(&name, &l.name)) {
        return Ok(());
    }
    if let Ok(target) = std::fs::canonicalize(path)
        && !target.starts_with(canonical_root)
    {
        outside.push(OutsideLink { name, target });
    }
    Ok(())
}

/// True when the entry `name` is `dir` or lies under it.
fn under(name: &str, dir: &str) -> bool {
    name.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The warnings about what the zips take in as v3 would, but the user may not expect: files
/// reached through a symlink that leads outside the service directory, and root `.env*` files
/// packaged because `useDotenv: true` (which excludes them) is not set. `zips` pairs each zip's
/// name with its selection (indices into `files`; larger indices are built files, not the
/// service's).
pub(crate) fn warnings(
    files: &[Candidate],
    zips: &[(&str, &[usize])],
    outside: &[OutsideLink],
    use_dotenv: bool,
) -> Vec<String> {
    let packaged = |test: &dyn Fn(&str) -> bool| -> (Vec<&str>, Vec<&str>) {
        let mut names = std::collections::BTreeSet::new();
        let mut in_zips = Vec::new();
        for (zip, selection) in zips {
            let mut hit = false;
            for &i in selection.iter().filter(|&&i| i < files.len()) {
                if test(&files[i].name) {
                    names.insert(files[i].name.as_str());
                    hit = true;
                }
            }
            if hit {
                in_zips.push(*zip);
            }
        }
        (names.into_iter().collect(), in_zips)
    };
    let mut out = Vec::new();
    for link in outside {
        let (names, in_zips) = packaged(&|name| under(name, &link.name));
        if names.is_empty() {
            continue;
        }
        out.push(format!(
            "\"{}\" is a symlink to {}, outside the service directory; {} {} packaged into {} as \
             if they were in the service (v3 does the same): check that nothing private lies \
             there, or exclude it with package.patterns \"!{}/**\"",
            link.name,
            link.target.display(),
            names.len(),
            if names.len() == 1 {
                "file is"
            } else {
                "files are"
            },
            in_zips.join(", "),
            link.name,
        ));
    }
    if !use_dotenv {
        let (names, in_zips) = packaged(&|name| name.starts_with(".env") && !name.contains('/'));
        if !names.is_empty() {
            out.push(format!(
                "{} {} packaged into {}: without useDotenv: true, .env files are not excluded \
                 (v3 does the same) and often hold secrets; exclude them with package.patterns \
                 \"!.env*\" (or set useDotenv: true)",
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" },
                in_zips.join(", "),
            ));
        }
    }
    out
}

/// A symlink whose target does not exist: walkdir reports it as an error while following.
fn is_broken_link(err: &walkdir::Error) -> bool {
    err.path().is_some_and(|p| {
        p.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
            && std::fs::metadata(p).is_err()
    })
}

/// Turns a relative path into a zip entry name (`/`-separated UTF-8).
fn entry_name(rel: &Path) -> Result<String, PackageError> {
    let mut name = String::new();
    for component in rel.components() {
        let part = component
            .as_os_str()
            .to_str()
            .ok_or_else(|| PackageError::NonUtf8Path {
                path: rel.to_path_buf(),
            })?;
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(part);
    }
    Ok(name)
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o100 != 0
}

/// v3 marks every file executable on Windows, where there is no execute bit.
#[cfg(not(unix))]
fn is_executable(_metadata: &std::fs::Metadata) -> bool {
    true
}

/// An ordered list of v3 patterns compiled once: `pattern` includes, `!pattern` excludes, and
/// for each file the last pattern that matches it decides (files no pattern matches stay in).
pub(crate) struct PatternSet {
    set: GlobSet,
    /// For each glob in `set`: the index of the pattern it came from.
    origin: Vec<usize>,
    /// For each pattern: true to include, false to exclude.
    include: Vec<bool>,
}

impl PatternSet {
    /// Compiles `patterns` with micromatch's semantics (`dot: true`, `*` stops at `/`,
    /// `foo/**` also matches `foo` itself, a leading `./` is ignored).
    pub(crate) fn new(patterns: &[String]) -> Result<Self, PatternError> {
        let mut builder = GlobSetBuilder::new();
        let mut origin = Vec::new();
        let mut include = Vec::with_capacity(patterns.len());
        for (index, pattern) in patterns.iter().enumerate() {
            let (negated, body) = match pattern.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, pattern.as_str()),
            };
            include.push(!negated);
            let body = body.strip_prefix("./").unwrap_or(body);
            if let Some(reason) = unsupported_syntax(body) {
                return Err(PatternError {
                    pattern: pattern.clone(),
                    reason: reason.to_string(),
                });
            }
            let mut bodies = vec![body];
            // micromatch lets the trailing `/**` match zero path segments.
            if let Some(base) = body.strip_suffix("/**")
                && !base.is_empty()
            {
                bodies.push(base);
            }
            for glob in bodies {
                let glob = GlobBuilder::new(glob)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .build()
                    .map_err(|err| PatternError {
                        pattern: pattern.clone(),
                        reason: err.kind().to_string(),
                    })?;
                builder.add(glob);
                origin.push(index);
            }
        }
        let set = builder.build().map_err(|err| PatternError {
            pattern: patterns.join(", "),
            reason: err.to_string(),
        })?;
        Ok(Self {
            set,
            origin,
            include,
        })
    }

    /// Indices (into `candidates`) of the files the patterns keep, in candidate order.
    pub(crate) fn select(&self, candidates: &[Candidate]) -> Vec<usize> {
        candidates
            .par_iter()
            .enumerate()
            .map_init(Vec::new, |hits, (index, candidate)| {
                self.set.matches_into(candidate.name.as_str(), hits);
                let last = hits.iter().map(|&glob| self.origin[glob]).max();
                last.is_none_or(|pattern| self.include[pattern])
                    .then_some(index)
            })
            .flatten()
            .collect()
    }
}

/// Glob syntax micromatch understands but this matcher does not: refuse it rather than
/// silently select different files than v3 would.
fn unsupported_syntax(body: &str) -> Option<&'static str> {
    const EXTGLOB: [&str; 5] = ["@(", "!(", "+(", "*(", "?("];
    if EXTGLOB.iter().any(|marker| body.contains(marker)) {
        return Some("extended globs such as @(a|b) or !(a) are not supported; use {a,b}");
    }
    if body.contains('(') && body.contains('|') {
        return Some("regex groups such as (a|b) are not supported; use {a,b}");
    }
    if body == ".." || body.starts_with("../") || body.contains("/../") {
        return Some(
            "patterns reaching outside the service directory are not supported; \
             symlink the directory into the service instead",
        );
    }
    None
}

/// A pattern that could not be compiled.
#[derive(Debug)]
pub(crate) struct PatternError {
    pub pattern: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(names: &[&str]) -> Vec<Candidate> {
        names
            .iter()
            .map(|name| Candidate {
                name: name.to_string(),
                path: PathBuf::from(name),
                executable: false,
                size: 0,
            })
            .collect()
    }

    fn kept(patterns: &[&str], names: &[&str]) -> Vec<String> {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        let set = PatternSet::new(&patterns).unwrap();
        let all = candidates(names);
        set.select(&all)
            .into_iter()
            .map(|i| all[i].name.clone())
            .collect()
    }

    // Expected results below were checked against picomatch 4 with `{ dot: true }`.
    #[test]
    fn star_stops_at_slash_and_matches_dot_files() {
        assert_eq!(kept(&["!*.js"], &["a.js", "b/c.js"]), ["b/c.js"]);
        assert_eq!(kept(&["!src/*"], &["src/.x", "src/a/b"]), ["src/a/b"]);
        assert_eq!(kept(&["!**"], &[".env", "a/.b"]), Vec::<String>::new());
    }

    #[test]
    fn trailing_globstar_matches_the_directory_name_itself() {
        assert_eq!(
            kept(&["!foo/**"], &["foo", "foo/a/b", "foobar"]),
            ["foobar"]
        );
        assert_eq!(kept(&["!**/foo/**"], &["foo", "x/foo/y", "x/y"]), ["x/y"]);
    }

    #[test]
    fn leading_dot_slash_braces_and_inner_globstar() {
        assert_eq!(kept(&["!./src/**"], &["src/a", "lib/a"]), ["lib/a"]);
        assert_eq!(kept(&["!{a,b}/**"], &["a/x", "b/x", "c/x"]), ["c/x"]);
        assert_eq!(kept(&["!a/**/b"], &["a/b", "a/x/y/b", "a/c"]), ["a/c"]);
    }

    #[test]
    fn last_matching_pattern_wins() {
        let names = ["a/keep.js", "a/drop.js", "b.js"];
        assert_eq!(kept(&["!a/**", "a/keep.js"], &names), ["a/keep.js", "b.js"]);
        assert_eq!(kept(&["a/keep.js", "!a/**"], &names), ["b.js"]);
    }

    #[test]
    fn extglobs_are_refused() {
        let err = PatternSet::new(&["!@(a|b)/**".to_string()]).err().unwrap();
        assert_eq!(err.pattern, "!@(a|b)/**");
        assert!(err.reason.contains("not supported"));
        assert!(PatternSet::new(&["(a|b).js".to_string()]).is_err());
        let err = PatternSet::new(&["../common/**".to_string()])
            .err()
            .unwrap();
        assert!(err.reason.contains("outside the service directory"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_outside_are_noted_once_and_warned_when_packaged() {
        let root = tempfile::tempdir().unwrap();
        let (service, common) = (root.path().join("svc"), root.path().join("common"));
        std::fs::create_dir_all(service.join("src")).unwrap();
        std::fs::create_dir_all(common.join("deep")).unwrap();
        std::fs::write(common.join("a.js"), "a").unwrap();
        std::fs::write(common.join("deep/b.js"), "b").unwrap();
        std::fs::write(service.join("src/h.js"), "h").unwrap();
        std::os::unix::fs::symlink(&common, service.join("shared")).unwrap();
        // A link inside the outside tree is under the outer link: not noted again.
        std::os::unix::fs::symlink(common.join("a.js"), common.join("deep/again.js")).unwrap();
        // A link within the service is no concern.
        std::os::unix::fs::symlink("src/h.js", service.join("inside.js")).unwrap();
        let walked = walk_all(&service, None).unwrap();
        let target = std::fs::canonicalize(&common).unwrap();
        assert_eq!(
            walked.outside,
            [OutsideLink {
                name: "shared".into(),
                target: target.clone()
            }]
        );
        let all: Vec<usize> = (0..walked.files.len()).collect();
        let warned = warnings(&walked.files, &[("svc.zip", &all)], &walked.outside, true);
        assert_eq!(warned.len(), 1, "{warned:?}");
        let expected = format!(
            "\"shared\" is a symlink to {}, outside the service directory; 3 files are \
             packaged into svc.zip",
            target.display()
        );
        assert!(warned[0].starts_with(&expected), "{warned:?}");
        // Excluded by the patterns: nothing to say.
        let only_src: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| walked.files[i].name.starts_with("src/"))
            .collect();
        let quiet = warnings(
            &walked.files,
            &[("svc.zip", &only_src)],
            &walked.outside,
            true,
        );
        assert!(quiet.is_empty(), "{quiet:?}");
    }

    #[test]
    fn root_env_files_are_warned_without_use_dotenv() {
        let files = candidates(&[
            ".env",
            ".env.prod",
            "src/.env",
            "node_modules/x/.env.example",
        ]);
        let all: Vec<usize> = (0..files.len()).collect();
        let zips: [(&str, &[usize]); 2] = [("a.zip", &all), ("b.zip", &all[2..])];
        let warned = warnings(&files, &zips, &[], false);
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(
            warned[0]
                .starts_with(".env, .env.prod are packaged into a.zip: without useDotenv: true"),
            "{warned:?}"
        );
        assert!(warnings(&files, &zips, &[], true).is_empty());
        // A built file (index past the service's files) is not the service's `.env`.
        assert!(warnings(&files[2..], &[("a.zip", &[0, 1, 2])], &[], false).is_empty());
    }
}
