//! `perfgate init`: a commented perfgate.toml and a GitHub Actions workflow.

use anyhow::Context as _;

use crate::cli::InitArgs;
use crate::exit::Exit;

/// The workflow `perfgate init` writes.
pub const WORKFLOW: &str = include_str!("../../examples/performance-budget.yml");

pub fn init(args: InitArgs) -> anyhow::Result<Exit> {
    let files = [
        (args.dir.join("perfgate.toml"), crate::EXAMPLE_CONFIG),
        (
            args.dir.join(".github/workflows/performance-budget.yml"),
            WORKFLOW,
        ),
    ];
    if !args.force {
        if let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
            anyhow::bail!(
                "{} already exists; pass --force to overwrite it",
                p.display()
            );
        }
    }
    for (path, text) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    outln!("next: set [target] host in perfgate.toml, then `perfgate run --scenario smoke`");
    Ok(Exit::Passed)
}
