//! Saved results as the pipeline's input (`perfgate check`, `report`, `compare`): files
//! and folders of them, read and merged exactly.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::metrics::{self, Head, RunResult};

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
    // First what merging needs of each (which run, when): a file at a time, without its
    // histograms; then each whole in turn, folded into the merge.
    let heads = files
        .iter()
        .map(|p| head(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !mixed_runs {
        if let Err(apart) = metrics::same_run(&heads) {
            anyhow::bail!(
                "{} and {} are segments of different runs ({}): gate the segments of one run, or merge them anyway with `perfgate check --mixed-runs`",
                files[apart.first].display(),
                files[apart.second].display(),
                apart.why
            );
        }
    }
    metrics::merge_each(&heads, |i| {
        RunResult::load(&files[i]).map_err(|e| e.to_string())
    })
    .map_err(anyhow::Error::msg)
}

/// What merging needs of a saved result, read without its histograms.
fn head(path: &Path) -> anyhow::Result<Head> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    match serde_json::from_reader(std::io::BufReader::new(file)) {
        Ok(head) => Ok(head),
        // The whole reading says best what is wrong (a version, a field, a forgery).
        Err(e) => match RunResult::load(path) {
            Err(why) => Err(anyhow::Error::msg(why.to_string())),
            Ok(_) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
        },
    }
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
