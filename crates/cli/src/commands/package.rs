//! `deployer package`: artifacts, CloudFormation templates and manifest into `.serverless/`
//! (or `--package DIR`); AWS-backed variables with the stage's credentials.

use std::time::SystemTime;

use deployer_ops::{PackageOptions, PackageSummary};

use crate::args::PackageArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer package`.
pub async fn run(out: &Output, args: PackageArgs) -> anyhow::Result<u8> {
    let mut stage = options::stage(out, &args.service, &args.credentials)?;
    stage.service.ignore_plugins = args.ignore_plugins.clone();
    let options = PackageOptions {
        stage,
        out_dir: args.package.clone(),
        now: SystemTime::now(),
        offline: args.offline,
    };
    let summary = deployer_ops::package(&options, &CliObserver::new(out)).await?;
    if out.json {
        out.json_result(&summary);
    } else {
        for line in summary_lines(&summary) {
            out.result(&line);
        }
    }
    Ok(crate::exit::OK)
}

fn summary_lines(s: &PackageSummary) -> Vec<String> {
    let mut lines = vec![format!(
        "Packaged {} (stage {}, region {}, stack {}) into {}",
        s.service,
        s.stage,
        s.region,
        s.stack_name,
        s.directory.display()
    )];
    let width = s.artifacts.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for artifact in &s.artifacts {
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
    let b = &s.builds;
    if b.built + b.cached > 0 {
        lines.push(format!(
            "  builds: {} run, {} unchanged (cached)",
            b.built, b.cached
        ));
    }
    for path in s
        .templates
        .create
        .iter()
        .chain([&s.templates.update, &s.manifest])
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
