//! `deployer logs -f NAME`: the function's CloudWatch Logs; `--tail` follows until Ctrl-C.
//! With `--json` and no `--tail`: one object with every event; with `--tail`: one JSON line
//! per event.

use deployer_ops::{LogLine, LogsOptions};

use crate::args::LogsArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer logs`.
pub async fn run(out: &Output, args: LogsArgs) -> anyhow::Result<u8> {
    let options = LogsOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        function: args.function.clone(),
        start_time: args.start_time.clone(),
        filter: args.filter.clone(),
        tail: args.tail,
        interval: args.interval,
    };
    let mut sink = |lines: &[LogLine]| {
        for l in lines {
            if out.json && args.tail {
                out.json_line(l);
            } else {
                out.result(&format!(
                    "{} {}\t{}",
                    l.time,
                    l.stream,
                    l.message.trim_end()
                ));
            }
        }
    };
    let observer = CliObserver::new(out);
    let run = deployer_ops::logs(&options, &observer, &mut sink);
    // Following ends with Ctrl-C (SIGINT): a normal end, exit 0.
    let logs = tokio::select! {
        logs = run => logs?,
        _ = tokio::signal::ctrl_c(), if args.tail => return Ok(crate::exit::OK),
    };
    if out.json {
        out.json_result(&logs);
    }
    Ok(crate::exit::OK)
}
