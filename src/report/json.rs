//! The verdict as JSON (documented in docs/verdict.md): status, each objective with its
//! measured value, limit, margin and scope, and the alerts.

use super::Report;

pub fn render(r: &Report<'_>) -> String {
    let doc = serde_json::json!({
        "schema_version": crate::metrics::SCHEMA_VERSION,
        "scenario": r.result.scenario.name,
        "target": r.result.target,
        "commit": r.result.git.commit,
        "verdict": r.verdict,
    });
    serde_json::to_string_pretty(&doc).expect("verdict serialises") + "\n"
}
