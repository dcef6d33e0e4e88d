//! `perfgate history`: the table of recorded runs, a metric's trend as a sparkline, and
//! the same trend drawn as a chart.

use std::fmt::Write as _;

use super::chart::{self, LineChart, Series};
use super::format::{ms, short_commit, thousands, value};
use crate::history::RunRow;
use crate::metrics::Metric;

/// The metrics a trend can follow, by the name `--metric` takes.
pub const METRICS: &str = "p50, p95, p99, avg, max, rps or error_rate";

/// How a metric is read from a recorded run.
pub type Reader = fn(&RunRow) -> f64;

/// The metric `name` names and how to read it from a recorded run, if it can be trended.
pub fn metric(name: &str) -> Option<(Metric, Reader)> {
    let (m, _) = Metric::parse(name)?;
    let read: Reader = match m {
        Metric::Percentile(50.0) => |r| r.p50_ms,
        Metric::Percentile(95.0) => |r| r.p95_ms,
        Metric::Percentile(99.0) => |r| r.p99_ms,
        Metric::Avg => |r| r.avg_ms,
        Metric::Max => |r| r.max_ms,
        Metric::Rps => |r| r.rps,
        Metric::ErrorRate => |r| r.error_rate,
        _ => return None,
    };
    Some((m, read))
}

/// "p99 latency of the whole run: ▁▂▅█  first 12 ms, last 30 ms, min 12 ms, max 30 ms".
pub fn summary(name: &str, metric: Metric, scope: &str, values: &[f64]) -> String {
    let fmt = |v: f64| value(metric, v);
    format!(
        "{name} of {scope}: {}  first {}, last {}, min {}, max {}",
        chart::sparkline(values),
        fmt(values[0]),
        fmt(values[values.len() - 1]),
        fmt(values.iter().copied().fold(f64::INFINITY, f64::min)),
        fmt(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    )
}

/// The trend drawn: an SVG, or (`html`) a page around it.
pub fn drawing(
    name: &str,
    metric: Metric,
    scope: &str,
    rows: &[RunRow],
    values: &[f64],
    html: bool,
) -> String {
    let title = format!("{name} of {scope} over the last {} runs", rows.len());
    let (unit, scale) = match metric {
        Metric::Rps => ("rps", 1.0),
        Metric::ErrorRate => ("%", 100.0),
        _ => ("ms", 1.0),
    };
    let svg = LineChart {
        title: title.clone(),
        y_unit: unit,
        series: vec![Series {
            name: name.to_string(),
            color: "#2563eb",
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, v * scale))
                .collect(),
        }],
        limits: vec![],
        x_labels: rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i as f64, format!("#{}", r.id)))
            .collect(),
        log_x: false,
        marks: vec![],
    }
    .svg();
    if html {
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>{svg}</body></html>\n",
            t = chart::escape(&title)
        )
    } else {
        svg
    }
}

/// One line per recorded run.
pub fn table(rows: &[RunRow]) -> String {
    let mut out =
        format!(
        "{:>5}  {:<20}  {:<7}  {:<12}  {:<10}  {:<11}  {:<12}  {:>9}  {:>8}  {:>8}  {:>8}  {:>7}\n",
        "run", "started (UTC)", "commit", "branch", "scenario", "environment", "status", "requests",
        "rps", "p95 ms", "p99 ms", "errors"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>5}  {:<20}  {:<7}  {:<12}  {:<10}  {:<11}  {:<12}  {:>9}  {:>8.1}  {:>8}  {:>8}  {:>7}",
            format!("#{}", r.id),
            // "2026-11-27T07:53:48.123Z" → "2026-11-27 07:53:48" (UTC, to the second).
            r.started_at.chars().take(19).collect::<String>().replace('T', " "),
            short_commit(r.commit.as_deref(), "-"),
            r.branch.as_deref().unwrap_or("-"),
            r.scenario,
            r.environment.as_deref().unwrap_or("-"),
            r.status,
            thousands(r.requests),
            r.rps,
            ms(r.p95_ms),
            ms(r.p99_ms),
            super::format::pct2(r.error_rate)
        );
    }
    out
}
