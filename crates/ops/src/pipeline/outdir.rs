//! The package directory: where it is, and cleaning what an earlier run left there.

use std::path::{Path, PathBuf};

use anyhow::Context;
use deployer_config::model::Service;
use deployer_package::PackageError;

use crate::defaults::{CREATE_TEMPLATE_FILE, MANIFEST_FILE, PACKAGE_DIR, UPDATE_TEMPLATE_FILE};

/// `--package DIR` (relative to `cwd`), else `package.path` (relative to the service
/// directory), else [`PACKAGE_DIR`] in the service directory.
pub fn output_dir(
    requested: Option<&Path>,
    service: &Service,
    service_dir: &Path,
    cwd: &Path,
) -> PathBuf {
    match (
        requested,
        service.package.as_ref().and_then(|p| p.path.as_ref()),
    ) {
        (Some(dir), _) => cwd.join(dir),
        (None, Some(path)) => service_dir.join(path),
        (None, None) => service_dir.join(PACKAGE_DIR),
    }
}

/// Creates the package directory and removes what an earlier run left there (zips, templates,
/// manifest), as v3's package cleanup does, so no stale zip is deployed. Files in `keep`
/// (prebuilt artifacts, canonical paths) stay. The service directory itself is refused before
/// anything is removed.
pub fn prepare(dir: &Path, service_dir: &Path, keep: &[PathBuf]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("Cannot create the package directory {}", dir.display()))?;
    let canonical = dir
        .canonicalize()
        .with_context(|| format!("Cannot read the package directory {}", dir.display()))?;
    if service_dir.canonicalize().ok().as_ref() == Some(&canonical) {
        return Err(PackageError::OutputIsServiceDir {
            path: dir.to_path_buf(),
        }
        .into());
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("Cannot list the package directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("Cannot list {}", dir.display()))?;
        let path = entry.path();
        if !is_ours(&entry) || path.canonicalize().is_ok_and(|p| keep.contains(&p)) {
            continue;
        }
        std::fs::remove_file(&path).with_context(|| {
            format!(
                "Cannot remove {} left by an earlier package run",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// A file a package run writes: a zip, a template or the manifest.
fn is_ours(entry: &std::fs::DirEntry) -> bool {
    let name = entry.file_name();
    let name = name.to_string_lossy();
    let ours = name.ends_with(".zip")
        || name == CREATE_TEMPLATE_FILE
        || name == UPDATE_TEMPLATE_FILE
        || name == MANIFEST_FILE;
    ours && entry.file_type().is_ok_and(|t| t.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_dir_is_refused_and_nothing_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.zip"), "x").unwrap();
        let err = prepare(dir.path(), dir.path(), &[]).unwrap_err();
        assert!(
            err.to_string().contains("is the service directory itself"),
            "{err}"
        );
        assert!(dir.path().join("keep.zip").exists());
    }

    #[test]
    fn only_our_files_go_and_kept_ones_stay() {
        let service = tempfile::tempdir().unwrap();
        let out = service.path().join(".serverless");
        std::fs::create_dir(&out).unwrap();
        for name in ["old.zip", "prebuilt.zip", MANIFEST_FILE, "notes.txt"] {
            std::fs::write(out.join(name), "x").unwrap();
        }
        let keep = [out.join("prebuilt.zip").canonicalize().unwrap()];
        prepare(&out, service.path(), &keep).unwrap();
        assert!(!out.join("old.zip").exists());
        assert!(!out.join(MANIFEST_FILE).exists());
        assert!(out.join("prebuilt.zip").exists());
        assert!(out.join("notes.txt").exists());
    }

    #[test]
    fn the_requested_dir_beats_package_path_which_beats_the_default() {
        let yaml = |extra: &str| {
            let text = format!("service: s\nprovider:\n  name: aws\n{extra}");
            Service::from_value(&serde_yaml::from_str(&text).unwrap()).unwrap()
        };
        let (svc, cwd) = (Path::new("/svc"), Path::new("/cwd"));
        let plain = yaml("");
        let with_path = yaml("package:\n  path: build\n");
        assert_eq!(
            output_dir(Some(Path::new("out")), &with_path, svc, cwd),
            Path::new("/cwd/out")
        );
        assert_eq!(
            output_dir(None, &with_path, svc, cwd),
            Path::new("/svc/build")
        );
        assert_eq!(
            output_dir(None, &plain, svc, cwd),
            Path::new("/svc/.serverless")
        );
    }
}
