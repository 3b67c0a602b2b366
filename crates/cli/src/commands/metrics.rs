//! `deployer metrics [-f NAME]`: invocations, errors, throttles and duration per function and
//! in total.

use deployer_ops::{Figures, MetricsOptions};

use crate::args::MetricsArgs;
use crate::commands::options;
use crate::ui::{CliObserver, Output};

/// Runs `deployer metrics`.
pub async fn run(out: &Output, args: MetricsArgs) -> anyhow::Result<u8> {
    let options = MetricsOptions {
        stage: options::stage(out, &args.service, &args.credentials)?,
        function: args.function.clone(),
        start_time: args.start_time.clone(),
        end_time: args.end_time.clone(),
    };
    let m = deployer_ops::metrics(&options, &CliObserver::new(out)).await?;
    if out.json {
        out.json_result(&m);
        return Ok(crate::exit::OK);
    }
    out.result(&format!("{} – {}", m.start_time, m.end_time));
    for f in m.functions.iter().chain(std::iter::once(&m.total)) {
        out.result(&line(f));
    }
    Ok(crate::exit::OK)
}

fn line(f: &Figures) -> String {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.0} ms"));
    format!(
        "{}: invocations {}, errors {}, throttles {}, duration avg {}, p99 {}",
        f.function,
        f.invocations,
        f.errors,
        f.throttles,
        ms(f.duration_avg_ms),
        ms(f.duration_p99_ms)
    )
}
