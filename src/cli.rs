//! Command-line arguments (clap derive structs only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::config::{LoadArgs, OutputArgs};

#[derive(Parser, Debug)]
#[command(
    name = "perfgate",
    version,
    about = "Performance budgets as tests: load, measure, and fail the build when the budget breaks."
)]
#[command(
    after_help = "Exit codes: 0 every objective held; 1 a budget failed, had no data, or the run was inconclusive; 2 perfgate could not do its job; 3 interrupted (partial results written)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The command line of a load test written in Rust (`perfgate::Test`): perfgate's, with
/// `run` when no subcommand is named.
#[derive(Parser, Debug)]
#[command(
    name = "perfgate",
    version,
    about = "A load test written in Rust, run by perfgate: `run` unless another command is named.",
    args_conflicts_with_subcommands = true
)]
pub struct TestCli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the embedded Proof Messenger service and gate a short load against it.
    Demo(DemoArgs),
    /// Run a load test from perfgate.toml and gate it against its budget.
    Run(RunArgs),
    /// Gate saved results (several are merged exactly) against a budget.
    Check(CheckArgs),
    /// Render a self-contained HTML report from saved results (exit 0 whatever the verdict).
    Report(ReportArgs),
    /// Compare a result with a baseline (report only: exit 0 whatever changed).
    Compare(CompareArgs),
    /// List recorded runs and the trend of a metric.
    History(HistoryArgs),
    /// Write a commented perfgate.toml and a GitHub Actions workflow.
    Init(InitArgs),
    /// Turn another tool's results (JMeter JTL CSV, k6 JSON, Locust JSON) into a result to gate.
    Import(ImportArgs),
    /// Find the highest open-model rate at which the budget holds (steps of offered rate,
    /// raised until the budget breaks, then bisected).
    Capacity(CapacityArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The config file
    #[arg(long, short = 'c', default_value = "perfgate.toml")]
    pub config: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Only serve the demo API on this address (e.g. 127.0.0.1:8000) until stopped
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<String>,
    /// Make the service slow and flaky so the budget fails (exit 1)
    #[arg(long)]
    pub degrade: bool,
    /// Serve over TLS (HTTP/2 and HTTP/1.1 by ALPN), with a certificate made at start
    /// for localhost and 127.0.0.1 (written beside --serve's output; the run trusts it)
    #[arg(long)]
    pub tls: bool,
    /// Added latency on an endpoint: PATH=DURATION, e.g. /api/verify-proof=50ms (repeatable)
    #[arg(long, value_name = "PATH=DURATION")]
    pub latency: Vec<String>,
    /// Random extra latency up to: PATH=DURATION (repeatable)
    #[arg(long, value_name = "PATH=DURATION")]
    pub jitter: Vec<String>,
    /// Fraction of requests failed with 503: PATH=PERCENT, e.g. /health=5% (repeatable; PATH * for all)
    #[arg(long, value_name = "PATH=PERCENT")]
    pub error_rate: Vec<String>,
    /// Freeze every response for FREEZE once every EVERY, e.g. 1s/5s
    #[arg(long, value_name = "FREEZE/EVERY")]
    pub stall: Option<String>,
    /// Serve at most RATE requests a second, one at a time; beyond it requests queue
    /// (e.g. 300/s), for `perfgate capacity` to find
    #[arg(long, value_name = "RATE")]
    pub capacity: Option<String>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Saved results (RunResult JSON), or directories of them (every *.json in them and their folders);
    /// several are merged exactly
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// The config file holding the budgets
    #[arg(long, short = 'c', default_value = "perfgate.toml")]
    pub config: PathBuf,
    /// Judge one segment's result (or an incomplete set) by itself instead of calling it
    /// inconclusive; every report says it was partial
    #[arg(long)]
    pub partial: bool,
    /// Merge segments of different runs (their run ids differ, or without ids they did
    /// not run at the same time), which is refused otherwise
    #[arg(long)]
    pub mixed_runs: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct CapacityArgs {
    #[arg(long, short = 'c', default_value = "perfgate.toml")]
    pub config: PathBuf,
    #[command(flatten)]
    pub search: SearchArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `perfgate capacity` flags change of the scenario's `search = { ... }`.
#[derive(Args, Debug, Clone, Default)]
pub struct SearchArgs {
    /// The first rate offered, e.g. 50/s
    #[arg(long, value_name = "RATE")]
    pub start: Option<String>,
    /// The highest rate offered (default: 1000 × start)
    #[arg(long, value_name = "RATE")]
    pub max: Option<String>,
    /// How long each step holds its rate after its warm-up (default 30s)
    #[arg(long, value_name = "DURATION")]
    pub step: Option<String>,
    /// The start of each step left out of its judgement (default 5s)
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<String>,
    /// How much each step raises the rate before one fails (default 2)
    #[arg(long)]
    pub factor: Option<f64>,
    /// Bisect until the failing rate is within this of the one that held (default 5%)
    #[arg(long, value_name = "PERCENT")]
    pub precision: Option<String>,
    /// Exit 1 unless the capacity found is at least this rate
    #[arg(long, value_name = "RATE")]
    pub require: Option<String>,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write perfgate.toml and .github/workflows/performance-budget.yml
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The new result (RunResult JSON)
    pub current: PathBuf,
    /// The baseline result (RunResult JSON)
    pub baseline: PathBuf,
    /// The config holding the regression rules (default: ./perfgate.toml if present, else
    /// the Locust setup's p99 +10% and rps -10%)
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Write a report: FORMAT=FILE with FORMAT html, markdown, junit, json or csv (repeatable)
    #[arg(long = "report", value_name = "FORMAT=FILE")]
    pub reports: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The log: a JMeter JTL in CSV with a header row, k6's `--out json=FILE`, or
    /// Locust's `--json-file NAME` (NAME.json; with `--csv NAME`, its failures and users
    /// are read too)
    pub log: PathBuf,
    /// The target the load went to, when the log does not say (Locust's does not)
    #[arg(long)]
    pub host: Option<String>,
    /// Where to write the RunResult (JSON)
    #[arg(long, short = 'o', default_value = "result.json")]
    pub output: PathBuf,
    /// The scenario name the result carries (budgets and history use it)
    #[arg(long, short = 's', default_value = "imported")]
    pub scenario: String,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The history store: a SQLite file or a postgres:// URL [env: PERFGATE_HISTORY]
    #[arg(long, value_name = "DB")]
    pub history: Option<String>,
    /// Only runs on this branch
    #[arg(long, short = 'b')]
    pub branch: Option<String>,
    /// Only runs of this scenario
    #[arg(long, short = 's')]
    pub scenario: Option<String>,
    /// Only runs judged in this environment
    #[arg(long = "env", short = 'e')]
    pub environment: Option<String>,
    /// The endpoint whose trend to show (default: the whole run)
    #[arg(long)]
    pub endpoint: Option<String>,
    /// The metric to trend: p50, p95, p99, avg, max, rps or error_rate
    #[arg(long, default_value = "p99")]
    pub metric: String,
    /// How many of the newest runs
    #[arg(long, short = 'n', default_value_t = 20)]
    pub limit: u32,
    /// Also draw the trend to this file (.svg, or .html for a page around it)
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Saved results (RunResult JSON); several are merged exactly
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Where to write the HTML
    #[arg(long, short = 'o', default_value = "report.html")]
    pub output: PathBuf,
    /// The config whose budget judges the results (default: ./perfgate.toml if present)
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Budget environment [env: PERFGATE_ENV]
    #[arg(long = "env", short = 'e')]
    pub environment: Option<String>,
    /// Show deltas against this baseline (a RunResult file or history:BRANCH)
    #[arg(long, value_name = "FILE|history:BRANCH")]
    pub baseline: Option<String>,
}
