//! What can be measured on a run, and where: the types budgets (`gate`) and regression
//! rules (`regress`) share. How a metric reads to a person is `report::format`'s job.

use serde::Serialize;

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
            _ => {
                let p: f64 = key.strip_prefix('p')?.parse().ok()?;
                if !(0.0..=100.0).contains(&p) {
                    return None;
                }
                (Metric::Percentile(p), Op::AtMost)
            }
        };
        Some(m)
    }

    /// Throughput figures: a share of the load (a segment) has a share of them.
    pub fn scales_with_load(&self) -> bool {
        matches!(self, Metric::Rps | Metric::Requests | Metric::Dropped)
    }

    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::Avg | Metric::Min | Metric::Max | Metric::Percentile(_)
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
}

impl Scope {
    /// The statistics of this scope in `r`, if it has any.
    pub fn stats<'a>(&self, r: &'a super::RunResult) -> Option<&'a Stats> {
        match self {
            Scope::Total => Some(&r.total),
            Scope::Endpoint(name) => r.endpoint(name),
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
    }
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
