//! perfgate: performance budgets as tests.
//!
//! A team writes its service-level objectives as a budget in `perfgate.toml`; perfgate
//! drives realistic HTTP load at the service, measures it (HdrHistograms, no coordinated
//! omission in the open model), and judges the result against the budget.
//!
//! The pipeline: [`config::Settings`] (flags over environment variables) and
//! [`config::Config`] → [`config::Plan`] → [`engine::run`] → [`metrics::RunResult`] →
//! [`gate::evaluate`] (with [`regress::compare`] against a baseline) → a
//! [`gate::Verdict`] → [`report`]s and an [`exit::Exit`] code. The binary's subcommands
//! are thin files in [`app`] over one shared pipeline.
//!
//! The library's surface, re-exported here: [`Config`], [`Settings`], [`Plan`] and
//! [`Overrides`] to plan a run; [`run`] and [`RunOptions`] to drive it; [`RunResult`],
//! the one report model every stage reads; [`Budget`], [`evaluate`] and [`Verdict`] to
//! judge it; [`DemoServer`] as a target. The modules stay public for what the
//! integration tests and the binary reach into, but these are the names to build on.
//!
//! ```no_run
//! use perfgate::{Config, DemoServer, Knobs, Overrides, Plan, RunOptions};
//!
//! let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
//! let (config, source) = Config::parse("perfgate.toml", perfgate::EXAMPLE_CONFIG).unwrap();
//! let overrides = Overrides { host: Some(demo.url()), duration: Some(perfgate::config::Dur::parse("5s").unwrap()), ..Default::default() };
//! let plan = Plan::build(&config, &source, &overrides).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let result = rt.block_on(perfgate::run(plan, RunOptions::default(), std::future::pending()));
//! assert_eq!(result.total.requests, demo.served().values().flat_map(|m| m.values()).sum::<u64>());
//! ```

/// `println!` that shrugs off a closed stdout (`perfgate run | head`): the result files,
/// the reports and the exit code matter more than the terminal's copy.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that shrugs off a closed stdout, as `outln!`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that shrugs off a closed stderr (`perfgate run 2>&1 | head`), as `outln!`.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod app;
pub mod cli;
pub mod code;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod engine;
pub mod exit;
pub mod export;
#[doc(hidden)]
pub mod fuzz;
pub mod gate;
pub mod history;
pub mod import;
pub mod metrics;
pub mod regress;
pub mod report;

pub use code::{prelude, Test};
pub use config::{Config, Overrides, Plan, Settings};
pub use demo::{DemoServer, Knobs};
pub use engine::{run, RunOptions};
pub use gate::{evaluate, Budget, Verdict};
pub use metrics::RunResult;

use std::io::Write;
use std::path::Path;

/// The commented example configuration (the Locust setup's budgets, classes and scenarios);
/// `perfgate init` writes it and `perfgate demo` runs it.
pub const EXAMPLE_CONFIG: &str = include_str!("../examples/perfgate.toml");

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("output path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
