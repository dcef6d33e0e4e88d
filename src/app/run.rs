//! `perfgate run`: plan the config's scenario, run it, gate it (or, for a scenario with
//! `search`, find its capacity).

use super::pipeline::{self, Measure, Mode};
use crate::cli::RunArgs;
use crate::config::{Config, Env, Settings};
use crate::engine::Code;
use crate::exit::Exit;

pub fn run(args: RunArgs, env: &Env, code: Option<&Code>) -> anyhow::Result<Exit> {
    let loaded = Config::load(&args.config)?;
    let settings = Settings::resolve(&args.load, &args.output, env).map_err(anyhow::Error::msg)?;
    // A scenario that searches for capacity runs its steps (the seed's `capacity`).
    let wanted = settings.scenario.as_ref().map(|s| s.value.as_str());
    let search = crate::cli::SearchArgs::default();
    let measure = match crate::config::scenario_search(&loaded.0, wanted) {
        Ok((_, Some(_))) => Measure::Search {
            flags: &search,
            code,
        },
        _ => Measure::Run { demo: false, code },
    };
    let segmented = settings.segment.as_ref().is_some_and(|s| s.value.count > 1);
    let exit = pipeline::execute(&settings, Some(&loaded), measure, Mode::GATE)?.exit;
    // A segment's share can neither pass nor fail a budget: its job has done its work
    // once its result is written; `perfgate check` gates every segment together.
    Ok(match exit {
        Exit::Failed if segmented => Exit::Passed,
        other => other,
    })
}
