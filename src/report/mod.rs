//! Reports: each format in its own file, all reading the same `RunResult` and `Verdict`.

pub mod chart;
mod github;
mod html;
mod json;
mod junit;
mod markdown;
pub mod table;

use std::path::PathBuf;

pub use github::{annotations, step_summary};
pub use table::{baseline_block, terminal, verdict_block};

use crate::gate::Verdict;
use crate::metrics::RunResult;

/// What every renderer reads.
pub struct Report<'a> {
    pub result: &'a RunResult,
    pub verdict: &'a Verdict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Junit,
    Json,
}

impl Format {
    pub fn render(self, r: &Report<'_>) -> String {
        match self {
            Format::Html => html::render(r),
            Format::Markdown => markdown::render(r),
            Format::Junit => junit::render(r),
            Format::Json => json::render(r),
        }
    }
}

/// A `--report FORMAT=FILE` request.
#[derive(Clone, Debug)]
pub struct Output {
    pub format: Format,
    pub path: PathBuf,
}

impl Output {
    pub fn parse(spec: &str) -> Result<Output, String> {
        let (f, path) = spec
            .split_once('=')
            .ok_or_else(|| format!("--report {spec:?}: write FORMAT=FILE, e.g. markdown=pr.md"))?;
        let format = match f {
            "markdown" | "md" => Format::Markdown,
            "junit" | "xml" => Format::Junit,
            "json" => Format::Json,
            "html" => Format::Html,
            other => {
                return Err(format!(
                    "--report: unknown format {other:?}; use html, markdown, junit or json"
                ))
            }
        };
        if path.is_empty() {
            return Err(format!("--report {spec:?}: the file name is missing"));
        }
        Ok(Output {
            format,
            path: PathBuf::from(path),
        })
    }
}

/// Milliseconds for tables: "0.42", "12.3", "1,234".
pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        thousands(v.round() as u64)
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// 15432 → "15,432".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Short commit for people: the first 7 characters.
pub fn short_commit(r: &RunResult) -> String {
    r.git
        .commit
        .as_deref()
        .map_or("unknown".into(), |c| c.chars().take(7).collect())
}
