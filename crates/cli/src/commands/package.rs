//! `deployer package`: offline. Zips the code and writes v3's templates
//! (`cloudformation-template-{create,update}-stack.json`) plus a manifest of artifact hashes
//! and the S3 directory into `.serverless/` (or `--package DIR`), for `up --package DIR`.

use anyhow::Context;
use deployer_config::LoadOptions;
use serde_json::json;

use crate::args::PackageArgs;
use crate::commands::prepare;
use crate::output::Output;

pub fn run(out: &Output, args: PackageArgs) -> anyhow::Result<u8> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let file = deployer_config::load(&LoadOptions {
        config: args.service.config.clone(),
        cwd,
    })?;
    let mut offline = prepare::offline("package");
    let resolved = prepare::resolve(out, &file, &args.service, &mut offline)?;
    let dir = args
        .package
        .clone()
        .unwrap_or_else(|| prepare::default_dir(&file));
    let built = prepare::build(&file, &resolved, &dir)?;
    let m = &built.manifest;
    if out.json {
        out.json_result(&json!({
            "service": m.service,
            "stage": m.stage,
            "region": m.region,
            "directory": dir.display().to_string(),
            "artifactDirectoryName": m.artifact_directory_name,
            "templateHash": m.template_hash,
            "artifacts": m.artifacts,
        }));
        return Ok(crate::exit::OK);
    }
    out.result(&format!(
        "Packaged {} for stage {} ({}) into {}",
        m.service,
        m.stage,
        m.region,
        dir.display()
    ));
    for a in &m.artifacts {
        out.result(&format!(
            "  {} ({} bytes, sha256 {})",
            a.name, a.size, a.sha256
        ));
    }
    Ok(crate::exit::OK)
}
