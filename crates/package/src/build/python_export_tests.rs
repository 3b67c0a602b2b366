//! Tests of the requirements source decision and of the poetry and pipenv exports. The export
//! tests run fake `poetry` / `pipenv` shell scripts put on the search path: they log their
//! arguments and print or write a requirements file, so the invocation is checked without the
//! real tools.

use std::os::unix::fs::PermissionsExt;

use super::*;

const POETRY_PYPROJECT: &str = "[tool.poetry]\nname = \"x\"\n[build-system]\nrequires = [\"poetry-core>=1.0.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n";

fn options() -> PythonOptions {
    PythonOptions::parse(&serde_json::Value::Null).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn poetry_is_recognised_from_build_system() {
    assert!(is_poetry(POETRY_PYPROJECT));
    assert!(is_poetry("[build-system]\nrequires = ['poetry']\n"));
    assert!(!is_poetry("[build-system]\nrequires = [\"setuptools\"]\n"));
    assert!(!is_poetry(
        "[tool.poetry]\n[build-system]\nrequires = [\"hatchling\"]\n"
    ));
}

#[test]
fn poetry_then_pipfile_then_the_requirements_file() {
    let tmp = tempfile::tempdir().unwrap();
    let service = tmp.path();
    let module = service.join("api");
    write(service, "requirements.txt", "six\n");
    write(&module, "requirements.txt", "six\n");
    let o = options();
    assert_eq!(
        source(service, &module, &o),
        Source::File(module.join("requirements.txt"))
    );
    // A Pipfile in the service directory wins over requirements.txt.
    write(service, "Pipfile", "[packages]\nsix = \"*\"\n");
    assert_eq!(
        source(service, &module, &o),
        Source::Pipenv(service.to_path_buf())
    );
    // A pyproject.toml that is not poetry's is ignored.
    write(
        &module,
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools\"]\n",
    );
    assert_eq!(
        source(service, &module, &o),
        Source::Pipenv(service.to_path_buf())
    );
    // A poetry project in the module directory wins over both.
    write(&module, "pyproject.toml", POETRY_PYPROJECT);
    assert_eq!(source(service, &module, &o), Source::Poetry(module.clone()));
    // Each can be turned off.
    let off = PythonOptions {
        use_poetry: false,
        ..o.clone()
    };
    assert_eq!(
        source(service, &module, &off),
        Source::Pipenv(service.to_path_buf())
    );
    let off = PythonOptions {
        use_pipenv: false,
        use_poetry: false,
        ..o
    };
    assert_eq!(
        source(service, &module, &off),
        Source::File(module.join("requirements.txt"))
    );
}

#[test]
fn pipenv_versions_before_requirements_use_lock() {
    assert!(pipenv_is_legacy("pipenv, version 2022.8.5"));
    assert!(pipenv_is_legacy("pipenv, version 2021.11.23"));
    assert!(!pipenv_is_legacy("pipenv, version 2022.8.13"));
    assert!(!pipenv_is_legacy("pipenv, version 2024.4.0\n"));
}

/// A fake tool in `bin`: logs each call's arguments to `<bin>/calls`, then runs `body`.
fn fake_tool(bin: &Path, name: &str, body: &str) {
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> \"{}/calls\"\n{body}\n",
        bin.display()
    );
    let path = bin.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn calls(bin: &Path) -> Vec<String> {
    std::fs::read_to_string(bin.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn settings(tmp: &Path, bin: &Path) -> BuildSettings {
    BuildSettings {
        cache_dir: tmp.join("cache"),
        jobs: None,
        search_path: Some(bin.as_os_str().to_os_string()),
    }
}

#[test]
fn pipenv_requirements_are_exported_once_per_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let (service, bin) = (tmp.path().join("svc"), tmp.path().join("bin"));
    std::fs::create_dir_all(&bin).unwrap();
    write(&service, "Pipfile", "[packages]\nsix = \"*\"\n");
    write(&service, "Pipfile.lock", "{}\n");
    fake_tool(
        &bin,
        "pipenv",
        "case \"$1\" in --version) echo 'pipenv, version 2024.4.0';; requirements) printf -- '-i https://pypi.org/simple\\nsix==1.17.0\\n';; esac",
    );
    let s = settings(tmp.path(), &bin);
    let src = Source::Pipenv(service.clone());
    let text = export(&src, &options(), &s).unwrap();
    assert_eq!(text, "-i https://pypi.org/simple\nsix==1.17.0\n");
    assert_eq!(calls(&bin), ["--version", "requirements"]);
    // Unchanged project and lock: the export is reused, no process is started.
    assert_eq!(export(&src, &options(), &s).unwrap(), text);
    assert_eq!(calls(&bin).len(), 2);
    // No lock file: `pipenv lock` first; an old pipenv exports with `lock --requirements`.
    std::fs::remove_file(service.join("Pipfile.lock")).unwrap();
    std::fs::remove_file(bin.join("calls")).unwrap();
    fake_tool(
        &bin,
        "pipenv",
        "case \"$*\" in --version) echo 'pipenv, version 2022.1.8';; 'lock --requirements --keep-outdated') echo 'six==1.16.0';; esac",
    );
    assert_eq!(export(&src, &options(), &s).unwrap(), "six==1.16.0\n");
    assert_eq!(
        calls(&bin),
        ["--version", "lock", "lock --requirements --keep-outdated"]
    );
}

#[test]
fn poetry_export_writes_into_the_build_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let (module, bin) = (tmp.path().join("svc"), tmp.path().join("bin"));
    std::fs::create_dir_all(&bin).unwrap();
    write(&module, "pyproject.toml", POETRY_PYPROJECT);
    write(&module, "poetry.lock", "# lock\n");
    // Writes its requirements to the path after `-o`.
    fake_tool(
        &bin,
        "poetry",
        "while [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then printf 'six==1.17.0 ; python_version >= \"3.8\"\\n' > \"$2\"; fi; shift; done",
    );
    let s = settings(tmp.path(), &bin);
    let o = PythonOptions {
        poetry_without_groups: vec!["dev".into(), "test".into()],
        ..options()
    };
    let text = export(&Source::Poetry(module.clone()), &o, &s).unwrap();
    assert_eq!(text, "six==1.17.0 ; python_version >= \"3.8\"\n");
    let call = &calls(&bin)[0];
    assert!(
        call.starts_with("export --without-hashes -f requirements.txt -o ")
            && call.contains(&tmp.path().join("cache/python/export").display().to_string())
            && call.ends_with(" --without=dev,test"),
        "{call}"
    );
    assert!(
        !module.join("requirements.txt").exists(),
        "nothing is written into the project"
    );
    // Without poetry.lock and with requirePoetryLockFile, nothing runs.
    std::fs::remove_file(module.join("poetry.lock")).unwrap();
    let strict = PythonOptions {
        require_poetry_lock_file: true,
        ..options()
    };
    let err = export(&Source::Poetry(module.clone()), &strict, &s)
        .unwrap_err()
        .to_string();
    assert!(err.contains("poetry.lock is missing"), "{err}");
    assert_eq!(calls(&bin).len(), 1);
}

#[test]
fn a_missing_tool_names_it_how_to_install_it_and_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let (service, bin) = (tmp.path().join("svc"), tmp.path().join("empty-bin"));
    std::fs::create_dir_all(&bin).unwrap();
    write(&service, "Pipfile", "[packages]\n");
    write(&service, "pyproject.toml", POETRY_PYPROJECT);
    let s = settings(tmp.path(), &bin);
    let err = export(&Source::Pipenv(service.clone()), &options(), &s)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("pipenv is needed to export the requirements of"),
        "{err}"
    );
    assert!(
        err.contains("Pipfile") && err.contains("pip install --user pipenv"),
        "{err}"
    );
    assert!(
        err.contains("custom.pythonRequirements.usePipenv: false"),
        "{err}"
    );
    let err = export(&Source::Poetry(service), &options(), &s)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("poetry is needed"), "{err}");
    assert!(
        err.contains("custom.pythonRequirements.usePoetry: false"),
        "{err}"
    );
}
