//! The Grafana dashboard: valid JSON, every query names only metrics perfgate exports,
//! and every variable it uses is defined. (tests/export.rs runs its queries against a
//! real Prometheus fed by perfgate.)

use perfgate::export::prometheus::METRICS;

fn dashboard() -> serde_json::Value {
    let text = include_str!("../grafana/perfgate-dashboard.json");
    serde_json::from_str(text).expect("the dashboard is JSON")
}

/// Every PromQL expression of the dashboard's panels.
fn exprs(d: &serde_json::Value) -> Vec<String> {
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

fn words(expr: &str) -> impl Iterator<Item = &str> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
}

#[test]
fn every_query_names_exported_metrics_and_defined_variables() {
    let d = dashboard();
    let defined: Vec<String> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("${}", v["name"].as_str().unwrap()))
        .collect();
    let exprs = exprs(&d);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let mut used = std::collections::BTreeSet::new();
    for e in &exprs {
        let metrics: Vec<&str> = words(e).filter(|w| w.starts_with("perfgate_")).collect();
        for m in &metrics {
            assert!(METRICS.contains(m), "{m} in {e:?} is not exported");
            used.insert(m.to_string());
        }
        assert!(
            !metrics.is_empty() || e.starts_with("vector($"),
            "{e:?} reads no perfgate metric and is not a budget line"
        );
        for v in words(e).filter(|w| w.starts_with('$') && !w.starts_with("$__")) {
            assert!(
                defined.iter().any(|d| d == v),
                "{v} in {e:?} is not defined"
            );
        }
    }
    for m in [
        "perfgate_requests_total",
        "perfgate_request_duration_seconds_bucket",
        "perfgate_request_failures_total",
        "perfgate_active_users",
    ] {
        assert!(used.contains(m), "no panel shows {m}");
    }
    for p in d["panels"].as_array().unwrap() {
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
    }
}
