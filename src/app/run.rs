//! `perfgate run`: plan the config's scenario, run it, gate it.

use super::pipeline::{self, Measure, Mode};
use crate::cli::RunArgs;
use crate::config::{Config, Env, Settings};
use crate::exit::Exit;

pub fn run(args: RunArgs, env: &Env) -> anyhow::Result<Exit> {
    let loaded = Config::load(&args.config)?;
    let settings = Settings::resolve(&args.load, &args.output, env).map_err(anyhow::Error::msg)?;
    let measure = Measure::Run { demo: false };
    Ok(pipeline::execute(&settings, Some(&loaded), measure, Mode::GATE)?.exit)
}
