//! `perfgate capacity`: the pipeline's search measure (see `search.rs`) on the config's
//! scenario with `search` (the only one, when `--scenario` names none).

use super::pipeline::{self, Measure, Mode};
use crate::cli::CapacityArgs;
use crate::config::{Config, Env, Settings};
use crate::engine::Code;
use crate::exit::Exit;

pub fn capacity(args: CapacityArgs, env: &Env, code: Option<&Code>) -> anyhow::Result<Exit> {
    let loaded = Config::load(&args.config)?;
    let settings = Settings::resolve(&args.load, &args.output, env).map_err(anyhow::Error::msg)?;
    let measure = Measure::Search {
        flags: &args.search,
        code,
    };
    Ok(pipeline::execute(&settings, Some(&loaded), measure, Mode::GATE)?.exit)
}
