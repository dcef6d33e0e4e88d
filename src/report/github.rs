//! GitHub Actions: `::error` annotations for violations and the Markdown appended to the
//! job summary.

use super::{words, Report};
use crate::gate::Outcome;

/// Annotation lines, printed to stdout when GITHUB_ACTIONS=true.
pub fn annotations(r: &Report<'_>) -> String {
    let mut out = String::new();
    for c in r
        .verdict
        .checks
        .iter()
        .filter(|c| c.outcome != Outcome::Pass)
    {
        let title = format!("Performance budget: {}", c.objective.metric);
        out.push_str(&format!(
            "::error title={}::{}\n",
            escape_property(&title),
            escape_data(&words::check(c))
        ));
    }
    for c in r.verdict.baseline.iter().flat_map(|b| b.regressions()) {
        out.push_str(&format!(
            "::error title={}::{}\n",
            escape_property(&format!("Performance regression: {}", c.rule.metric)),
            escape_data(&words::comparison(c))
        ));
    }
    // Exit 1 with every objective held: the annotation says why.
    for n in r.verdict.inconclusive_reasons() {
        out.push_str(&format!(
            "::error title=Performance run inconclusive::{}\n",
            escape_data(&words::note(n))
        ));
    }
    if r.result.tls_insecure {
        out.push_str(&format!(
            "::warning title=TLS not verified::{}\n",
            escape_data(words::INSECURE)
        ));
    }
    for a in r.verdict.alerts.iter().filter(|a| a.triggered) {
        out.push_str(&format!(
            "::warning title={} alert::{}\n",
            escape_property(&a.level),
            escape_data(&a.description)
        ));
    }
    out
}

/// Appends the Markdown report to the job summary (GITHUB_STEP_SUMMARY), when there is one.
pub fn step_summary(path: Option<&std::path::Path>, markdown: &str) -> std::io::Result<()> {
    use std::io::Write;
    let Some(path) = path else {
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{markdown}")
}

// GitHub's workflow-command escaping.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
