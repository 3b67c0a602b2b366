//! `deployer print`: the resolved configuration, like `serverless print`.

use deployer_ops::PrintOptions;
use deployer_ops::types::CliOptions;
use serde_json::Value;

use crate::args::{PrintArgs, PrintFormat};
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer print`.
pub async fn run(out: &Output, args: PrintArgs) -> anyhow::Result<u8> {
    let mut stage = options::stage(out, &args.service, &args.credentials)?;
    stage.service = options::service(&args.service, declared(out, &args))?;
    let options = PrintOptions {
        stage,
        path: args.path.clone(),
        offline: args.offline,
    };
    let printed = deployer_ops::print(&options, &CliObserver::new(out)).await?;
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

/// The options `print` declares, for `${opt:…}`: the common ones with `format`, `path` and
/// `offline`; the ones not given are `null`, as in v3.
fn declared(out: &Output, args: &PrintArgs) -> CliOptions {
    let mut extra = options::common(out, &args.service, &args.credentials);
    let format = match args.format {
        PrintFormat::Yaml => "yaml",
        PrintFormat::Json => "json",
    };
    extra.insert("format".into(), Value::String(format.into()));
    let path = args.path.clone().map_or(Value::Null, Value::String);
    extra.insert("path".into(), path);
    let offline = if args.offline {
        Value::Bool(true)
    } else {
        Value::Null
    };
    extra.insert("offline".into(), offline);
    CliOptions {
        extra,
        ..Default::default()
    }
}
