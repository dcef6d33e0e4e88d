//! `perfgate import`: another tool's results (JMeter, k6, Locust) as a result to gate.

use anyhow::Context as _;

use super::pipeline::writable;
use crate::cli::ImportArgs;
use crate::config::{Ci, Env};
use crate::exit::Exit;
use crate::metrics::GitInfo;
use crate::report::format::{seconds, thousands};

pub fn import(args: ImportArgs, env: &Env) -> anyhow::Result<Exit> {
    writable(&args.output)?;
    let mut result = crate::import::read(&args.log, &args.scenario).map_err(anyhow::Error::msg)?;
    result.git = GitInfo::detect(&Ci::of(env));
    match args.host {
        Some(host) => result.target = host,
        None if result.target.is_empty() => result.target = "(not recorded)".into(),
        None => {}
    }
    result
        .save(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    outln!(
        "wrote {}: {} requests on {} endpoint{} over {} (from {}); gate it with `perfgate check {}`",
        args.output.display(),
        thousands(result.total.requests),
        result.endpoints.len(),
        if result.endpoints.len() == 1 { "" } else { "s" },
        seconds(result.duration_s),
        args.log.display(),
        args.output.display()
    );
    Ok(Exit::Passed)
}
