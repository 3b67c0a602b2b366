//! `deployer watch --stage S [-f NAME]...`: one line on stdout per shipped change (the
//! functions and the time from save to live; with `--json` one JSON object a line); Ctrl-C
//! ends it with exit 0. A production stage asks first (`--yes` without a terminal).

use deployer_ops::{Confirmation, Shipped, WatchOptions};

use crate::args::WatchArgs;
use crate::commands::options;
use crate::ui::{self, CliObserver, Output};

/// Runs `deployer watch`.
pub async fn run(out: &Output, args: WatchArgs) -> anyhow::Result<u8> {
    let confirmation = if args.yes {
        Confirmation::Given
    } else if out.interactive {
        Confirmation::Ask(&ui::confirm_watch)
    } else {
        Confirmation::Unavailable
    };
    let options = WatchOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        functions: args.functions.clone(),
        confirmation,
    };
    let observer = CliObserver::new(out);
    let mut report = |s: &Shipped| show(out, s);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let result = deployer_ops::watch(&options, &observer, &mut report, stop).await;
    observer.finish();
    result?;
    Ok(crate::exit::OK)
}

fn show(out: &Output, s: &Shipped) {
    if out.json {
        out.json_line(s);
        return;
    }
    let secs = s.millis as f64 / 1000.0;
    match s.kind {
        "watching" => out.progress(&format!(
            "Watching {} (Ctrl-C to stop)",
            s.files
                .first()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )),
        "up" => out.result(&format!(
            "✔ configuration changed: stage deployed ({secs:.2}s)"
        )),
        "functions" => out.result(&format!("✔ {} live ({secs:.2}s)", s.functions.join(", "))),
        _ => out.detail(&format!("no function changed ({secs:.2}s)")),
    }
}
