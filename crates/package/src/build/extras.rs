//! serverless-esbuild's `copyExtras`: files that the service's `package.patterns` include are
//! zipped next to the bundles (everything else of the sources is left out).

use std::path::{Path, PathBuf};

use super::{BuildError, BuildPlan};
use crate::select::{PatternSet, walk};

/// Copies the files `package.patterns` include into `<root>/extras` and returns that tree, or
/// `None` when the patterns include nothing (only `!` excludes, or none).
pub(crate) fn copy_extras(plan: &BuildPlan, root: &Path) -> Result<Option<PathBuf>, BuildError> {
    if !plan.patterns.iter().any(|p| !p.starts_with('!')) {
        return Ok(None);
    }
    // Nothing is selected unless a pattern includes it; later patterns win, as in v3.
    let mut patterns = vec!["!**".to_string()];
    patterns.extend(plan.patterns.iter().cloned());
    patterns.extend([
        "!.serverless/**".to_string(),
        "!node_modules/**".to_string(),
    ]);
    let set = PatternSet::new(&patterns).map_err(|err| BuildError::Config {
        setting: "package.patterns".into(),
        message: format!("invalid pattern {:?}: {}", err.pattern, err.reason),
    })?;
    let skip = plan.service_dir.join(".serverless");
    let candidates = walk(&plan.service_dir, Some(&skip)).map_err(|err| BuildError::Io {
        action: "list",
        path: plan.service_dir.clone(),
        source: std::io::Error::other(err.to_string()),
    })?;
    let dest = root.join("extras");
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(BuildError::io("remove", &dest))?;
    }
    for i in set.select(&candidates) {
        let target = dest.join(&candidates[i].name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(BuildError::io("create", parent))?;
        }
        std::fs::copy(&candidates[i].path, &target).map_err(BuildError::io("copy", &target))?;
    }
    Ok(dest.is_dir().then_some(dest))
}
