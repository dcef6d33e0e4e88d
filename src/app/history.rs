//! `perfgate history`: recorded runs and the trend of a metric.

use anyhow::{bail, Context as _};

use crate::cli::{HistoryArgs, LoadArgs, OutputArgs};
use crate::config::{Env, Settings};
use crate::exit::Exit;
use crate::history::{Filter, Store};
use crate::report::trend;

pub fn history(args: HistoryArgs, env: &Env) -> anyhow::Result<Exit> {
    let output = OutputArgs {
        history: args.history.clone(),
        ..OutputArgs::default()
    };
    let settings =
        Settings::resolve(&LoadArgs::default(), &output, env).map_err(anyhow::Error::msg)?;
    let url = settings.history_store();
    if crate::history::sqlite_path(&url).is_some_and(|p| !p.exists()) {
        bail!("no history at {url}: record runs with `perfgate run --history` first");
    }
    let name = args.metric.as_str();
    let (metric, read) = trend::metric(name)
        .with_context(|| format!("--metric {name:?}: use {}", trend::METRICS))?;
    let mut store = Store::open(&url)?;
    let rows = store.runs(&Filter {
        branch: args.branch.clone(),
        scenario: args.scenario.clone(),
        environment: args.environment.clone(),
        endpoint: args.endpoint.clone(),
        limit: args.limit,
    })?;
    let scope = args.endpoint.as_deref().unwrap_or("the whole run");
    if rows.is_empty() {
        outln!("no runs in {} match (endpoint {scope})", store.url);
        return Ok(Exit::Passed);
    }
    out!("{}", trend::table(&rows));
    let values: Vec<f64> = rows.iter().map(read).collect();
    outln!("\n{}", trend::summary(name, metric, scope, &values));
    if let Some(path) = &args.chart {
        let html = path.extension().is_some_and(|e| e == "html");
        let text = trend::drawing(name, metric, scope, &rows, &values, html);
        crate::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    Ok(Exit::Passed)
}
