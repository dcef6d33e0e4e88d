//! The application layer: one thin file per subcommand, each a few lines over the one
//! pipeline (`pipeline.rs`: settings → plan → run or load → judge → outputs → record).
//! Only this layer starts the engine.

mod capacity;
mod check;
mod compare;
mod demo;
mod history;
mod import;
mod init;
mod pipeline;
mod progress;
mod report;
mod run;
mod saved;
mod search;

pub use capacity::capacity;
pub use check::check;
pub use compare::compare;
pub use demo::demo;
pub use history::history;
pub use import::import;
pub use init::init;
pub use report::report;
pub use run::run;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::Command;
use crate::config::{Config, Env, Source};
use crate::engine::Code;
use crate::exit::Exit;

/// Runs a parsed command line: what `perfgate` does, and a Rust test's `Test::main`
/// (with its users written in Rust as `code`).
pub fn execute(command: Command, code: Option<&Code>) -> ExitCode {
    // The environment is read here, once; settings resolve it with the flags.
    let env = Env::read();
    let outcome = match command {
        Command::Demo(args) => demo(args, &env, code),
        Command::Run(args) => run(args, &env, code),
        Command::Check(args) => check(args, &env),
        Command::Report(args) => report(args, &env),
        Command::Compare(args) => compare(args, &env),
        Command::History(args) => history(args, &env),
        Command::Init(args) => init(args),
        Command::Import(args) => import(args, &env),
        Command::Capacity(args) => capacity(args, &env, code),
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

/// The config at `path`, else ./perfgate.toml when there is one (for commands that also
/// work without a config: `report`, `compare`).
fn config_or_default(path: Option<&Path>) -> anyhow::Result<Option<(Config, Source)>> {
    let default = Path::new("perfgate.toml");
    Ok(match path {
        Some(p) => Some(Config::load(p)?),
        None if default.exists() => Some(Config::load(default)?),
        None => None,
    })
}
