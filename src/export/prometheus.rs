//! Prometheus: the text exposition format for the scrape endpoint, and remote write
//! (protobuf, snappy-compressed) for pushing. Both carry the same series:
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `perfgate_requests_total` | counter | endpoint, method, status_class, scenario, environment |
//! | `perfgate_request_failures_total` | counter | endpoint, method, scenario, environment |
//! | `perfgate_request_duration_seconds` | histogram (`_bucket`, `_sum`, `_count`) | endpoint, method, scenario, environment, le |
//! | `perfgate_active_users` | gauge | scenario, environment |
//! | `perfgate_dropped_arrivals_total` | counter | scenario, environment |
//!
//! Latency is a real histogram, so p95/p99 can be re-aggregated across endpoints,
//! runs and instances with `histogram_quantile`.

use std::borrow::Cow;
use std::fmt::Write;

use prost::Message;

use super::snapshot::{Snapshot, BUCKETS_S};

/// Every metric name perfgate exports (the Grafana dashboard's test checks against it).
pub const METRICS: &[&str] = &[
    "perfgate_requests_total",
    "perfgate_request_failures_total",
    "perfgate_request_duration_seconds_bucket",
    "perfgate_request_duration_seconds_sum",
    "perfgate_request_duration_seconds_count",
    "perfgate_active_users",
    "perfgate_dropped_arrivals_total",
];

/// One sample: name, labels (without `__name__`), value.
type Sample = (&'static str, Vec<(Cow<'static, str>, String)>, f64);

fn samples(s: &Snapshot, scenario: &str, environment: &str) -> Vec<Sample> {
    let common = || {
        vec![
            ("scenario".into(), scenario.to_string()),
            ("environment".into(), environment.to_string()),
        ]
    };
    let mut out = Vec::new();
    for e in &s.endpoints {
        let ep = || {
            let mut l = vec![
                ("endpoint".into(), e.name.clone()),
                ("method".into(), e.method.clone()),
            ];
            l.extend(common());
            l.extend(e.tags.iter().map(|(k, v)| (tag_label(k).into(), v.clone())));
            l
        };
        for (class, n) in &e.status {
            let mut l = ep();
            l.push(("status_class".into(), class.clone()));
            out.push(("perfgate_requests_total", l, *n as f64));
        }
        out.push(("perfgate_request_failures_total", ep(), e.failures as f64));
        for (le, n) in BUCKETS_S.iter().zip(&e.buckets) {
            let mut l = ep();
            l.push(("le".into(), format!("{le}")));
            out.push(("perfgate_request_duration_seconds_bucket", l, *n as f64));
        }
        let mut inf = ep();
        inf.push(("le".into(), "+Inf".into()));
        out.push((
            "perfgate_request_duration_seconds_bucket",
            inf,
            e.count as f64,
        ));
        out.push(("perfgate_request_duration_seconds_sum", ep(), e.sum_seconds));
        out.push((
            "perfgate_request_duration_seconds_count",
            ep(),
            e.count as f64,
        ));
    }
    out.push(("perfgate_active_users", common(), s.users as f64));
    out.push((
        "perfgate_dropped_arrivals_total",
        common(),
        s.dropped as f64,
    ));
    out
}

/// A tag as a label name: letters, digits and _ ("x-team" → "x_team"), prefixed with
/// "tag_" when it would start with a digit or take the name of perfgate's own labels.
fn tag_label(key: &str) -> String {
    let name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let own = [
        "endpoint",
        "method",
        "scenario",
        "environment",
        "status_class",
        "le",
    ];
    if own.contains(&name.as_str())
        || name.starts_with(|c: char| c.is_ascii_digit())
        || name.starts_with("__")
    {
        format!("tag_{name}")
    } else {
        name
    }
}

/// The text exposition format (version 0.0.4): each metric family once, its `# TYPE`
/// line first and all its samples together (samples come endpoint by endpoint, so
/// they are grouped here, each family where it first appeared).
pub fn exposition(s: &Snapshot, scenario: &str, environment: &str) -> String {
    let family = |name: &'static str| {
        name.strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_sum"))
            .or_else(|| name.strip_suffix("_count"))
            .filter(|_| name.starts_with("perfgate_request_duration"))
            .unwrap_or(name)
    };
    let mut samples = samples(s, scenario, environment);
    let mut order: Vec<&str> = Vec::new();
    for (name, _, _) in &samples {
        if !order.contains(&family(name)) {
            order.push(family(name));
        }
    }
    // A stable sort: within a family, samples keep their order.
    samples.sort_by_key(|(name, _, _)| order.iter().position(|f| *f == family(name)));
    let mut out = String::new();
    let mut last = "";
    for (name, labels, value) in samples {
        let family = family(name);
        if family != last {
            let kind = match family {
                "perfgate_request_duration_seconds" => "histogram",
                "perfgate_active_users" => "gauge",
                _ => "counter",
            };
            let _ = writeln!(out, "# TYPE {family} {kind}");
            last = family;
        }
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
    out
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[derive(Clone, PartialEq, Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<ProtoSample>,
}

#[derive(Clone, PartialEq, Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct ProtoSample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

/// A remote-write request body: protobuf `WriteRequest`, snappy block-compressed.
pub fn remote_write(s: &Snapshot, scenario: &str, environment: &str) -> Vec<u8> {
    let timeseries = samples(s, scenario, environment)
        .into_iter()
        .map(|(name, labels, value)| {
            let mut labels: Vec<Label> = labels
                .into_iter()
                .map(|(k, v)| Label {
                    name: k.to_string(),
                    value: v,
                })
                .chain(std::iter::once(Label {
                    name: "__name__".into(),
                    value: name.into(),
                }))
                .collect();
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            TimeSeries {
                labels,
                samples: vec![ProtoSample {
                    value,
                    timestamp: s.at_ms,
                }],
            }
        })
        .collect();
    let body = WriteRequest { timeseries }.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&body)
        .expect("snappy compresses any input")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::snapshot::EndpointTotals;

    fn snapshot() -> Snapshot {
        Snapshot {
            at_ms: 1_700_000_000_000,
            endpoints: ["/a \"quoted\"", "/b"]
                .into_iter()
                .map(|name| EndpointTotals {
                    name: name.into(),
                    method: "GET".into(),
                    tags: match name {
                        "/b" => [("x-team", "perf"), ("le", "own")]
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .into(),
                        _ => Default::default(),
                    },
                    failures: 1,
                    status: vec![("2xx".into(), 9), ("5xx".into(), 1)],
                    buckets: vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10, 10],
                    count: 10,
                    sum_seconds: 0.5,
                })
                .collect(),
            users: 3,
            dropped: 0,
            seconds: vec![],
        }
    }

    #[test]
    fn exposition_has_types_escaped_labels_and_a_full_histogram() {
        let text = exposition(&snapshot(), "smoke", "ci");
        assert!(text.contains("# TYPE perfgate_request_duration_seconds histogram\n"));
        assert!(text.contains(
            "perfgate_requests_total{endpoint=\"/a \\\"quoted\\\"\",method=\"GET\",scenario=\"smoke\",environment=\"ci\",status_class=\"5xx\"} 1\n"
        ), "{text}");
        assert!(text.contains("le=\"+Inf\"} 10\n"));
        // Tags are labels: named as Prometheus allows, never taking perfgate's own.
        assert!(
            text.contains("perfgate_request_failures_total{endpoint=\"/b\",method=\"GET\",scenario=\"smoke\",environment=\"ci\",tag_le=\"own\",x_team=\"perf\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("le=\"0.001\"} 1\n"));
        // Each family once, with all its samples after its TYPE line (two endpoints
        // repeated every TYPE line: issue 13).
        assert_eq!(text.matches("# TYPE").count(), 5, "{text}");
        let mut seen = Vec::new();
        for line in text.lines() {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            let family = if family.starts_with("perfgate_request_duration") {
                family
            } else {
                name
            };
            let family = line
                .strip_prefix("# TYPE ")
                .map_or(family, |t| t.split(' ').next().unwrap());
            if seen.last() != Some(&family.to_string()) {
                assert!(
                    !seen.contains(&family.to_string()),
                    "{family} split:\n{text}"
                );
                seen.push(family.to_string());
            }
        }
    }

    #[test]
    fn remote_write_decodes_back() {
        let bytes = remote_write(&snapshot(), "smoke", "ci");
        let raw = snap::raw::Decoder::new().decompress_vec(&bytes).unwrap();
        let req = WriteRequest::decode(raw.as_slice()).unwrap();
        let names: Vec<&str> = req
            .timeseries
            .iter()
            .map(|t| {
                t.labels
                    .iter()
                    .find(|l| l.name == "__name__")
                    .unwrap()
                    .value
                    .as_str()
            })
            .collect();
        for m in METRICS {
            assert!(names.contains(m), "{m} missing");
        }
        for t in &req.timeseries {
            assert!(
                t.labels.windows(2).all(|w| w[0].name < w[1].name),
                "sorted labels"
            );
            assert_eq!(t.samples[0].timestamp, 1_700_000_000_000);
        }
    }
}
