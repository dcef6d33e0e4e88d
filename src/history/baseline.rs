//! `--baseline`: a saved result, or the median of a branch's last runs in the history.

use anyhow::{bail, Context as _, Result};

use super::Store;
use crate::metrics::RunResult;

/// What `--baseline` resolved to.
pub enum Loaded {
    Run(Box<RunResult>),
    /// `history:BRANCH` with no completed run of this scenario yet (a project's first
    /// runs): said beside the verdict, not an error.
    NoneYet {
        store: String,
        branch: String,
    },
}

/// Reads `--baseline`: a RunResult file, or `history:BRANCH[:N]` from the store at
/// `store_url`. A baseline of another scenario, or a file that is not a RunResult, is
/// an error, never a silent pass.
pub fn load_baseline(spec: &str, scenario: &str, store_url: &str) -> Result<Loaded> {
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
        let mut store = Store::open(store_url)?;
        match store.baseline(branch, scenario, n)? {
            Some(run) => run,
            None => {
                return Ok(Loaded::NoneYet {
                    store: store.url,
                    branch: branch.to_string(),
                })
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
    Ok(Loaded::Run(Box::new(base)))
}
