//! `perfgate compare`: a result against a baseline, report only (exit 0 whatever changed).

use super::pipeline::{self, Measure, Mode, Show};
use crate::cli::{CompareArgs, LoadArgs, OutputArgs};
use crate::config::{Env, Settings};
use crate::exit::Exit;

pub fn compare(args: CompareArgs, env: &Env) -> anyhow::Result<Exit> {
    let config = super::config_or_default(args.config.as_deref())?;
    let output = OutputArgs {
        baseline: Some(args.baseline.display().to_string()),
        reports: args.reports.clone(),
        ..OutputArgs::default()
    };
    let settings =
        Settings::resolve(&LoadArgs::default(), &output, env).map_err(anyhow::Error::msg)?;
    let mode = Mode {
        budget: false,
        show: Show::Baseline,
        gate: false,
        record: false,
        partial: false,
    };
    // The baseline block below names the baseline's commit.
    outln!("{} vs {}", args.current.display(), args.baseline.display());
    let current = [args.current];
    Ok(pipeline::execute(
        &settings,
        config.as_ref(),
        Measure::Saved {
            paths: &current,
            mixed_runs: false,
        },
        mode,
    )?
    .exit)
}
