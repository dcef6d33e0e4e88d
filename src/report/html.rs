//! The HTML report: one self-contained file — inline CSS and SVG, no script, no network
//! request (a Content-Security-Policy forbids them) — that opens from a CI artifact
//! offline. Everything from the target or the config is escaped.

use std::fmt::Write;

use super::chart::{escape, LineChart, Series};
use super::format::{ms_of, short_commit, signed_pct, thousands, value};
use super::{words, Report};
use crate::gate::{Check, Outcome, Status};
use crate::metrics::{Latency, RunResult};
use crate::metrics::{Metric, Op, Scope};
use crate::regress::Change;

const COLORS: [&str; 6] = [
    "#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2",
];

pub(super) const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2937;background:#f8fafc}
main{max-width:1100px;margin:0 auto;padding:24px}
header{padding:20px 24px;border-radius:8px;color:#fff;margin-bottom:20px}
header h1{margin:0;font-size:28px}header p{margin:4px 0 0}
.passed{background:#15803d}.failed{background:#b91c1c}.inconclusive{background:#b45309}
section{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px 20px;margin-bottom:16px}
h2{font-size:17px;margin:0 0 10px}table{border-collapse:collapse;width:100%}
th,td{text-align:right;padding:4px 8px;border-bottom:1px solid #f1f5f9;white-space:nowrap}
th:first-child,td:first-child{text-align:left}td.l,th.l{text-align:left;white-space:normal}
.bad{color:#b91c1c}.good{color:#15803d}.warn{color:#b45309}
ul{margin:0;padding-left:20px}svg{max-width:100%;height:auto}
.charts{display:grid;grid-template-columns:1fr;gap:12px}
footer{color:#6b7280;font-size:12px;text-align:center;padding:8px}";

pub fn render(r: &Report<'_>) -> String {
    let (res, v) = (r.result, r.verdict);
    if let Some(c) = &v.capacity {
        return super::capacity::html(c, &v.checks);
    }
    let (word, class) = match v.status {
        Status::Passed => ("PASSED", "passed"),
        Status::Failed => ("FAILED", "failed"),
        Status::Inconclusive => ("INCONCLUSIVE", "inconclusive"),
    };
    // An interrupted run is headed as such; the verdict on its partial results follows.
    let interrupted = super::interrupted_text(res);
    let (head, head_class) = match &interrupted {
        Some(_) => ("INTERRUPTED", "inconclusive"),
        None => (word, class),
    };
    let partial = interrupted.map_or(String::new(), |t| format!("{} — {word}: ", escape(&t)));
    let held = v
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Pass)
        .count();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>perfgate {head}: {} ({})</title><style>{STYLE}</style></head><body><main>",
        escape(&res.scenario.name),
        escape(v.environment.as_deref().unwrap_or(&v.budget))
    );
    if res.tls_insecure {
        let _ = write!(
            h,
            "<p class=\"bad\"><strong>Warning:</strong> {}</p>",
            escape(words::INSECURE)
        );
    }
    let _ = write!(
        h,
        "<header class=\"{head_class}\"><h1>{head}</h1><p>{partial}{held} of {} objectives held — budget {}{}</p></header>",
        v.checks.len(),
        escape(&v.budget),
        v.environment
            .as_deref()
            .map_or(String::new(), |e| format!(", environment {}", escape(e)))
    );
    let failing: Vec<&Check> = v.failures().collect();
    let regressions: Vec<String> = v
        .baseline
        .iter()
        .flat_map(|b| b.regressions())
        .map(words::comparison)
        .collect();
    if !failing.is_empty() || !regressions.is_empty() || !v.notes.is_empty() {
        let heading = if failing.is_empty() && regressions.is_empty() {
            "Notes"
        } else {
            "Violations"
        };
        let _ = write!(h, "<section><h2>{heading}</h2><ul>");
        for c in failing {
            let _ = write!(h, "<li class=\"bad\">{}</li>", escape(&words::check(c)));
        }
        for m in &regressions {
            let _ = write!(h, "<li class=\"bad\">▲ {}</li>", escape(m));
        }
        for n in &v.notes {
            let _ = write!(h, "<li class=\"warn\">{}</li>", escape(&words::note(n)));
        }
        h.push_str("</ul></section>");
    }
    for a in v.alerts.iter().filter(|a| a.triggered) {
        let _ = write!(
            h,
            "<section><h2 class=\"warn\">{} alert</h2><p>{}</p></section>",
            escape(&a.level),
            escape(&a.description)
        );
    }
    run_info(&mut h, res);
    endpoints(&mut h, res);
    if let Some(b) = &v.baseline {
        let _ = write!(
            h,
            "<section><h2>Against baseline {} ({})</h2><table><tr><th>Scope</th><th>Metric</th><th>Baseline</th><th>Current</th><th>Change</th><th class=\"l\">Rule</th><th class=\"l\">Verdict</th></tr>",
            escape(&short_commit(b.commit.as_deref(), "unknown commit")),
            escape(&b.source)
        );
        for c in &b.comparisons {
            let m = c.rule.metric;
            let value = |x: Option<f64>| x.map_or("–".into(), |x| value(m, x));
            let (cls, word) = match c.change {
                Change::Regressed => ("bad", "▲ regressed"),
                Change::Improved => ("good", "▼ improved"),
                Change::Unchanged => ("", "unchanged"),
                Change::Inconclusive => ("warn", "inconclusive"),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{m}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l {cls}\">{word}</td></tr>",
                escape(&scope_name(&c.rule.scope)),
                value(c.baseline),
                value(c.current),
                c.delta.map_or("–".into(), signed_pct),
                escape(&c.rule.text)
            );
        }
        h.push_str("</table></section>");
    }
    h.push_str("<section><h2>Over time</h2><div class=\"charts\">");
    for chart in over_time(r) {
        h.push_str(&chart.svg());
    }
    h.push_str("</div></section><section><h2>Latency distribution</h2>");
    h.push_str(&spectrum(res).svg());
    h.push_str("</section><section><h2>Objectives</h2><ul>");
    for c in &v.checks {
        let (cls, mark) = if c.outcome == Outcome::Pass {
            ("good", "✓")
        } else {
            ("bad", "✗")
        };
        let _ = write!(
            h,
            "<li class=\"{cls}\">{mark} {}</li>",
            escape(&words::check(c))
        );
    }
    let _ = writeln!(
        h,
        "</ul></section><footer>{} · {}</footer></main></body></html>",
        escape(&res.tool),
        escape(&res.started_at)
    );
    h
}

fn scope_name(s: &Scope) -> String {
    s.label().unwrap_or_else(|| "Total".into())
}

fn run_info(h: &mut String, res: &RunResult) {
    let load = super::load_text(&res.scenario);
    let g = &res.generator;
    // An imported result's generator (JMeter, k6) did not report on itself.
    let generator = if g.threads == 0 {
        format!("not measured ({})", escape(&res.tool))
    } else {
        format!(
            "{} threads, {:.1} CPU-s, {:.1} s waiting for a core, schedule lag {:.1} ms, timer delay p99 {:.1} ms{}",
            g.threads,
            g.cpu_seconds,
            g.wait_seconds,
            g.schedule_lag_ms,
            g.timer_delay_p99_ms,
            if g.overloaded {
                " — <span class=\"warn\">overloaded</span>"
            } else {
                ""
            }
        )
    };
    let _ = write!(
        h,
        "<section><h2>Run</h2><table>\
         <tr><td>Scenario</td><td class=\"l\">{} — {}</td></tr>\
         <tr><td>Load</td><td class=\"l\">{load}, {:.1} s</td></tr>\
         <tr><td>Target</td><td class=\"l\">{}</td></tr>\
         <tr><td>Commit</td><td class=\"l\">{} {}</td></tr>\
         <tr><td>Started</td><td class=\"l\">{}</td></tr>\
         <tr><td>Generator</td><td class=\"l\">{generator}</td></tr></table></section>",
        escape(&res.scenario.name),
        escape(&res.scenario.description),
        res.duration_s,
        escape(&res.target),
        escape(&short_commit(res.git.commit.as_deref(), "unknown")),
        escape(res.git.branch.as_deref().unwrap_or("")),
        escape(&res.started_at),
    );
}

fn endpoints(h: &mut String, res: &RunResult) {
    h.push_str("<section><h2>Endpoints</h2><table><tr><th>Endpoint</th><th>Requests</th><th>Failures</th><th>Avg ms</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>Max ms</th><th>RPS</th><th class=\"l\">Failure reasons</th></tr>");
    for e in res.endpoints.iter().chain(std::iter::once(&res.total)) {
        let m = &e.summary;
        let reasons: Vec<String> = e
            .failure_reasons
            .iter()
            .map(|(r, n)| format!("{} × {}", thousands(*n), escape(r)))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{} {}</td><td>{}</td><td{}>{} ({:.2}%)</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td class=\"l\">{}</td></tr>",
            escape(&e.method),
            escape(&super::format::tagged_name(e)),
            thousands(e.requests),
            if e.failures > 0 { " class=\"bad\"" } else { "" },
            thousands(e.failures),
            m.error_rate * 100.0,
            ms_of(e, m.avg_ms),
            ms_of(e, m.p50_ms),
            ms_of(e, m.p95_ms),
            ms_of(e, m.p99_ms),
            ms_of(e, m.max_ms),
            m.rps,
            reasons.join("; ")
        );
    }
    h.push_str("</table></section>");
    if !res.checks.is_empty() {
        h.push_str("<section><h2>Checks</h2><ul>");
        for c in &res.checks {
            let class = if c.failed == 0 { "good" } else { "bad" };
            let _ = write!(
                h,
                "<li class=\"{class}\">{}</li>",
                escape(&words::soft_check(c))
            );
        }
        h.push_str("</ul></section>");
    }
}

/// Total-scope budget limits of `metric` as (label, value) for chart lines.
fn limits(r: &Report<'_>, metric: Metric, scale: f64) -> Vec<(String, f64)> {
    r.verdict
        .checks
        .iter()
        .map(|c| &c.objective)
        .filter(|o| o.scope == Scope::Total && o.metric == metric && o.window.is_none())
        .map(|o| {
            let word = if o.op == Op::AtMost { "max" } else { "min" };
            (
                format!("{metric} {word} {}", value(metric, o.limit)),
                o.limit * scale,
            )
        })
        .collect()
}

/// Requests per second, latency percentiles, error rate and users, second by second.
fn over_time(r: &Report<'_>) -> Vec<LineChart> {
    let res = r.result;
    let mut rps = vec![];
    let mut errors = vec![];
    let mut users = vec![];
    let mut pct: [Vec<(f64, f64)>; 3] = Default::default();
    // A last second the run covered less than half of would read as a collapse.
    for i in res
        .series
        .iter()
        .filter(|i| res.duration_s - i.t as f64 >= 0.5)
    {
        let t = i.t as f64;
        let mut l = Latency::default();
        let (mut n, mut f) = (0, 0);
        for e in &i.endpoints {
            n += e.requests;
            f += e.failures;
            l.add(&e.latency.unpack());
        }
        rps.push((t, n as f64));
        errors.push((
            t,
            if n > 0 {
                f as f64 * 100.0 / n as f64
            } else {
                0.0
            },
        ));
        users.push((t, i.users as f64));
        if l.count() > 0 {
            for (k, p) in [50.0, 95.0, 99.0].into_iter().enumerate() {
                pct[k].push((t, l.percentile_us(p) as f64 / 1000.0));
            }
        }
    }
    let [p50, p95, p99] = pct;
    let mut latency_limits = limits(r, Metric::Percentile(95.0), 1.0);
    latency_limits.extend(limits(r, Metric::Percentile(99.0), 1.0));
    let series = |name: &str, color: &'static str, points| Series {
        name: name.to_string(),
        color,
        points,
    };
    // What steering changed, and when (the dashboard's users or rate).
    let marks: Vec<(f64, String)> = res
        .scenario
        .changes
        .iter()
        .map(|c| (c.at_s, super::change_text(c)))
        .collect();
    let chart = |title: &str, series, limits| LineChart {
        title: title.to_string(),
        y_unit: "",
        series,
        limits,
        x_labels: seconds_axis(res),
        log_x: false,
        marks: marks.clone(),
    };
    let mut charts = vec![
        chart(
            "Requests per second",
            vec![series("rps", COLORS[0], rps)],
            limits(r, Metric::Rps, 1.0),
        ),
        chart(
            "Latency (ms)",
            vec![
                series("p50", COLORS[2], p50),
                series("p95", COLORS[1], p95),
                series("p99", COLORS[3], p99),
            ],
            latency_limits,
        ),
        chart(
            "Error rate (%)",
            vec![series("errors %", "#b91c1c", errors)],
            limits(r, Metric::ErrorRate, 100.0),
        ),
        chart(
            "Active users",
            vec![series("users", COLORS[5], users)],
            vec![],
        ),
    ];
    // No latency over time when nothing was answered, or the results did not place
    // their response times in time (Locust's statistics).
    charts.retain(|c| c.series.iter().any(|s| !s.points.is_empty()));
    charts
}

fn seconds_axis(res: &RunResult) -> Vec<(f64, String)> {
    let end = (res.duration_s - 0.5).max(0.0) as u64;
    let step = (end / 8).max(1);
    (0..=end)
        .step_by(step as usize)
        .map(|t| (t as f64, format!("{t}s")))
        .collect()
}

/// The HdrHistogram percentile plot: latency against 1 / (1 − percentile), log scale.
fn spectrum(res: &RunResult) -> LineChart {
    let line = |l: &Latency| -> Vec<(f64, f64)> {
        l.spectrum()
            .into_iter()
            .filter(|(p, _)| *p < 100.0)
            .map(|(p, us)| (1.0 / (1.0 - p / 100.0), us as f64 / 1000.0))
            .collect()
    };
    let mut series = vec![Series {
        name: "total".into(),
        color: "#111827",
        points: line(&res.total.latency),
    }];
    for (i, e) in res.endpoints.iter().take(COLORS.len()).enumerate() {
        series.push(Series {
            name: e.name.clone(),
            color: COLORS[i],
            points: line(&e.latency),
        });
    }
    LineChart {
        title: "Latency by percentile (ms)".into(),
        y_unit: "",
        series,
        limits: vec![],
        x_labels: [
            (1.0, "0%"),
            (2.0, "50%"),
            (10.0, "90%"),
            (100.0, "99%"),
            (1000.0, "99.9%"),
            (10000.0, "99.99%"),
        ]
        .into_iter()
        .map(|(x, l)| (x, l.to_string()))
        .collect(),
        log_x: true,
        marks: vec![],
    }
}
