//! perfgate: performance budgets as tests.
//!
//! A team writes its service-level objectives as a budget in `perfgate.toml`; perfgate
//! drives realistic HTTP load at the service, measures it (HdrHistograms, no coordinated
//! omission in the open model), and judges the result against the budget.
//!
//! The pipeline: [`Settings`] (flags over environment variables) and [`Config`] →
//! [`Plan`] → [`run`] → [`RunResult`] → [`evaluate`] (and a comparison with a baseline)
//! → a [`Verdict`] → reports and an exit code. The binary's subcommands are thin files
//! over one shared pipeline (README, "Architecture").
//!
//! The library's surface is what this page lists: the [`prelude`] and [`Test`] for load
//! tests written in Rust (docs/code.md); [`Config`], [`Plan`] and [`Overrides`] to plan a
//! run (with [`CodeUsers`] for users written in Rust); [`run`] and [`RunOptions`] to
//! drive it; [`RunResult`], the one report model every stage reads (and
//! [`RunResult::load`] to read a saved one); [`Budget`], [`evaluate`] and [`Verdict`] to
//! judge it; [`DemoServer`] as a target.
//!
//! ```no_run
//! use perfgate::{Config, DemoServer, Knobs, Overrides, Plan, RunOptions};
//!
//! let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
//! let (config, source) = Config::parse("perfgate.toml", perfgate::EXAMPLE_CONFIG).unwrap();
//! let overrides = Overrides { host: Some(demo.url()), duration: Some(perfgate::Dur::parse("5s").unwrap()), ..Default::default() };
//! let plan = Plan::build(&config, &source, &overrides).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let result = rt.block_on(perfgate::run(plan, RunOptions::default(), std::future::pending()));
//! assert_eq!(result.total.requests, demo.served().values().flat_map(|m| m.values()).sum::<u64>());
//! ```

#![warn(missing_docs)]

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

mod app;
mod cli;
mod code;
mod dashboard;
mod exit;
mod import;

// The layers below, reached by the integration tests and benches; not the API (the
// names above are): they may change in any release.
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod demo;
#[doc(hidden)]
pub mod engine;
#[doc(hidden)]
pub mod export;
#[doc(hidden)]
pub mod fuzz;
#[doc(hidden)]
pub mod gate;
#[doc(hidden)]
pub mod history;
#[doc(hidden)]
pub mod metrics;
#[doc(hidden)]
pub mod regress;
#[doc(hidden)]
pub mod report;

pub use code::{prelude, Class, Test};
pub use config::{CodeUsers, Config, ConfigError, Dur, Overrides, Plan, Rate, Settings};
pub use demo::{DemoServer, Knobs};
pub use engine::{run, Code, Reply, Request, RunOptions, Task, User};
pub use gate::{evaluate, Budget, Status, Verdict};
pub use metrics::{ResultError, RunResult, StopReason};

/// The `perfgate` command line (what the binary runs): parse, run, exit code.
#[doc(hidden)]
pub fn cli_main() -> std::process::ExitCode {
    use clap::Parser as _;
    app::execute(cli::Cli::parse().command, None)
}

use std::io::Write;
use std::path::Path;

/// The commented example configuration (the Locust setup's budgets, classes and scenarios);
/// `perfgate init` writes it and `perfgate demo` runs it.
pub const EXAMPLE_CONFIG: &str = include_str!("../examples/perfgate.toml");

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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
