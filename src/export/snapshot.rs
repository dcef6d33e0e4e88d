//! What the exporters send: cumulative counters and histogram buckets per endpoint (for
//! Prometheus), and the per-second points that closed since the last push (for InfluxDB).

use crate::metrics::{Collector, Interval, Latency, RunResult, Stats};

/// Histogram bucket bounds in seconds: the Prometheus client default range, finer at the
/// low end where HTTP latencies live.
pub const BUCKETS_S: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// One endpoint, cumulative since the start of the run.
pub struct EndpointTotals {
    pub name: String,
    pub method: String,
    pub tags: std::collections::BTreeMap<String, String>,
    pub failures: u64,
    /// ("2xx", n), ("none", n), …; adds up to the completed requests.
    pub status: Vec<(String, u64)>,
    /// Samples at or below each of `BUCKETS_S`.
    pub buckets: Vec<u64>,
    pub count: u64,
    pub sum_seconds: f64,
}

/// One endpoint's second.
pub struct Point {
    pub name: String,
    pub method: String,
    pub tags: std::collections::BTreeMap<String, String>,
    pub requests: u64,
    pub failures: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub struct Snapshot {
    /// Unix time in milliseconds.
    pub at_ms: i64,
    pub endpoints: Vec<EndpointTotals>,
    pub users: u64,
    pub dropped: u64,
    /// Closed seconds not yet sent: (unix ms at the start of the second, points).
    pub seconds: Vec<(i64, Vec<Point>)>,
}

impl EndpointTotals {
    pub fn of(s: &Stats) -> EndpointTotals {
        EndpointTotals {
            name: s.name.clone(),
            method: s.method.clone(),
            tags: s.tags.clone(),
            failures: s.failures,
            status: s
                .status_classes
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            buckets: buckets(&s.latency),
            count: s.latency.count(),
            sum_seconds: s.latency.mean_us() * s.latency.count() as f64 / 1e6,
        }
    }
}

/// Cumulative bucket counts in one pass over the recorded values.
fn buckets(l: &Latency) -> Vec<u64> {
    let bounds: Vec<u64> = BUCKETS_S.iter().map(|s| (s * 1e6) as u64).collect();
    let mut out = vec![0; bounds.len()];
    for (us, n) in l.recorded() {
        if let Some(first) = bounds.iter().position(|b| us <= *b) {
            out[first] += n;
        }
    }
    for i in 1..out.len() {
        out[i] += out[i - 1];
    }
    out
}

/// An interval's points; `endpoints` give each its method and tags.
pub fn points(i: &Interval, endpoints: &[Stats]) -> Vec<Point> {
    i.endpoints
        .iter()
        .filter(|e| e.requests > 0)
        .map(|e| {
            let l = e.latency.unpack();
            let ms = |p: f64| l.percentile_us(p) as f64 / 1000.0;
            let of = endpoints.iter().find(|s| s.name == e.name);
            Point {
                name: e.name.clone(),
                method: of.map_or(String::new(), |s| s.method.clone()),
                tags: of.map_or_else(Default::default, |s| s.tags.clone()),
                requests: e.requests,
                failures: e.failures,
                p50_ms: ms(50.0),
                p95_ms: ms(95.0),
                p99_ms: ms(99.0),
                max_ms: if l.count() > 0 {
                    l.max_us() as f64 / 1000.0
                } else {
                    0.0
                },
            }
        })
        .collect()
}

/// A snapshot of a running load: `seconds` are the closed ones from `from_t` on.
pub fn live(c: &Collector, start_ms: i64, from_t: u64) -> (Snapshot, u64) {
    let mut next = from_t;
    let seconds = c
        .closed_intervals(from_t)
        .map(|i| {
            next = i.t + 1;
            (start_ms + i.t as i64 * 1000, points(i, &c.endpoints))
        })
        .collect();
    let snap = Snapshot {
        at_ms: now_ms(),
        endpoints: c.endpoints.iter().map(EndpointTotals::of).collect(),
        users: c.users(),
        dropped: c.total().dropped,
        seconds,
    };
    (snap, next)
}

/// The final snapshot, from the finished result: every count equals the RunResult's.
pub fn last(r: &RunResult, start_ms: i64, from_t: u64) -> Snapshot {
    Snapshot {
        at_ms: now_ms(),
        endpoints: r.endpoints.iter().map(EndpointTotals::of).collect(),
        users: 0,
        dropped: r.total.dropped,
        seconds: r
            .series
            .iter()
            .filter(|i| i.t >= from_t)
            .map(|i| (start_ms + i.t as i64 * 1000, points(i, &r.endpoints)))
            .collect(),
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
