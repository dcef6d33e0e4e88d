//! The Locust setup's PR comment: verdict, configuration, metrics, violations, endpoints.

use std::fmt::Write;

use super::format::{ms_of, pct2, short_commit, signed_pct, thousands, value};
use super::{words, Report};
use crate::gate::{Outcome, Status};
use crate::regress::{Baseline, Change};

pub fn render(r: &Report<'_>) -> String {
    let (res, v) = (r.result, r.verdict);
    if let Some(c) = &v.capacity {
        return super::capacity::markdown(c);
    }
    let mut md = String::new();
    let _ = writeln!(md, "## 📊 Performance Budget Test Results\n");
    if res.tls_insecure {
        let _ = writeln!(md, "> [!WARNING]\n> {}\n", words::INSECURE);
    }
    if let Some(text) = super::interrupted_text(res) {
        let _ = writeln!(md, "**⏹️ INTERRUPTED** {text}\n");
    }
    let _ = match v.status {
        Status::Passed => writeln!(
            md,
            "**✅ PASSED** - All performance metrics within budget\n"
        ),
        Status::Failed => writeln!(
            md,
            "**❌ FAILED** - {} of {} objectives broken{}\n",
            v.failures().count(),
            v.checks.len(),
            v.baseline.as_ref().map_or(String::new(), |b| format!(
                ", {} regression(s) against the baseline",
                b.count(Change::Regressed)
            ))
        ),
        Status::Inconclusive => writeln!(
            md,
            "**⚠️ INCONCLUSIVE** - {}\n",
            v.inconclusive_reasons()
                .next()
                .map_or(String::new(), words::headline)
        ),
    };
    let _ = writeln!(md, "**Test Configuration:**");
    let _ = writeln!(md, "- Scenario: {}", res.scenario.name);
    let _ = writeln!(md, "- Users: {}", res.scenario.users);
    let _ = writeln!(md, "- Duration: {:.0}s", res.duration_s);
    let _ = writeln!(
        md,
        "- Budget: {}{}",
        v.budget,
        v.environment
            .as_deref()
            .map_or(String::new(), |e| format!(" (environment {e})"))
    );
    let _ = writeln!(
        md,
        "- Commit: {}\n",
        short_commit(res.git.commit.as_deref(), "unknown")
    );
    let t = &res.total;
    let s = &t.summary;
    let _ = writeln!(md, "**Performance Metrics:**");
    let _ = writeln!(md, "- Total Requests: {}", thousands(t.requests));
    let _ = writeln!(md, "- Failed Requests: {}", thousands(t.failures));
    let _ = writeln!(md, "- Requests/sec: {:.1}", s.rps);
    let _ = writeln!(md, "- Average Latency: {}ms", ms_of(t, s.avg_ms));
    let _ = writeln!(md, "- 95th Percentile: {}ms", ms_of(t, s.p95_ms));
    let _ = writeln!(md, "- 99th Percentile: {}ms", ms_of(t, s.p99_ms));
    let _ = writeln!(md, "- Failure Rate: {}\n", pct2(s.error_rate));
    if v.failures().count() > 0 {
        let _ = writeln!(md, "**Violations:**");
        for c in v.failures() {
            let _ = writeln!(md, "- 🔴 {}", text(&words::check(c)));
        }
        md.push('\n');
    }
    for a in v.alerts.iter().filter(|a| a.triggered) {
        let _ = writeln!(
            md,
            "**⚠️ {} alert:** {}\n",
            text(&a.level),
            text(&a.description)
        );
    }
    for n in &v.notes {
        let _ = writeln!(md, "> {}\n", text(&words::note(n)));
    }
    if !res.checks.is_empty() {
        let _ = writeln!(md, "**Checks:**");
        for c in &res.checks {
            let _ = writeln!(md, "- {}", text(&words::soft_check(c)));
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "<details><summary>Objectives ({} held of {})</summary>\n",
        v.checks
            .iter()
            .filter(|c| c.outcome == Outcome::Pass)
            .count(),
        v.checks.len()
    );
    for c in &v.checks {
        let mark = if c.outcome == Outcome::Pass {
            "✅"
        } else {
            "❌"
        };
        let _ = writeln!(md, "- {mark} {}", text(&words::check(c)));
    }
    let _ = writeln!(md, "\n</details>\n");
    if let Some(b) = &v.baseline {
        baseline_table(&mut md, b);
    }
    let _ = writeln!(
        md,
        "| Endpoint | Requests | Failures | Avg (ms) | p95 (ms) | p99 (ms) | RPS |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|");
    for e in &res.endpoints {
        let m = &e.summary;
        let _ = writeln!(
            md,
            "| {} {} | {} | {} | {} | {} | {} | {:.1} |",
            e.method,
            escape(&e.name),
            thousands(e.requests),
            thousands(e.failures),
            ms_of(e, m.avg_ms),
            ms_of(e, m.p95_ms),
            ms_of(e, m.p99_ms),
            m.rps
        );
    }
    md
}

/// ▲/▼ per metric and endpoint against the baseline's commit.
fn baseline_table(md: &mut String, b: &Baseline) {
    let _ =
        writeln!(
        md,
        "**Against baseline** `{}`{} — {} regressed, {} improved, {} unchanged, {} inconclusive\n",
        short_commit(b.commit.as_deref(), "unknown commit"),
        b.branch.as_deref().map_or(String::new(), |br| format!(" ({br})")),
        b.count(Change::Regressed),
        b.count(Change::Improved),
        b.count(Change::Unchanged),
        b.count(Change::Inconclusive)
    );
    let _ = writeln!(
        md,
        "| Scope | Metric | Baseline | Current | Change | Rule | |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---|---|");
    for c in &b.comparisons {
        let m = c.rule.metric;
        let scope = c
            .rule
            .scope
            .label()
            .map_or("Total".to_string(), |n| escape(&n));
        let value = |v: Option<f64>| v.map_or("–".to_string(), |v| value(m, v));
        let arrow = match c.delta {
            Some(d) if d > 0.0 => "▲ ",
            Some(d) if d < 0.0 => "▼ ",
            _ => "",
        };
        let delta = c
            .delta
            .map_or("–".to_string(), |d| format!("{arrow}{}", signed_pct(d)));
        let mark = match c.change {
            Change::Regressed => "🔴 regressed",
            Change::Improved => "🟢 improved",
            Change::Unchanged => "unchanged",
            Change::Inconclusive => "⚪ inconclusive",
        };
        let _ = writeln!(
            md,
            "| {scope} | {m} | {} | {} | {delta} | `{}` | {mark} |",
            value(c.baseline),
            value(c.current),
            escape(&c.rule.text)
        );
    }
    md.push('\n');
}

/// Keeps free text (a failure reason a target supplied, a config's names) from opening
/// markup: a raw `<!--` would hide the rest of a PR comment.
fn text(s: &str) -> String {
    s.replace('<', "&lt;")
}

/// Keeps endpoint names from breaking the table or injecting markup.
fn escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
