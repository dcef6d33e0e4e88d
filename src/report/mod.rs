//! Reports: each format in its own file, all reading the same `RunResult` and `Verdict`.

pub mod capacity;
pub mod chart;
mod csv;
pub mod format;
mod github;
mod html;
mod json;
mod junit;
mod markdown;
pub mod table;
pub mod trend;
pub mod words;

use std::path::PathBuf;

pub use github::{annotations, step_summary};
pub use table::{baseline_block, terminal, verdict_block};

use crate::gate::Verdict;
use crate::metrics::{LoadChange, LoadModel, RunResult, ScenarioInfo, StopReason};
use format::seconds;

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
    Csv,
}

impl Format {
    pub fn render(self, r: &Report<'_>) -> String {
        match self {
            Format::Html => html::render(r),
            Format::Markdown => markdown::render(r),
            Format::Junit => junit::render(r),
            Format::Json => json::render(r),
            Format::Csv => csv::render(r),
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
            "csv" => Format::Csv,
            other => {
                return Err(format!(
                    "--report: unknown format {other:?}; use html, markdown, junit, json or csv"
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

/// "after 3 s: the verdict below judges partial results" for a run stopped by Ctrl-C or
/// SIGTERM, so no renderer heads a partial run with a bare PASSED.
pub fn interrupted_text(r: &RunResult) -> Option<String> {
    (r.stop == StopReason::Interrupted).then(|| {
        format!(
            "{}after {}: the verdict below judges partial results",
            r.stopped_by
                .as_deref()
                .map_or(String::new(), |by| format!("stopped from {by} ")),
            seconds(r.duration_s)
        )
    })
}

/// The load a run put on: "10 users", "400 arrivals/s, up to 1000 users", or with
/// stages "50 → 100 → 0 arrivals/s over 8 s, up to 20 users"; steered while it ran,
/// what it was planned as and then each change ("10 users, then from the dashboard: 30
/// users at 12 s, 5 users at 20 s").
pub fn load_text(s: &ScenarioInfo) -> String {
    if s.changes.is_empty() {
        return planned_load_text(s);
    }
    // The shape holds the steering too: the plan is what came before the first change.
    let first = s.changes[0].at_s;
    let mut planned = s.clone();
    planned.changes.clear();
    planned.shape.retain(|p| p[0] < first);
    // A flat rate, or a closed model's spawn ramp to its users, is no staged shape.
    let spawn_ramp = matches!(planned.shape[..], [[0.0, 0.0], [_, u]] if u == s.users as f64);
    if planned.shape.len() < 2 || spawn_ramp {
        planned.shape.clear();
    }
    let changes: Vec<String> = s
        .changes
        .iter()
        .map(|c| format!("{} at {}", change_text(c), seconds(c.at_s)))
        .collect();
    format!(
        "{}, then from {}: {}",
        planned_load_text(&planned),
        s.changes[0].by,
        changes.join(", ")
    )
}

/// What a change set the load to: "6 users", "1 user", "120 arrivals/s".
pub fn change_text(c: &LoadChange) -> String {
    match (c.users, c.rate) {
        (Some(1), _) => "1 user".to_string(),
        (Some(u), _) => format!("{u} users"),
        (None, r) => format!("{} arrivals/s", r.unwrap_or(0.0)),
    }
}

fn planned_load_text(s: &ScenarioInfo) -> String {
    let number = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let ramp = |unit: &str| {
        let values: Vec<String> = s.shape.iter().map(|[_, v]| number(*v)).collect();
        let over = s.shape.last().map_or(0.0, |[t, _]| *t);
        // The shape is the whole run's, a segment's result included.
        let part = s.segment.as_deref().map_or(String::new(), |seg| {
            format!(" (whole run; this is segment {seg})")
        });
        format!("{} {unit} over {}{part}", values.join(" → "), seconds(over))
    };
    let users = match s.users {
        // Only an imported log can lack them (Locust's JSON without its CSV).
        0 => "users not recorded".to_string(),
        1 => "1 user".to_string(),
        n => format!("{n} users"),
    };
    match (s.rate, s.shape.is_empty()) {
        // Closed-model users beside an arrival rate (a scenario that includes others):
        // the users figure counts both, so it is no cap on the arrivals alone.
        (Some(rate), true) if s.model == LoadModel::Mixed => format!(
            "{} arrivals/s beside closed-model users, up to {users} in all",
            number(rate),
        ),
        (Some(rate), true) => format!("{} arrivals/s, up to {users}", number(rate)),
        (Some(_), false) => format!("{}, up to {users}", ramp("arrivals/s")),
        (None, true) => users,
        (None, false) => ramp("users"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_reads_as_its_model_and_ramp() {
        let mut s = ScenarioInfo {
            users: 20,
            ..ScenarioInfo::default()
        };
        assert_eq!(load_text(&s), "20 users");
        s.users = 1;
        assert_eq!(load_text(&s), "1 user");
        s.users = 0;
        assert_eq!(load_text(&s), "users not recorded");
        s.users = 20;
        s.shape = vec![[0.0, 0.0], [30.0, 20.0], [90.0, 0.0]];
        assert_eq!(load_text(&s), "0 → 20 → 0 users over 90 s");
        s.rate = Some(133.33);
        s.shape.clear();
        assert_eq!(load_text(&s), "133.3 arrivals/s, up to 20 users");
        s.model = LoadModel::Mixed;
        assert_eq!(
            load_text(&s),
            "133.3 arrivals/s beside closed-model users, up to 20 users in all"
        );
        s.model = LoadModel::Open;
        s.shape = vec![[0.0, 50.0], [4.0, 100.0], [8.0, 0.0]];
        assert_eq!(
            load_text(&s),
            "50 → 100 → 0 arrivals/s over 8 s, up to 20 users"
        );
        s.segment = Some("2/4".into());
        assert_eq!(
            load_text(&s),
            "50 → 100 → 0 arrivals/s over 8 s (whole run; this is segment 2/4), up to 20 users"
        );
        s.segment = None;
        s.model = LoadModel::Closed;
        s.rate = None;
        s.users = 10;
        s.shape = vec![[0.0, 0.0], [2.0, 10.0], [12.0, 10.0], [16.0, 30.0]];
        let change = |at_s, users| LoadChange {
            at_s,
            users: Some(users),
            rate: None,
            by: "the dashboard".into(),
        };
        s.changes = vec![change(12.0, 30), change(20.0, 5)];
        assert_eq!(
            load_text(&s),
            "10 users, then from the dashboard: 30 users at 12 s, 5 users at 20 s"
        );
    }
}
