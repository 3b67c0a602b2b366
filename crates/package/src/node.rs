//! Node's `node_modules` lookup, shared by the builders and the plugin host.

use std::path::{Path, PathBuf};

/// The first `<dir>/node_modules/<relative>` that exists, trying `start_dir` and then each of
/// its ancestors up to the filesystem root, as Node resolves a package (`nodeModulePaths`).
///
/// npm, yarn and pnpm workspaces hoist packages to the monorepo's root `node_modules`, where
/// a service folder's own lookup would miss them. A relative `start_dir` is made absolute
/// against the current directory first; folders named `node_modules` are skipped, as Node
/// does. Example: `find_in_node_modules(service_dir, ".bin/esbuild")`.
pub fn find_in_node_modules(start_dir: &Path, relative: impl AsRef<Path>) -> Option<PathBuf> {
    let start = std::path::absolute(start_dir).ok()?;
    start
        .ancestors()
        .filter(|dir| dir.file_name().is_none_or(|name| name != "node_modules"))
        .map(|dir| dir.join("node_modules").join(relative.as_ref()))
        .find(|candidate| candidate.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
    }

    #[test]
    fn a_hoisted_package_is_found_in_an_ancestor() {
        let repo = tempfile::tempdir().unwrap();
        let service = repo.path().join("packages/orders");
        std::fs::create_dir_all(&service).unwrap();
        let hoisted = repo.path().join("node_modules/.bin/esbuild");
        touch(&hoisted);
        assert_eq!(
            find_in_node_modules(&service, ".bin/esbuild"),
            Some(hoisted)
        );
    }

    #[test]
    fn the_nearest_node_modules_wins() {
        let repo = tempfile::tempdir().unwrap();
        let service = repo.path().join("packages/orders");
        touch(&repo.path().join("node_modules/.bin/esbuild"));
        let own = service.join("node_modules/.bin/esbuild");
        touch(&own);
        assert_eq!(find_in_node_modules(&service, ".bin/esbuild"), Some(own));
    }

    #[test]
    fn a_node_modules_folder_is_not_searched_inside_itself() {
        let repo = tempfile::tempdir().unwrap();
        let package = repo.path().join("node_modules/plugin");
        std::fs::create_dir_all(&package).unwrap();
        touch(&repo.path().join("node_modules/node_modules/x/package.json"));
        assert_eq!(find_in_node_modules(&package, "x/package.json"), None);
    }

    #[test]
    fn nothing_installed_is_none() {
        let repo = tempfile::tempdir().unwrap();
        let name = "deployer-test-no-such-package-4f1c/package.json";
        assert_eq!(find_in_node_modules(repo.path(), name), None);
    }
}
