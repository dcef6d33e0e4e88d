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

pub use capacity::capacity;
pub use check::check;
pub use compare::compare;
pub use demo::demo;
pub use history::history;
pub use import::import;
pub use init::{init, WORKFLOW};
pub use report::report;
pub use run::run;

use std::path::Path;

use crate::config::{Config, Source};

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
