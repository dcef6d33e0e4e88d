//! The terminal: a Locust-style per-endpoint table, then the verdict.

use std::fmt::Write;

use super::format::{ms_of, pct2, short_commit, thousands};
use super::{words, Report};
use crate::gate::{Outcome, Status};
use crate::regress::Change;

/// Colours on a terminal unless NO_COLOR is set.
pub struct Paint(pub bool);

impl Paint {
    /// Colour when stdout is a terminal and `color` (NO_COLOR unset or empty).
    pub fn stdout(color: bool) -> Paint {
        use std::io::IsTerminal;
        Paint(color && std::io::stdout().is_terminal())
    }

    /// The same rule for stderr (progress lines).
    pub fn stderr(color: bool) -> Paint {
        use std::io::IsTerminal;
        Paint(color && std::io::stderr().is_terminal())
    }
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn red(&self, t: &str) -> String {
        self.wrap("1;31", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.wrap("1;32", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.wrap("1;33", t)
    }
}

/// The summary table and the verdict, as printed at the end of a run.
pub fn terminal(r: &Report<'_>, paint: &Paint) -> String {
    // A search printed its steps as they ran: its answer is what is left to say.
    if let Some(c) = &r.verdict.capacity {
        return super::capacity::conclusion(c) + "\n";
    }
    let mut out = table(r);
    out.push('\n');
    if r.result.tls_insecure {
        let _ = writeln!(out, "{} {}", paint.red("WARNING:"), words::INSECURE);
    }
    out.push_str(&verdict_block(r, paint));
    out
}

fn table(r: &Report<'_>) -> String {
    let res = r.result;
    let named: Vec<String> = res
        .endpoints
        .iter()
        .map(super::format::tagged_name)
        .collect();
    let width = named
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(5)
        .max(8);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$} {:>6} {:>9} {:>14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "Endpoint",
        "Method",
        "Requests",
        "Failures",
        "Avg ms",
        "Min ms",
        "Max ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "RPS"
    );
    let row = |out: &mut String, name: &str, method: &str, s: &crate::metrics::Stats| {
        let m = &s.summary;
        let fails = format!("{} ({})", thousands(s.failures), pct2(m.error_rate));
        let _ = writeln!(
            out,
            "{:<width$} {:>6} {:>9} {:>14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8.1}",
            name,
            method,
            thousands(s.requests),
            fails,
            ms_of(s, m.avg_ms),
            ms_of(s, m.min_ms),
            ms_of(s, m.max_ms),
            ms_of(s, m.p50_ms),
            ms_of(s, m.p95_ms),
            ms_of(s, m.p99_ms),
            m.rps
        );
    };
    for (e, name) in res.endpoints.iter().zip(&named) {
        row(&mut out, name, &e.method, e);
    }
    let _ = writeln!(out, "{}", "-".repeat(width + 101));
    row(&mut out, "Total", "", &res.total);
    let t = &res.total;
    let mut extra = Vec::new();
    if t.interrupted > 0 {
        let mut on: Vec<(&str, u64)> = res
            .endpoints
            .iter()
            .filter(|e| e.interrupted > 0 && !crate::metrics::is_transaction(&e.name))
            .map(|e| (e.name.as_str(), e.interrupted))
            .collect();
        on.sort_by_key(|e| std::cmp::Reverse(e.1));
        let shown: Vec<String> = on
            .iter()
            .take(3)
            .map(|(name, n)| format!("{} on {name}", thousands(*n)))
            .collect();
        let more = if on.len() > 3 { ", …" } else { "" };
        extra.push(format!(
            "{} in flight at the stop (not counted: {}{more})",
            thousands(t.interrupted),
            shown.join(", ")
        ));
    }
    if t.retries > 0 {
        extra.push(format!(
            "{} sent again after a kept-alive connection closed",
            thousands(t.retries)
        ));
    }
    if t.http2_connections > 0 {
        extra.push(format!(
            "HTTP/2 on {} of {} connections",
            thousands(t.http2_connections),
            thousands(t.connect.count())
        ));
    }
    if t.messages_sent + t.messages_received > 0 {
        extra.push(format!(
            "WebSocket messages: {} sent, {} received",
            thousands(t.messages_sent),
            thousands(t.messages_received)
        ));
    }
    if t.dropped > 0 {
        extra.push(format!(
            "{} arrivals dropped (no free user)",
            thousands(t.dropped)
        ));
    }
    for (reason, n) in &t.failure_reasons {
        extra.push(format!("{} × {reason}", thousands(*n)));
    }
    let _ = writeln!(
        out,
        "\n{} scenario, {} against {}, {:.1}s{}",
        res.scenario.name,
        super::load_text(&res.scenario),
        res.target,
        res.duration_s,
        if extra.is_empty() {
            String::new()
        } else {
            format!("; {}", extra.join("; "))
        }
    );
    if !res.checks.is_empty() {
        out.push_str("\nChecks:\n");
        for c in &res.checks {
            let _ = writeln!(out, "  {}", words::soft_check(c));
        }
    }
    out
}

/// PASSED / FAILED / INCONCLUSIVE, then one line per violation, then alerts.
pub fn verdict_block(r: &Report<'_>, paint: &Paint) -> String {
    let v = r.verdict;
    let mut out = String::new();
    let env = v
        .environment
        .as_deref()
        .map_or(String::new(), |e| format!(", environment {e}"));
    let held = v
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Pass)
        .count();
    let regressed = v
        .baseline
        .as_ref()
        .map_or(0, |b| b.count(Change::Regressed));
    // Regressions fail a run whose objectives all held: "but" says why it failed.
    let against = match (regressed, held == v.checks.len()) {
        (0, _) => String::new(),
        (1, all) => format!(
            "{} 1 comparison with the baseline regressed",
            if all { ", but" } else { ";" }
        ),
        (n, all) => format!(
            "{} {n} comparisons with the baseline regressed",
            if all { ", but" } else { ";" }
        ),
    };
    let head = format!(
        "{held}/{} objectives held{against} (budget {}{env})",
        v.checks.len(),
        v.budget
    );
    if let Some(text) = super::interrupted_text(r.result) {
        let _ = writeln!(out, "{} {text} (exit 3)", paint.yellow("INTERRUPTED"));
    }
    let _ = match v.status {
        Status::Passed => writeln!(out, "{} {head}", paint.green("PASSED")),
        Status::Failed => writeln!(out, "{} {head}", paint.red("FAILED")),
        Status::Inconclusive => writeln!(out, "{} {head}", paint.yellow("INCONCLUSIVE")),
    };
    for c in v.failures() {
        let _ = writeln!(out, "  {} {}", paint.red("✗"), words::check(c));
    }
    for c in v.checks.iter().filter(|c| c.outcome == Outcome::Pass) {
        let _ = writeln!(out, "  {} {}", paint.green("✓"), words::check(c));
    }
    for a in v.alerts.iter().filter(|a| a.triggered) {
        let _ = writeln!(
            out,
            "  {} {} alert: {}",
            paint.yellow("!"),
            a.level,
            a.description
        );
        for c in a.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
            let _ = writeln!(out, "      {}", words::check(c));
        }
    }
    for n in &v.notes {
        let _ = writeln!(out, "  {} {}", paint.yellow("note:"), words::note(n));
    }
    out.push_str(&baseline_block(r, paint, false));
    out
}

/// "Against baseline 0123456 (main): 1 regressed, 0 improved, 9 unchanged", then a line
/// per comparison (`all`) or per comparison that is not unchanged.
pub fn baseline_block(r: &Report<'_>, paint: &Paint, all: bool) -> String {
    let Some(b) = &r.verdict.baseline else {
        return String::new();
    };
    let mut out = format!(
        "\nAgainst baseline {} ({}{}): {} regressed, {} improved, {} unchanged, {} inconclusive ({:.0}% confidence)\n",
        short_commit(b.commit.as_deref(), "unknown commit"),
        b.source,
        b.branch.as_deref().map_or(String::new(), |br| format!(", branch {br}")),
        b.count(Change::Regressed),
        b.count(Change::Improved),
        b.count(Change::Unchanged),
        b.count(Change::Inconclusive),
        b.confidence * 100.0
    );
    for c in &b.comparisons {
        let mark = match c.change {
            Change::Regressed => paint.red("▲"),
            Change::Improved => paint.green("▼"),
            Change::Inconclusive => paint.yellow("?"),
            Change::Unchanged if all => "=".to_string(),
            Change::Unchanged => continue,
        };
        let _ = writeln!(out, "  {mark} {}", words::comparison(c));
    }
    out
}
