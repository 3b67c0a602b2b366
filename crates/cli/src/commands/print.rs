//! `deployer print`: the resolved configuration, like `serverless print`.

use deployer_ops::PrintOptions;
use deployer_ops::types::CliOptions;
use serde_json::Value;

use crate::args::{PrintArgs, PrintFormat};
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer print`.
pub fn run(out: &Output, args: PrintArgs) -> anyhow::Result<u8> {
    let mut stage = options::stage(out, &args.service, &args.credentials)?;
    stage.service = options::service(&args.service, declared(out, &args))?;
    let options = PrintOptions {
        stage,
        path: args.path.clone(),
        offline: args.offline,
    };
    let printed = deployer_ops::print(&options, &CliObserver::new(out))?;
    if out.json {
        out.json_result(&printed);
        return Ok(crate::exit::OK);
    }
    let text = match args.format {
        PrintFormat::Json => serde_json::to_string_pretty(&printed)?,
        PrintFormat::Yaml => serde_yaml::to_string(&printed)?,
    };
    out.result(text.trim_end());
    Ok(crate::exit::OK)
}

/// The options `print` declares, for `${opt:…}`: the ones not given are `null`, as in v3.
fn declared(out: &Output, args: &PrintArgs) -> CliOptions {
    let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
    let flag = |on: bool| if on { Value::Bool(true) } else { Value::Null };
    let format = match args.format {
        PrintFormat::Yaml => "yaml",
        PrintFormat::Json => "json",
    };
    let extra = [
        (
            "config",
            text(
                args.service
                    .config
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
        ),
        ("format", Value::String(format.into())),
        ("path", text(args.path.clone())),
        ("json", flag(out.json)),
        ("verbose", flag(out.verbose)),
    ];
    CliOptions {
        extra: extra.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ..Default::default()
    }
}
