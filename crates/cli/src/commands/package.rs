//! `deployer package`: artifacts, CloudFormation templates and manifest into `.serverless/`
//! (or `--package DIR`), offline.

use std::time::SystemTime;

use serde_json::json;

use crate::args::PackageArgs;
use crate::output::Output;
use crate::packaging::{self, Build, BuildOptions};

pub fn run(out: &Output, args: PackageArgs) -> anyhow::Result<u8> {
    let source = packaging::load_source(&args.service)?;
    for warning in &source.stage.warnings {
        out.warn(warning);
    }
    let options = BuildOptions {
        out_dir: args.package.clone(),
        now: SystemTime::now(),
    };
    let build = packaging::build(
        out,
        &source,
        &options,
        &mut packaging::offline_answers("package"),
    )?;
    if out.json {
        out.json_result(&summary_json(&build));
    } else {
        for line in summary_lines(&build) {
            out.result(&line);
        }
    }
    Ok(crate::exit::OK)
}

fn summary_json(build: &Build) -> serde_json::Value {
    let m = &build.manifest;
    json!({
        "service": m.service,
        "stage": m.stage,
        "region": m.region,
        "stackName": m.stack_name,
        "directory": build.out_dir,
        "artifactDirectoryName": m.artifact_directory_name,
        "artifacts": build.package.artifacts.iter().map(|a| json!({
            "name": a.name,
            "path": a.path,
            "sha256": a.sha256_base64,
            "size": a.size,
            "functions": a.functions,
            "prebuilt": a.prebuilt,
        })).collect::<Vec<_>>(),
        "templates": {
            "create": build.create_template_path,
            "update": build.update_template_path,
        },
        "manifest": build.manifest_path,
        "templateHash": m.template_hash,
    })
}

fn summary_lines(build: &Build) -> Vec<String> {
    let m = &build.manifest;
    let mut lines = vec![format!(
        "Packaged {} (stage {}, region {}, stack {}) into {}",
        m.service,
        m.stage,
        m.region,
        m.stack_name,
        build.out_dir.display()
    )];
    let width = build
        .package
        .artifacts
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0);
    for artifact in &build.package.artifacts {
        let prebuilt = if artifact.prebuilt {
            format!(" (prebuilt: {})", artifact.path.display())
        } else {
            String::new()
        };
        lines.push(format!(
            "  {:<width$}  {:>9}  {}{prebuilt}",
            artifact.name,
            human_size(artifact.size),
            artifact.functions.join(", "),
        ));
    }
    for path in build
        .create_template_path
        .iter()
        .chain([&build.update_template_path, &build.manifest_path])
    {
        lines.push(format!("  {}", path.display()));
    }
    lines
}

/// `532 B`, `12.4 kB`, `3.1 MB` (decimal units).
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_are_readable() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1000), "1.0 kB");
        assert_eq!(human_size(12_400), "12.4 kB");
        assert_eq!(human_size(3_100_000), "3.1 MB");
        assert_eq!(human_size(5_000_000_000_000_000), "5000.0 TB");
    }
}
