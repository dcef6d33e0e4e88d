//! Command-line arguments (clap derive structs only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

#[derive(Args, Debug, Clone, Default)]
pub struct LoadArgs {
    /// Scenario to run [env: TEST_SCENARIO]
    #[arg(long, short = 's')]
    pub scenario: Option<String>,
    /// Target base URL, e.g. http://127.0.0.1:8000 [env: TARGET_HOST]
    #[arg(long)]
    pub host: Option<String>,
    /// Virtual users (open model: max users) [env: TEST_USERS]
    #[arg(long, short = 'u')]
    pub users: Option<u64>,
    /// Users started per second
    #[arg(long)]
    pub spawn_rate: Option<f64>,
    /// How long to run, e.g. 30s, 2m [env: TEST_DURATION]
    #[arg(long, short = 'd')]
    pub duration: Option<String>,
    /// Open model: arrivals per second, e.g. 400 or 400/s or 1200/m
    #[arg(long)]
    pub rate: Option<String>,
    /// Open model: arrivals evenly spaced or at random (Poisson)
    #[arg(long, value_parser = ["uniform", "poisson"])]
    pub arrivals: Option<String>,
    /// Replace the scenario's stages: DURATION:TARGET users (closed) or arrivals per
    /// second (open), e.g. --stage 30s:100 --stage 1m:100 --stage 30s:0 (repeatable)
    #[arg(long = "stage", value_name = "DURATION:TARGET")]
    pub stages: Vec<String>,
    /// Stop after this many task iterations in total
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Judge the run by this budget set (a [budgets.NAME] table) instead of the scenario's
    /// or the environment's
    #[arg(long)]
    pub budget: Option<String>,
    /// Worker threads (default: one per core)
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run segment I of N of the load (e.g. 2/4), one per machine or CI job; `perfgate
    /// check` merges the segments' results into the whole run [env: PERFGATE_SEGMENT]
    #[arg(long, value_name = "I/N", conflicts_with_all = ["segment_index", "segments"])]
    pub segment: Option<String>,
    /// This run's segment counted from 0, as a Kubernetes Indexed Job's
    /// JOB_COMPLETION_INDEX is; with --segments N [env: PERFGATE_SEGMENT_INDEX,
    /// JOB_COMPLETION_INDEX]
    #[arg(long, value_name = "I")]
    pub segment_index: Option<u64>,
    /// How many segments the load is split into, with --segment-index (or the
    /// variables it reads) [env: PERFGATE_SEGMENTS]
    #[arg(long, value_name = "N")]
    pub segments: Option<u64>,
    /// Trust any TLS certificate the target presents (a staging service's self-made one);
    /// said loudly in the terminal and every report. Prefer `[target] ca_file`
    #[arg(long)]
    pub insecure: bool,
    /// Which HTTP: auto (HTTP/2 when TLS negotiates it), 1.1, or 2 (h2c in cleartext);
    /// over `[target] http`
    #[arg(long, value_name = "VERSION")]
    pub http: Option<crate::config::HttpVersion>,
    /// Start the load at this time (RFC 3339, e.g. 2026-12-01T10:00:00Z), so segments run
    /// from several machines ramp together and their series line up [env: PERFGATE_START_AT]
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct OutputArgs {
    /// Budget environment (development, staging, production, ...) [env: PERFGATE_ENV]
    #[arg(long = "env", short = 'e')]
    pub environment: Option<String>,
    /// Write the RunResult (JSON) here
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Write a report: FORMAT=FILE with FORMAT html, markdown, junit, json or csv (repeatable)
    #[arg(long = "report", value_name = "FORMAT=FILE")]
    pub reports: Vec<String>,
    /// Do not log failed and slow requests while running
    #[arg(long)]
    pub quiet: bool,
    /// Compare with a baseline: a RunResult file, or history:BRANCH (history:BRANCH:N) for the median of
    /// the last N runs on BRANCH (default 5) in the history store
    #[arg(long, value_name = "FILE|history:BRANCH")]
    pub baseline: Option<String>,
    /// Push live metrics while running: prometheus=URL (remote write) or influxdb=URL
    /// (v1 .../write?db=NAME, or v2 .../api/v2/write?org=O&bucket=B with INFLUX_TOKEN) (repeatable)
    #[arg(long = "export", value_name = "KIND=URL")]
    pub exports: Vec<String>,
    /// How often to push live metrics
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub export_every: String,
    /// Serve live metrics for Prometheus to scrape, e.g. 127.0.0.1:9464
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Record this run in the history: a SQLite file (default .perfgate/history.db) or a
    /// postgres:// URL [env: PERFGATE_HISTORY]
    #[arg(long, value_name = "DB", num_args = 0..=1, default_missing_value = "")]
    pub history: Option<String>,
    /// Serve a live page of the run on ADDR (e.g. 127.0.0.1:8089): charts, endpoints,
    /// objectives, fields that change its users or rate while it runs, and a button that
    /// stops it with its results written
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<String>,
    /// A token the dashboard asks before it stops or steers the run; needed to bind an
    /// address other than loopback [env: PERFGATE_DASHBOARD_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    pub dashboard_token: Option<String>,
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

/// Runs a parsed command line: what `perfgate` does, and a Rust test's `Test::main`.
pub fn execute(cli: Cli) -> std::process::ExitCode {
    use crate::{app, config::Env, exit::Exit};
    use std::io::Write as _;
    // The environment is read here, once; settings resolve it with the flags.
    let env = Env::read();
    let outcome = match cli.command {
        Command::Demo(args) => app::demo(args, &env),
        Command::Run(args) => app::run(args, &env),
        Command::Check(args) => app::check(args, &env),
        Command::Report(args) => app::report(args, &env),
        Command::Compare(args) => app::compare(args, &env),
        Command::History(args) => app::history(args, &env),
        Command::Init(args) => app::init(args),
        Command::Import(args) => app::import(args, &env),
        Command::Capacity(args) => app::capacity(args, &env),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            // A closed stderr must not turn exit 2 into a panic.
            let message = crate::report::format::cut_long_quotes(&format!("{e:#}"));
            let _ = writeln!(std::io::stderr(), "error: {message}");
            Exit::Error.into()
        }
    }
}
