//! `deployer-manifest.json`: what a package directory holds, written by [`crate::package()`]
//! and checked by [`read`] before the directory is deployed.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use deployer_package::Artifact;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::defaults::{CREATE_TEMPLATE_FILE, MANIFEST_FILE, MANIFEST_FORMAT, UPDATE_TEMPLATE_FILE};
use crate::errors::{OpError, OpErrorKind};

/// `deployer-manifest.json`: what a package directory holds, checked before it is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Layout version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// `service:` name.
    pub service: String,
    /// The stage packaged for.
    pub stage: String,
    /// The region packaged for.
    pub region: String,
    /// The CloudFormation stack name.
    pub stack_name: String,
    /// The S3 directory of this deployment (`serverless/<service>/<stage>/<ms>-<ISO 8601>`).
    pub artifact_directory_name: String,
    /// `${sls:instanceId}` of the run (the `ApiGatewayDeployment` suffix).
    pub instance_id: String,
    /// Every artifact to upload.
    pub artifacts: Vec<ManifestArtifact>,
    /// v3's normalized hash of the update template (change detection).
    pub template_hash: String,
    /// When the package was built (RFC 3339, UTC).
    pub created_at: String,
}

/// One artifact of a [`Manifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestArtifact {
    /// File name, also the S3 object name.
    pub name: String,
    /// base64 SHA-256 of the file (Lambda's `CodeSha256`).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Keys of the functions that use it.
    pub functions: Vec<String>,
    /// For a prebuilt `artifact` outside the package directory: its absolute path. Absent for
    /// files in the package directory (found by `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// The manifest entry of an artifact: by name in the package directory, else by path.
pub(crate) fn manifest_artifact(artifact: &Artifact, out_dir: &Path) -> ManifestArtifact {
    let in_dir = artifact.path.parent() == Some(out_dir)
        || artifact
            .path
            .canonicalize()
            .ok()
            .zip(out_dir.join(&artifact.name).canonicalize().ok())
            .is_some_and(|(a, b)| a == b);
    let path = if in_dir {
        None
    } else {
        Some(
            artifact
                .path
                .canonicalize()
                .unwrap_or_else(|_| artifact.path.clone()),
        )
    };
    ManifestArtifact {
        name: artifact.name.clone(),
        sha256: artifact.sha256_base64.clone(),
        size: artifact.size,
        functions: artifact.functions.clone(),
        path,
    }
}

/// Pretty JSON with 2-space indent and no trailing newline, as v3's `JSON.stringify(x, null, 2)`.
pub(crate) fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).with_context(|| format!("Cannot write {}", path.display()))
}

/// `at` as RFC 3339 (UTC).
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// A package directory read back by [`read`].
#[derive(Debug, Clone)]
pub struct PackageDir {
    /// The package directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The core template, when the package has one.
    pub create_template: Option<Value>,
    /// The full template.
    pub update_template: Value,
    /// The artifacts, checked against the manifest (path, hash, size).
    pub artifacts: Vec<Artifact>,
}

/// Reads a package directory written by [`crate::package()`] for deployment, and checks that it was built
/// for this service, stage and region, that the update template is the one packaged, and that
/// every artifact exists with the listed hash and size.
pub fn read(dir: &Path, service: &str, stage: &str, region: &str) -> anyhow::Result<PackageDir> {
    let manifest = read_manifest(dir, service, stage, region)?;
    let manifest_path = dir.join(MANIFEST_FILE);
    let read_template = |name: &str| -> anyhow::Result<Value> {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("Cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
    };
    let update_template = read_template(UPDATE_TEMPLATE_FILE)?;
    if deployer_template::normalized_template_hash(&update_template) != manifest.template_hash {
        return Err(package_dir(format!(
            "{} was changed after it was packaged (its hash differs from {}); run `deployer \
             package` again",
            dir.join(UPDATE_TEMPLATE_FILE).display(),
            manifest_path.display()
        )));
    }
    let create_template = if dir.join(CREATE_TEMPLATE_FILE).is_file() {
        Some(read_template(CREATE_TEMPLATE_FILE)?)
    } else {
        None
    };
    let artifacts = read_artifacts(dir, &manifest)?;
    Ok(PackageDir {
        dir: dir.to_path_buf(),
        manifest,
        create_template,
        update_template,
        artifacts,
    })
}

/// The manifest of `dir`, checked for its format and for the service, stage and region.
fn read_manifest(dir: &Path, service: &str, stage: &str, region: &str) -> anyhow::Result<Manifest> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        package_dir(format!(
            "Cannot read {} ({e}); is {} a directory written by `deployer package --package DIR`?",
            manifest_path.display(),
            dir.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        package_dir(format!(
            "{} is not a deployer manifest ({e}); run `deployer package` again",
            manifest_path.display()
        ))
    })?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(package_dir(format!(
            "{} has manifest format {}, this deployer reads format {MANIFEST_FORMAT}; run \
             `deployer package` again",
            manifest_path.display(),
            manifest.format
        )));
    }
    for (what, packaged, wanted) in [
        ("service", &manifest.service, service),
        ("stage", &manifest.stage, stage),
        ("region", &manifest.region, region),
    ] {
        if packaged != wanted {
            return Err(package_dir(format!(
                "The package in {} was built for {what} \"{packaged}\", not \"{wanted}\"; run \
                 `deployer package --stage {stage} --package {}` first",
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(manifest)
}

/// The artifacts the manifest lists, each checked for its hash and size.
fn read_artifacts(dir: &Path, manifest: &Manifest) -> anyhow::Result<Vec<Artifact>> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut artifacts = Vec::with_capacity(manifest.artifacts.len());
    for listed in &manifest.artifacts {
        let (path, prebuilt) = match &listed.path {
            Some(path) => (path.clone(), true),
            None => (dir.join(&listed.name), false),
        };
        let sha = deployer_package::sha256_base64_file(&path).with_context(|| {
            format!(
                "Cannot read artifact {} listed in {}",
                path.display(),
                manifest_path.display()
            )
        })?;
        let size = std::fs::metadata(&path)
            .with_context(|| format!("Cannot read artifact {}", path.display()))?
            .len();
        if sha != listed.sha256 || size != listed.size {
            return Err(package_dir(format!(
                "Artifact {} changed after it was packaged (SHA-256 {sha}, {size} bytes; the \
                 manifest lists {}, {} bytes); run `deployer package` again",
                path.display(),
                listed.sha256,
                listed.size
            )));
        }
        artifacts.push(Artifact {
            name: listed.name.clone(),
            path,
            sha256_base64: sha,
            size,
            functions: listed.functions.clone(),
            prebuilt,
        });
    }
    Ok(artifacts)
}

/// A package directory that cannot be deployed as it is.
fn package_dir(message: String) -> anyhow::Error {
    OpError::error(OpErrorKind::PackageDir, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_with_camel_case_keys() {
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            service: "svc".into(),
            stage: "dev".into(),
            region: "eu-west-1".into(),
            stack_name: "svc-dev".into(),
            artifact_directory_name: "serverless/svc/dev/1-x".into(),
            instance_id: "1".into(),
            artifacts: vec![ManifestArtifact {
                name: "svc.zip".into(),
                sha256: "abc=".into(),
                size: 3,
                functions: vec!["hello".into()],
                path: None,
            }],
            template_hash: "h".into(),
            created_at: rfc3339(SystemTime::UNIX_EPOCH),
        };
        let text = serde_json::to_string(&manifest).unwrap();
        for key in [
            "\"stackName\"",
            "\"artifactDirectoryName\"",
            "\"templateHash\"",
        ] {
            assert!(text.contains(key), "{text}");
        }
        assert!(
            !text.contains("\"path\""),
            "no path for a file in the directory"
        );
        assert_eq!(manifest.created_at, "1970-01-01T00:00:00Z");
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), manifest);
    }

    #[test]
    fn another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"format":2,"service":"s","stage":"d","region":"r","stackName":"s-d",
            "artifactDirectoryName":"a","instanceId":"1","artifacts":[],"templateHash":"h",
            "createdAt":"c"}"#;
        std::fs::write(dir.path().join(MANIFEST_FILE), text).unwrap();
        let err = read(dir.path(), "s", "d", "r").unwrap_err().to_string();
        assert!(err.contains("manifest format 2"), "{err}");
    }
}
