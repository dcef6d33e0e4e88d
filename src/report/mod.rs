//! Reports: each format in its own file, all reading the same `RunResult` and `Verdict`.

pub mod chart;
mod csv;
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
use crate::metrics::{RunResult, ScenarioInfo, Stats, StopReason};

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

/// Milliseconds for tables: "0.42", "12.3", "1,234".
/// A latency figure of `s` in ms, or "-" when it has no latency at all (no request
/// was answered): 0.00 would read as fast.
pub fn ms_of(s: &Stats, v: f64) -> String {
    if s.latency.count() == 0 {
        "-".to_string()
    } else {
        ms(v)
    }
}

pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        thousands(v.round() as u64)
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// "2.4 s", "45 s", "3 min 20 s", "2 h 5 min": tenths below ten seconds, else rounded.
pub fn seconds(s: f64) -> String {
    if s < 9.95 && s.fract() != 0.0 {
        return format!("{s:.1} s");
    }
    let s = s.round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 if s % 60 == 0 => format!("{} min", s / 60),
        120..=7199 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// "after 3 s: the verdict below judges partial results" for a run stopped by Ctrl-C or
/// SIGTERM, so no renderer heads a partial run with a bare PASSED.
pub fn interrupted_text(r: &RunResult) -> Option<String> {
    (r.stop == StopReason::Interrupted).then(|| {
        format!(
            "after {}: the verdict below judges partial results",
            seconds(r.duration_s)
        )
    })
}

/// The load a run put on: "10 users", "400 arrivals/s, up to 1000 users", or with
/// stages "50 → 100 → 0 arrivals/s over 8 s, up to 20 users".
pub fn load_text(s: &ScenarioInfo) -> String {
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
        (Some(rate), true) if s.model == "mixed" => format!(
            "{} arrivals/s beside closed-model users, up to {users} in all",
            number(rate),
        ),
        (Some(rate), true) => format!("{} arrivals/s, up to {users}", number(rate)),
        (Some(_), false) => format!("{}, up to {users}", ramp("arrivals/s")),
        (None, true) => users,
        (None, false) => ramp("users"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(seconds(14.0), "14 s");
        assert_eq!(seconds(8.0), "8 s");
        assert_eq!(seconds(2.998), "3.0 s");
        assert_eq!(seconds(0.42), "0.4 s");
        assert_eq!(seconds(9.96), "10 s");
        assert_eq!(seconds(59.6), "60 s");
        assert_eq!(seconds(119.0), "119 s");
        assert_eq!(seconds(180.0), "3 min");
        assert_eq!(seconds(462.0), "7 min 42 s");
        assert_eq!(seconds(7500.0), "2 h 5 min");
    }

    #[test]
    fn a_latency_with_no_sample_reads_as_a_dash() {
        let mut s = Stats {
            requests: 3,
            failures: 3,
            ..Stats::default()
        };
        assert_eq!(ms_of(&s, 0.0), "-");
        s.latency.record_us(1500);
        assert_eq!(ms_of(&s, 1.5), "1.50");
    }

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
        s.model = "mixed".into();
        assert_eq!(
            load_text(&s),
            "133.3 arrivals/s beside closed-model users, up to 20 users in all"
        );
        s.model = "open".into();
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
    }
}
