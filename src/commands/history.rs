//! Baselines and history: `--baseline`, `--history`, `perfgate compare`, `perfgate history`.

use std::fmt::Write as _;

use anyhow::{bail, Context as _, Result};

use crate::cli::{CompareArgs, HistoryArgs, OutputArgs};
use crate::exit::Exit;
use crate::gate::{format_ms, Status, Verdict};
use crate::history::{Filter, RunRow, Store, DEFAULT_PATH};
use crate::metrics::{RunResult, StopReason};
use crate::regress::{self, Rules};
use crate::report::chart::{self, LineChart, Series};
use crate::report::{self, Report};

/// The store `--history` names; `--history` without a value (or reading history without
/// the flag) means PERFGATE_HISTORY, else the default file.
fn default_url() -> String {
    std::env::var("PERFGATE_HISTORY")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_string())
}

/// The store a run records into: `--history [URL]`, else PERFGATE_HISTORY, else none.
fn history_url(flag: Option<&str>) -> Option<String> {
    match flag {
        Some("") => Some(default_url()),
        Some(url) => Some(url.to_string()),
        None => std::env::var("PERFGATE_HISTORY")
            .ok()
            .filter(|v| !v.is_empty()),
    }
}

/// Opens the store a run records into, before the load, so a bad URL fails early.
pub fn open_store(o: &OutputArgs) -> Result<Option<Store>> {
    history_url(o.history.as_deref())
        .map(|url| Store::open(&url))
        .transpose()
}

/// Records the run after its reports are written; a failed write turns the exit into 2.
pub fn record(store: Option<&mut Store>, r: &RunResult, v: &Verdict, exit: Exit) -> Exit {
    let Some(store) = store else { return exit };
    let status = if r.stop == StopReason::Interrupted {
        "interrupted"
    } else {
        match v.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Inconclusive => "inconclusive",
        }
    };
    match store.record(r, status) {
        Ok(id) => {
            outln!("recorded run #{id} in {}", store.url);
            exit
        }
        Err(e) => {
            errln!("error: cannot record the run in {}: {e:#}", store.url);
            Exit::Error
        }
    }
}

/// What `--baseline` resolved to.
pub enum LoadedBaseline {
    Run(Box<RunResult>),
    /// `history:BRANCH` with no completed run of this scenario yet (a project's first
    /// runs): said in the verdict's notes, not an error.
    NoneYet(String),
}

impl LoadedBaseline {
    /// Compares `result` with the baseline, or notes why there was nothing to compare.
    pub fn apply(&self, v: Verdict, result: &RunResult, rules: &Rules, spec: &str) -> Verdict {
        match self {
            LoadedBaseline::Run(base) => {
                v.with_baseline(regress::compare(result, base, rules, spec))
            }
            LoadedBaseline::NoneYet(why) => {
                let mut v = v;
                v.notes.push(why.clone());
                v
            }
        }
    }
}

/// Reads `--baseline`: a RunResult file, or `history:BRANCH[:N]`. A baseline of another
/// scenario, or a file that is not a RunResult, is an error, never a silent pass.
pub fn load_baseline(spec: &str, scenario: &str, o: &OutputArgs) -> Result<LoadedBaseline> {
    let base = if let Some(rest) = spec.strip_prefix("history:") {
        let (branch, n) = match rest.split_once(':') {
            Some((b, n)) => (
                b,
                n.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("--baseline {spec}: N must be a positive number"))?,
            ),
            None => (rest, 5),
        };
        if branch.is_empty() {
            bail!("--baseline {spec}: name a branch, e.g. history:main");
        }
        let url = history_url(o.history.as_deref()).unwrap_or_else(default_url);
        let mut store = Store::open(&url)?;
        match store.baseline(branch, scenario, n)? {
            Some(run) => run,
            None => {
                let why = format!(
                    "no baseline yet: {} has no completed run of scenario {scenario:?} on branch {branch:?}, so nothing was compared",
                    store.url
                );
                errln!("warning: {why}");
                return Ok(LoadedBaseline::NoneYet(why));
            }
        }
    } else {
        RunResult::load(std::path::Path::new(spec)).map_err(|e| anyhow::anyhow!("baseline {e}"))?
    };
    if base.scenario.name != scenario {
        bail!(
            "the baseline {spec} is a run of scenario {:?}, this one is {scenario:?}: compare like with like",
            base.scenario.name
        );
    }
    Ok(LoadedBaseline::Run(Box::new(base)))
}

pub fn compare(args: CompareArgs) -> Result<Exit> {
    let rules = match super::config_or_default(args.config.as_deref())? {
        Some((c, s)) => Rules::from_config(&c.regression, &s)?,
        None => Rules::defaults(),
    };
    let current = RunResult::load(&args.current).map_err(anyhow::Error::msg)?;
    let output = OutputArgs {
        baseline: Some(args.baseline.display().to_string()),
        reports: args.reports.clone(),
        ..OutputArgs::default()
    };
    let reports = super::outputs(&output).map_err(anyhow::Error::msg)?;
    let spec = args.baseline.display().to_string();
    let base = match load_baseline(&spec, &current.scenario.name, &output)? {
        LoadedBaseline::Run(base) => base,
        LoadedBaseline::NoneYet(why) => {
            outln!("{why}");
            return Ok(Exit::Passed);
        }
    };
    let b = regress::compare(&current, &base, &rules, &spec);
    let verdict = Verdict {
        status: if b.regressions().next().is_some() {
            Status::Failed
        } else {
            Status::Passed
        },
        budget: "regression".into(),
        environment: current.environment.clone(),
        checks: vec![],
        alerts: vec![],
        notes: vec![],
        baseline: Some(b),
    };
    let r = Report {
        result: &current,
        verdict: &verdict,
    };
    let paint = report::table::Paint::detect();
    // The baseline block below names the baseline's commit.
    outln!("{} vs {}", args.current.display(), args.baseline.display());
    out!("{}", report::baseline_block(&r, &paint, true));
    for o in &reports {
        crate::write_atomic(&o.path, o.format.render(&r).as_bytes())
            .with_context(|| format!("cannot write {}", o.path.display()))?;
    }
    Ok(Exit::Passed)
}

pub fn history(args: HistoryArgs) -> Result<Exit> {
    let url = history_url(args.history.as_deref()).unwrap_or_else(default_url);
    if !url.contains("://") && !std::path::Path::new(&url).exists() {
        bail!("no history at {url}: record runs with `perfgate run --history` first");
    }
    let metric = args.metric.as_str();
    let pick = metric_of(metric).with_context(|| {
        format!("--metric {metric:?}: use p50, p95, p99, avg, max, rps or error_rate")
    })?;
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
    out!("{}", table(&rows));
    let values: Vec<f64> = rows.iter().map(pick).collect();
    let fmt = |v: f64| format_value(metric, v);
    outln!(
        "\n{metric} of {scope}: {}  first {}, last {}, min {}, max {}",
        chart::sparkline(&values),
        fmt(values[0]),
        fmt(values[values.len() - 1]),
        fmt(values.iter().copied().fold(f64::INFINITY, f64::min)),
        fmt(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    );
    if let Some(path) = &args.chart {
        let title = format!("{metric} of {scope} over the last {} runs", rows.len());
        let svg = LineChart {
            title: title.clone(),
            y_unit: unit(metric),
            series: vec![Series {
                name: metric.to_string(),
                color: "#2563eb",
                points: values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i as f64, *v))
                    .collect(),
            }],
            limits: vec![],
            x_labels: rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i as f64, format!("#{}", r.id)))
                .collect(),
            log_x: false,
        }
        .svg();
        let text = if path.extension().is_some_and(|e| e == "html") {
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>{svg}</body></html>\n",
                t = chart::escape(&title)
            )
        } else {
            svg
        };
        crate::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    Ok(Exit::Passed)
}

fn metric_of(m: &str) -> Option<fn(&RunRow) -> f64> {
    Some(match m {
        "p50" => |r| r.p50_ms,
        "p95" => |r| r.p95_ms,
        "p99" => |r| r.p99_ms,
        "avg" => |r| r.avg_ms,
        "max" => |r| r.max_ms,
        "rps" => |r| r.rps,
        "error_rate" => |r| r.error_rate * 100.0,
        _ => return None,
    })
}

fn unit(metric: &str) -> &'static str {
    match metric {
        "rps" => "rps",
        "error_rate" => "%",
        _ => "ms",
    }
}

fn format_value(metric: &str, v: f64) -> String {
    match metric {
        "rps" => format!("{v:.1} rps"),
        "error_rate" => format!("{v:.2}%"),
        _ => format_ms(v),
    }
}

fn table(rows: &[RunRow]) -> String {
    let mut out =
        format!(
        "{:>5}  {:<20}  {:<7}  {:<12}  {:<10}  {:<11}  {:<12}  {:>9}  {:>8}  {:>8}  {:>8}  {:>7}\n",
        "run", "started (UTC)", "commit", "branch", "scenario", "environment", "status", "requests",
        "rps", "p95 ms", "p99 ms", "errors"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>5}  {:<20}  {:<7}  {:<12}  {:<10}  {:<11}  {:<12}  {:>9}  {:>8.1}  {:>8}  {:>8}  {:>6.2}%",
            format!("#{}", r.id),
            // "2026-11-27T07:53:48.123Z" → "2026-11-27 07:53:48" (UTC, to the second).
            r.started_at.chars().take(19).collect::<String>().replace('T', " "),
            r.commit.as_deref().map_or("-".to_string(), |c| c.chars().take(7).collect()),
            r.branch.as_deref().unwrap_or("-"),
            r.scenario,
            r.environment.as_deref().unwrap_or("-"),
            r.status,
            report::thousands(r.requests),
            r.rps,
            report::ms(r.p95_ms),
            report::ms(r.p99_ms),
            r.error_rate * 100.0
        );
    }
    out
}
