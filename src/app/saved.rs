//! Saved results as the pipeline's input (`perfgate check`, `report`, `compare`): files
//! and folders of them, read and merged exactly.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::metrics::RunResult;

/// Loads and merges saved results; a directory stands for the `*.json` files in it and
/// its folders (the volume a Kubernetes Job's segments write to, a CI's artifacts).
/// Segments of different runs are refused, naming the files, unless `mixed_runs`.
pub(super) fn load(paths: &[PathBuf], mixed_runs: bool) -> anyhow::Result<RunResult> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let before = files.len();
            files.extend(json_files(p).with_context(|| format!("{}", p.display()))?);
            anyhow::ensure!(
                files.len() > before,
                "{}: no results (*.json) in it",
                p.display()
            );
        } else {
            files.push(p.clone());
        }
    }
    let results = files
        .iter()
        .map(|p| RunResult::load(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    if !mixed_runs {
        if let Err(apart) = crate::metrics::same_run(&results) {
            anyhow::bail!(
                "{} and {} are segments of different runs ({}): gate the segments of one run, or merge them anyway with `perfgate check --mixed-runs`",
                files[apart.first].display(),
                files[apart.second].display(),
                apart.why
            );
        }
    }
    crate::metrics::merge_any(results).map_err(anyhow::Error::msg)
}

/// The `*.json` files in `dir` and the folders in it (a CI's downloaded artifacts), by
/// path; hidden ones (such as a result being written) and symbolic links left out.
fn json_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let (path, kind) = (entry.path(), entry.file_type()?);
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() && name.ends_with(".json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
