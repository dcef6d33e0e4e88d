//! `perfgate report`: a self-contained HTML page from saved results, exit 0 whatever the
//! verdict.

use super::pipeline::{self, Measure, Mode, Show};
use crate::cli::{LoadArgs, OutputArgs, ReportArgs};
use crate::config::{Env, Settings};
use crate::exit::Exit;

pub fn report(args: ReportArgs, env: &Env) -> anyhow::Result<Exit> {
    let config = super::config_or_default(args.config.as_deref())?;
    let output = OutputArgs {
        environment: args.environment.clone(),
        baseline: args.baseline.clone(),
        reports: vec![format!("html={}", args.output.display())],
        ..OutputArgs::default()
    };
    let settings =
        Settings::resolve(&LoadArgs::default(), &output, env).map_err(anyhow::Error::msg)?;
    let mode = Mode {
        budget: true,
        show: Show::Nothing,
        gate: false,
        record: false,
        partial: false,
    };
    let judged = pipeline::execute(
        &settings,
        config.as_ref(),
        Measure::Saved {
            paths: &args.results,
            mixed_runs: false,
        },
        mode,
    )?;
    if judged.exit == Exit::Passed {
        outln!(
            "wrote {} ({:?})",
            args.output.display(),
            judged.verdict.status
        );
    }
    Ok(judged.exit)
}
