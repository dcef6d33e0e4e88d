//! A capacity search in words, as a table and as an HTML page with the knee drawn:
//! latency percentiles, achieved throughput and errors against the offered rate.

use std::fmt::Write as _;

use super::chart::{escape, LineChart, Series};
use super::format::{latency_ms, pct2, thousands};
use super::words;
use crate::gate::capacity::{Capacity, Drained, End, Step, MAX_DROPPED};
use crate::gate::Check;
use crate::metrics::{Metric, Op, Scope};

pub const HEADER: &str =
    "     offered     achieved       p50       p95       p99    errors   dropped  step";

/// A step's figures as every table shows them: offered, achieved, p50, p95, p99, errors,
/// dropped.
fn cells(s: &Step) -> [String; 7] {
    [
        format!("{}/s", rate(s.rate)),
        format!("{:.1} rps", s.achieved_rps),
        latency_ms(s.p50_ms),
        latency_ms(s.p95_ms),
        latency_ms(s.p99_ms),
        pct2(s.error_rate),
        thousands(s.dropped),
    ]
}

/// Why a step failed, in words: its objectives that failed, then its dropped arrivals.
pub fn broke(checks: &[Check], dropped_share: f64) -> Vec<String> {
    let mut out: Vec<String> = checks.iter().map(words::check).collect();
    if dropped_share > MAX_DROPPED {
        out.push(format!(
            "{:.1}% of arrivals found no free user (the service is not keeping up, or raise --users)",
            dropped_share * 100.0
        ));
    }
    out
}

/// One step as a line of the terminal's table.
pub fn row(s: &Step) -> String {
    let verdict = if s.held {
        "held".to_string()
    } else {
        let why = broke(&s.broke, s.dropped_share);
        format!("FAILED: {}", why.first().map_or("", String::as_str))
    };
    let [offered, achieved, p50, p95, p99, errors, dropped] = cells(s);
    format!("{offered:>12} {achieved:>12} {p50:>9} {p95:>9} {p99:>9} {errors:>9} {dropped:>9}  {verdict}")
}

/// The wait before a step for the service to drain, as a line of the step table.
pub fn drained(d: &Drained) -> String {
    let how = if d.recovered {
        "back within"
    } else {
        "still above"
    };
    format!(
        "{:>12} waited {} for the service to drain: p50 {} {how} {} ({} probe requests)",
        "",
        super::format::seconds(d.seconds),
        latency_ms(d.p50_ms),
        latency_ms(d.near_ms),
        thousands(d.requests)
    )
}

/// "capacity: 310/s held; the budget broke at 325/s: p99 latency …".
pub fn conclusion(c: &Capacity) -> String {
    let why = broke(&c.broke, c.failed_dropped_share);
    let broke = why.first().map_or(String::new(), |b| format!(": {b}"));
    let mut out = match (c.end, c.held, c.failed) {
        (End::Found, Some(h), Some(f)) => format!(
            "capacity: {}/s held; the budget broke at {}/s{broke}",
            rate(h),
            rate(f)
        ),
        (End::HeldAtMax, Some(h), _) => format!(
            "capacity: above {}/s — every step held up to the search's max (raise max to look further)",
            rate(h)
        ),
        (End::FailedAtStart, _, Some(f)) => format!(
            "capacity: below {}/s — the first step already broke the budget{broke}; start lower",
            rate(f)
        ),
        (_, held, _) => format!(
            "interrupted after {} steps{}",
            c.steps.len(),
            held.map_or(String::new(), |h| format!("; {}/s held so far", rate(h)))
        ),
    };
    if let Some(r) = c.require {
        let _ = write!(
            out,
            "\n{} the required {}/s",
            if c.meets() { "meets" } else { "FAILED: below" },
            rate(r)
        );
    }
    out
}

/// The steps as a Markdown table with the conclusion above it.
pub fn markdown(c: &Capacity) -> String {
    let mut out = format!(
        "## Capacity of {} (budget {})\n\n**{}**\n\n| offered | achieved | p50 | p95 | p99 | errors | dropped | step |\n|---:|---:|---:|---:|---:|---:|---:|:---|\n",
        c.scenario,
        c.budget,
        conclusion(c)
    );
    for s in &c.steps {
        let _ = writeln!(
            out,
            "| {} | {} |",
            cells(s).join(" | "),
            if s.held {
                "held".to_string()
            } else {
                let why = broke(&s.broke, s.dropped_share).join("; ");
                format!("failed: {}", why.replace('|', "\\|"))
            }
        );
    }
    out
}

/// A self-contained page: the conclusion, the knee (three charts against the offered
/// rate, the budget's whole-run limits drawn in) and the table of steps.
pub fn html(c: &Capacity, judged: &[Check]) -> String {
    let mut steps: Vec<&Step> = c.steps.iter().collect();
    steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let line = |name: &str, color: &'static str, y: fn(&Step) -> f64| Series {
        name: name.to_string(),
        color,
        points: steps.iter().map(|s| (s.rate, y(s))).collect(),
    };
    let limit = |m: Metric| {
        judged
            .iter()
            .map(|c| &c.objective)
            .find(|o| o.metric == m && o.op == Op::AtMost && o.scope == Scope::Total)
            .map(|o| o.limit)
    };
    let wide = steps.last().map_or(1.0, |s| s.rate) / steps.first().map_or(1.0, |s| s.rate) > 10.0;
    let x_labels: Vec<(f64, String)> = steps.iter().map(|s| (s.rate, rate(s.rate))).collect();
    let chart =
        |title: &str, unit: &'static str, series: Vec<Series>, limits: Vec<(String, f64)>| {
            LineChart {
                title: title.to_string(),
                y_unit: unit,
                series,
                limits,
                x_labels: x_labels.clone(),
                log_x: wide,
                marks: vec![],
            }
            .svg()
        };
    let latency_limits: Vec<(String, f64)> = [50.0, 95.0, 99.0]
        .into_iter()
        .filter_map(|p| limit(Metric::Percentile(p)).map(|l| (format!("p{p} budget"), l)))
        .collect();
    let latency = chart(
        "Latency against offered rate (arrivals/s)",
        "ms",
        vec![
            line("p50", "#2563eb", |s| s.p50_ms),
            line("p95", "#d97706", |s| s.p95_ms),
            line("p99", "#db2777", |s| s.p99_ms),
        ],
        latency_limits,
    );
    let throughput = chart(
        "Achieved throughput against offered rate",
        "rps",
        vec![
            line("achieved rps", "#059669", |s| s.achieved_rps),
            line("offered", "#9ca3af", |s| s.rate),
        ],
        vec![],
    );
    let errors = chart(
        "Errors against offered rate",
        "%",
        vec![line("error rate", "#b91c1c", |s| s.error_rate * 100.0)],
        limit(Metric::ErrorRate)
            .map(|l| vec![("error budget".to_string(), l * 100.0)])
            .unwrap_or_default(),
    );
    let class = match c.end {
        End::Found | End::HeldAtMax => "passed",
        End::FailedAtStart => "failed",
        End::Interrupted => "inconclusive",
    };
    let mut h = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>perfgate capacity: {s}</title><style>{style}</style></head><body><main>\
         <header class=\"{class}\"><h1>{conclusion}</h1><p>scenario {s}, budget {b}</p></header>\
         <section><h2>The knee</h2><div class=\"charts\">{latency}{throughput}{errors}</div></section>\
         <section><h2>Steps, in the order run</h2><table><tr><th>offered</th><th>achieved</th><th>p50</th><th>p95</th><th>p99</th><th>errors</th><th>dropped</th><th class=\"l\">step</th></tr>",
        s = escape(&c.scenario),
        b = escape(&c.budget),
        style = super::html::STYLE,
        conclusion = escape(&conclusion(c)),
    );
    for s in &c.steps {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l {}\">{}</td></tr>",
            cells(s).join("</td><td>"),
            if s.held { "good" } else { "bad" },
            if s.held {
                "held".to_string()
            } else {
                let why = broke(&s.broke, s.dropped_share).join("; ");
                escape(&format!("failed: {why}"))
            }
        );
    }
    h.push_str(
        "</table></section><footer>perfgate capacity search</footer></main></body></html>\n",
    );
    h
}

/// "300" or "12.5": a rate as the search chose it.
pub fn rate(r: f64) -> String {
    if r.fract() == 0.0 {
        thousands(r as u64)
    } else {
        format!("{r:.1}")
    }
}

/// The steps as CSV: one row a step, in the order run.
pub fn csv(c: &Capacity) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "Offered/s",
        "Achieved/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "Error rate",
        "Requests",
        "Dropped",
        "Held",
        "Broke",
    ];
    out.write_record(header).expect("writing to memory");
    for s in &c.steps {
        let row = [
            s.rate.to_string(),
            format!("{:.1}", s.achieved_rps),
            format!("{:.3}", s.p50_ms),
            format!("{:.3}", s.p95_ms),
            format!("{:.3}", s.p99_ms),
            format!("{:.6}", s.error_rate),
            s.requests.to_string(),
            s.dropped.to_string(),
            s.held.to_string(),
            broke(&s.broke, s.dropped_share).join("; "),
        ];
        out.write_record(row).expect("writing to memory");
    }
    String::from_utf8(out.into_inner().expect("in memory")).expect("CSV of UTF-8 text")
}
