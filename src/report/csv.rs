//! Per-endpoint statistics as CSV in the columns of Locust's `--csv` `_stats.csv`, so
//! spreadsheets, dashboards and scripts that read Locust's file read perfgate's too: one
//! row an endpoint and an `Aggregated` row, times in milliseconds (to the microsecond).
//! `Average Content Size` is the body bytes a request, left empty when no bytes were
//! counted (results imported from k6 or JMeter). A capacity search writes its steps.

use super::Report;
use crate::metrics::Stats;

const COLUMNS: [&str; 11] = [
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
];

/// Locust's default `PERCENTILES_TO_REPORT`.
const PERCENTILES: [(&str, f64); 11] = [
    ("50%", 50.0),
    ("66%", 66.0),
    ("75%", 75.0),
    ("80%", 80.0),
    ("90%", 90.0),
    ("95%", 95.0),
    ("98%", 98.0),
    ("99%", 99.0),
    ("99.9%", 99.9),
    ("99.99%", 99.99),
    ("100%", 100.0),
];

pub fn render(r: &Report<'_>) -> String {
    if let Some(c) = &r.verdict.capacity {
        return super::capacity::csv(c);
    }
    let res = r.result;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = COLUMNS.iter().copied().chain(PERCENTILES.map(|(c, _)| c));
    out.write_record(header).expect("writing to memory");
    let rows = res
        .endpoints
        .iter()
        .map(|e| row(&e.method, &e.name, e, res.duration_s))
        .chain([row("", "Aggregated", &res.total, res.duration_s)]);
    for r in rows {
        out.write_record(r).expect("writing to memory");
    }
    String::from_utf8(out.into_inner().expect("writing to memory")).expect("UTF-8 fields")
}

fn row(kind: &str, name: &str, s: &Stats, duration_s: f64) -> Vec<String> {
    let answered = s.latency.count() > 0;
    // No answered request: no figure, rather than a 0 that reads as fast.
    let ms = |v: f64| {
        if answered {
            format!("{v:.3}")
        } else {
            String::new()
        }
    };
    let per_second = |n: u64| {
        if duration_s > 0.0 {
            format!("{:.3}", n as f64 / duration_s)
        } else {
            String::new()
        }
    };
    let sum = &s.summary;
    let mut row = vec![
        kind.to_string(),
        name.to_string(),
        s.requests.to_string(),
        s.failures.to_string(),
        ms(s.latency.percentile_us(50.0) as f64 / 1000.0),
        ms(sum.avg_ms),
        ms(sum.min_ms),
        ms(sum.max_ms),
        if s.body_bytes > 0 {
            format!("{:.1}", s.body_bytes as f64 / s.requests as f64)
        } else {
            String::new()
        },
        per_second(s.requests),
        per_second(s.failures),
    ];
    row.extend(
        PERCENTILES
            .iter()
            .map(|(_, p)| ms(s.latency.percentile_us(*p) as f64 / 1000.0)),
    );
    row
}
