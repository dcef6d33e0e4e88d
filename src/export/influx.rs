//! InfluxDB line protocol: one point per endpoint per second, and the active users.
//!
//! ```text
//! perfgate_requests,endpoint=/api/verify-proof,method=POST,scenario=smoke,environment=ci requests=412i,failures=0i,p50_ms=1.2,p95_ms=3.4,p99_ms=5.1,max_ms=9.8 1700000000000
//! perfgate_users,scenario=smoke,environment=ci users=10i 1700000005000
//! ```
//!
//! Timestamps are in milliseconds (`precision=ms`). Summing `requests` over a run gives
//! the RunResult's request count exactly.

use std::fmt::Write;

use super::snapshot::Snapshot;

/// An endpoint's own tags, after perfgate's: ",flow=checkout" (a tag named as one of
/// perfgate's is prefixed "tag_").
fn extra_tags(tags: &std::collections::BTreeMap<String, String>) -> String {
    let own = ["endpoint", "method", "scenario", "environment"];
    tags.iter()
        .map(|(k, v)| {
            let k = if own.contains(&k.as_str()) {
                format!("tag_{k}")
            } else {
                k.clone()
            };
            format!(",{}={}", tag(&k), tag(v))
        })
        .collect()
}

pub fn lines(s: &Snapshot, scenario: &str, environment: &str) -> String {
    let common = format!(
        "scenario={},environment={}",
        tag(scenario),
        tag(environment)
    );
    let mut out = String::new();
    for (ts, points) in &s.seconds {
        for p in points {
            let _ = writeln!(
                out,
                "perfgate_requests,endpoint={},method={},{common}{} requests={}i,failures={}i,p50_ms={},p95_ms={},p99_ms={},max_ms={} {ts}",
                tag(&p.name),
                tag(if p.method.is_empty() { "none" } else { &p.method }),
                extra_tags(&p.tags),
                p.requests,
                p.failures,
                p.p50_ms,
                p.p95_ms,
                p.p99_ms,
                p.max_ms
            );
        }
    }
    let _ = writeln!(
        out,
        "perfgate_users,{common} users={}i,dropped={}i {}",
        s.users, s.dropped, s.at_ms
    );
    out
}

/// Tag values escape commas, equals signs and spaces.
fn tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '=' | ' ' | '\\') {
            out.push('\\');
        }
        if c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The write URL with `precision=ms`, and whether it is the v2 API (token auth).
pub fn endpoint(url: &str) -> (String, bool) {
    let v2 = url.contains("/api/v2/write");
    let url = if url.contains("precision=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&precision=ms")
    } else {
        format!("{url}?precision=ms")
    };
    (url, v2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::snapshot::Point;

    #[test]
    fn points_and_escaping() {
        let s = Snapshot {
            at_ms: 5,
            endpoints: vec![],
            users: 2,
            dropped: 1,
            seconds: vec![(
                1000,
                vec![Point {
                    name: "GET /a b,c=d".into(),
                    method: "GET".into(),
                    tags: [("flow", "check out"), ("method", "own")]
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .into(),
                    requests: 7,
                    failures: 1,
                    p50_ms: 1.5,
                    p95_ms: 2.0,
                    p99_ms: 3.0,
                    max_ms: 4.0,
                }],
            )],
        };
        let text = lines(&s, "smoke", "none");
        assert_eq!(
            text,
            "perfgate_requests,endpoint=GET\\ /a\\ b\\,c\\=d,method=GET,scenario=smoke,environment=none,flow=check\\ out,tag_method=own requests=7i,failures=1i,p50_ms=1.5,p95_ms=2,p99_ms=3,max_ms=4 1000\n\
             perfgate_users,scenario=smoke,environment=none users=2i,dropped=1i 5\n"
        );
        assert_eq!(
            endpoint("http://h:8086/write?db=x"),
            ("http://h:8086/write?db=x&precision=ms".into(), false)
        );
        assert!(endpoint("http://h/api/v2/write?org=o&bucket=b").1);
    }
}
