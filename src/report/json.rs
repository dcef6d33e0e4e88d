//! The verdict as JSON (documented in docs/verdict.md): status, each objective with its
//! measured value, limit, margin, scope and the sentence the other formats print, the
//! alerts, the notes and the baseline comparison.

use serde_json::{json, Value};

use super::{words, Report};

pub fn render(r: &Report<'_>) -> String {
    let v = r.verdict;
    let mut verdict = serde_json::to_value(v).expect("verdict serialises");
    for (i, c) in v.checks.iter().enumerate() {
        verdict["checks"][i]["message"] = words::check(c).into();
    }
    for (i, a) in v.alerts.iter().enumerate() {
        for (j, c) in a.checks.iter().enumerate() {
            verdict["alerts"][i]["checks"][j]["message"] = words::check(c).into();
        }
    }
    verdict["notes"] = v.notes.iter().map(words::note).collect::<Vec<_>>().into();
    if let Some(c) = &v.capacity {
        verdict["capacity"]["conclusion"] = super::capacity::conclusion(c).into();
        for (i, s) in c.steps.iter().enumerate() {
            let why = super::capacity::broke(&s.broke, s.dropped_share);
            verdict["capacity"]["steps"][i]["reasons"] = why.into();
        }
    }
    if let Some(b) = &v.baseline {
        for (i, c) in b.comparisons.iter().enumerate() {
            verdict["baseline"]["comparisons"][i]["message"] = words::comparison(c).into();
        }
    }
    let mut doc: Value = json!({
        "schema_version": crate::metrics::SCHEMA_VERSION,
        "scenario": r.result.scenario.name,
        "target": r.result.target,
        "commit": r.result.git.commit,
        "verdict": verdict,
    });
    if r.result.tls_insecure {
        doc["tls_insecure"] = true.into();
        doc["warning"] = words::INSECURE.into();
    }
    serde_json::to_string_pretty(&doc).expect("verdict serialises") + "\n"
}
