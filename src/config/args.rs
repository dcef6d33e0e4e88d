//! The flags every load-running command shares, as clap parses them: what
//! [`Settings::resolve`](super::Settings::resolve) turns, with the environment, into
//! settings that know their origin.

use std::path::PathBuf;

use clap::Args;

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
    pub http: Option<super::HttpVersion>,
    /// Start the load at this time (RFC 3339, e.g. 2026-12-01T10:00:00Z), so segments run
    /// from several machines ramp together and their series line up [env: PERFGATE_START_AT]
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,
    /// Name this run, in its result: every segment of one run shares it, and `check`
    /// refuses to merge segments of different runs. Without it, the run is named by
    /// --start-at, else the CI run (GitHub Actions, GitLab CI, Jenkins) [env: PERFGATE_RUN_ID]
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
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
