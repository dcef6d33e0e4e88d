//! `perfgate check`: gate saved results (several are merged exactly).

use super::pipeline::{self, Measure, Mode};
use crate::cli::{CheckArgs, LoadArgs};
use crate::config::{Config, Env, Settings};
use crate::exit::Exit;

pub fn check(args: CheckArgs, env: &Env) -> anyhow::Result<Exit> {
    let loaded = Config::load(&args.config)?;
    let settings =
        Settings::resolve(&LoadArgs::default(), &args.output, env).map_err(anyhow::Error::msg)?;
    let measure = Measure::Saved {
        paths: &args.results,
        mixed_runs: args.mixed_runs,
    };
    let mode = Mode {
        partial: args.partial,
        ..Mode::GATE
    };
    Ok(pipeline::execute(&settings, Some(&loaded), measure, mode)?.exit)
}
