//! What can be measured on a run, and where: the types budgets (`gate`) and regression
//! rules (`regress`) share. How a metric reads to a person is `report::format`'s job.

use serde::Serialize;

use std::borrow::Cow;

use super::{Latency, Stats};

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Avg,
    Min,
    Max,
    /// A percentile, 0–100.
    Percentile(f64),
    ErrorRate,
    Rps,
    Requests,
    Dropped,
    /// A percentile of the time to first byte, 0–100.
    Ttfb(f64),
    /// A percentile of the connect time (TCP and TLS), 0–100.
    Connect(f64),
    /// The fraction of soft checks (`check = { ... }`) that held.
    Checks,
    /// The average response body, in bytes.
    BodySize,
    /// A percentile of a number read from responses (`metrics = { NAME = ... }`).
    Custom(&'static str, f64),
}

impl Metric {
    /// A budget or rule key (`p99`, `min_rps`, …) and the comparison it implies.
    pub fn parse(key: &str) -> Option<(Metric, Op)> {
        let m = match key {
            "avg" => (Metric::Avg, Op::AtMost),
            "min" => (Metric::Min, Op::AtMost),
            "max" => (Metric::Max, Op::AtMost),
            "error_rate" => (Metric::ErrorRate, Op::AtMost),
            "rps" | "min_rps" => (Metric::Rps, Op::AtLeast),
            "requests" | "min_requests" => (Metric::Requests, Op::AtLeast),
            "dropped" => (Metric::Dropped, Op::AtMost),
            "checks" => (Metric::Checks, Op::AtLeast),
            "avg_body" => (Metric::BodySize, Op::AtMost),
            _ if key.starts_with("ttfb_p") => (Metric::Ttfb(percentile(&key[5..])?), Op::AtMost),
            _ if key.starts_with("connect_p") => {
                (Metric::Connect(percentile(&key[8..])?), Op::AtMost)
            }
            _ if key.contains("_p") => {
                let (name, p) = key.rsplit_once('_')?;
                let ok =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return None;
                }
                (Metric::Custom(intern(name)?, percentile(p)?), Op::AtMost)
            }
            _ => (Metric::Percentile(percentile(key)?), Op::AtMost),
        };
        Some(m)
    }

    /// Throughput figures: a share of the load (a segment) has a share of them.
    pub fn scales_with_load(&self) -> bool {
        matches!(self, Metric::Rps | Metric::Requests | Metric::Dropped)
    }

    /// Measured in milliseconds: request latency, time to first byte, connect time.
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::Avg
                | Metric::Min
                | Metric::Max
                | Metric::Percentile(_)
                | Metric::Ttfb(_)
                | Metric::Connect(_)
        )
    }

    /// Whether the per-second series can judge it in windows (it holds latency, requests
    /// and failures only).
    pub fn in_series(self) -> bool {
        !matches!(
            self,
            Metric::Ttfb(_)
                | Metric::Connect(_)
                | Metric::Checks
                | Metric::BodySize
                | Metric::Custom(..)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    AtMost,
    AtLeast,
}

impl Op {
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Op::AtMost => measured <= limit,
            Op::AtLeast => measured >= limit,
        }
    }
}

/// Where an objective or a rule applies.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Total,
    Endpoint(String),
    /// `[scopes.NAME]`: the endpoints whose tags include all of `tags` (tasks timed as a
    /// whole left out: their requests are counted on their endpoints), judged together.
    Tagged {
        name: String,
        tags: Vec<(String, String)>,
    },
}

impl Scope {
    /// The statistics of this scope in `r`, if it has any.
    pub fn stats<'a>(&self, r: &'a super::RunResult) -> Option<Cow<'a, Stats>> {
        match self {
            Scope::Total => Some(Cow::Borrowed(&r.total)),
            Scope::Endpoint(name) => r.endpoint(name).map(Cow::Borrowed),
            Scope::Tagged { name, .. } => {
                let mut matching = r.endpoints.iter().filter(|e| self.selects(e)).peekable();
                matching.peek()?;
                let mut all = Stats::named(name, "");
                for e in matching {
                    all.add(e);
                }
                Some(Cow::Owned(all))
            }
        }
    }

    /// How reports name it: none for the whole run, the endpoint, or "scope NAME".
    pub fn label(&self) -> Option<String> {
        match self {
            Scope::Total => None,
            Scope::Endpoint(e) => Some(e.clone()),
            Scope::Tagged { name, .. } => Some(format!("scope {name}")),
        }
    }

    /// Whether an endpoint is in this scope.
    pub fn selects(&self, e: &Stats) -> bool {
        match self {
            Scope::Total => !is_transaction(&e.name),
            Scope::Endpoint(name) => e.name == *name,
            Scope::Tagged { tags, .. } => {
                !is_transaction(&e.name) && tags.iter().all(|(k, v)| e.tags.get(k) == Some(v))
            }
        }
    }
}

/// The metric's value on `s` (ms for latency, a fraction for error_rate, per second for
/// rps, else a count), or None when there is nothing to measure it on.
pub fn measure(metric: Metric, s: &Stats, duration_s: f64) -> Option<f64> {
    let l = &s.latency;
    let latency = |f: &dyn Fn(&Latency) -> f64| (l.count() > 0).then(|| f(l));
    match metric {
        Metric::Avg => latency(&|l| l.mean_us() / 1000.0),
        Metric::Min => latency(&|l| l.min_us() as f64 / 1000.0),
        Metric::Max => latency(&|l| l.max_us() as f64 / 1000.0),
        Metric::Percentile(p) => latency(&|l| l.percentile_us(p) as f64 / 1000.0),
        Metric::ErrorRate => (s.requests > 0).then(|| s.error_rate()),
        Metric::Rps => (duration_s > 0.0).then(|| s.requests as f64 / duration_s),
        Metric::Requests => Some(s.requests as f64),
        Metric::Dropped => Some(s.dropped as f64),
        Metric::Ttfb(p) => (s.ttfb.count() > 0).then(|| s.ttfb.percentile_us(p) as f64 / 1000.0),
        Metric::Connect(p) => {
            (s.connect.count() > 0).then(|| s.connect.percentile_us(p) as f64 / 1000.0)
        }
        Metric::Checks => {
            let all = s.checks_passed + s.checks_failed;
            (all > 0).then(|| s.checks_passed as f64 / all as f64)
        }
        Metric::Custom(name, p) => s
            .metrics
            .get(name)
            .filter(|l| l.count() > 0)
            .map(|l| l.percentile_us(p) as f64 / 1000.0),
        // Over the responses (requests with a latency: answered, failed or not).
        Metric::BodySize => {
            let answered = s.latency.count();
            (answered > 0).then(|| s.body_bytes as f64 / answered as f64)
        }
    }
}

/// The one copy of a metric name kept for the process's life, so `Metric` stays `Copy`;
/// at most 256 names (a config has a few).
fn intern(name: &str) -> Option<&'static str> {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return Some(n);
    }
    if names.len() >= 256 {
        return None;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    Some(n)
}

/// "95" of "p95": a percentile from 0 to 100.
/// `p99.9` → 99.9: 0 to 100, at most four decimals (beyond them a percentile is not
/// one a histogram of 3 significant digits tells apart, and "p99.99999999999999999999"
/// would read as p100).
fn percentile(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('p')?;
    if digits.split_once('.').is_some_and(|(_, d)| d.len() > 4) {
        return None;
    }
    let p: f64 = digits.parse().ok()?;
    (0.0..=100.0).contains(&p).then_some(p)
}

/// How the load was offered: virtual users looping, arrivals at a rate, or both at once
/// (a scenario that includes scenarios of each model).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    #[default]
    Closed,
    Open,
    Mixed,
}

/// Whether an endpoint row is a task timed as a whole ("task:checkout"): its requests are
/// already counted on their own endpoints, so totals leave it out.
pub fn is_transaction(name: &str) -> bool {
    name.starts_with(crate::config::TRANSACTION)
}
