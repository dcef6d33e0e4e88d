//! Judging a `RunResult` against a `Budget`: every objective ends as pass, fail or no
//! data (which fails: a budget never passes silently on zero samples).

use serde::Serialize;

use super::budget::{Metric, Objective, Op, Scope};
use super::Budget;
use crate::metrics::{Collector, Latency, RunResult, Stats, StopReason};
use crate::regress::Baseline;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    NoData,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// The load generator was the bottleneck (the numbers describe perfgate), or every
    /// request failed (nothing of the service's performance was measured).
    Inconclusive,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub objective: Objective,
    /// In the objective's unit; for windowed objectives, the fraction of windows that held.
    pub measured: Option<f64>,
    pub outcome: Outcome,
    /// Headroom in the limit's unit: positive when holding, negative when failing.
    pub margin: Option<f64>,
    /// One line a person can act on.
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AlertResult {
    pub level: String,
    pub description: String,
    pub triggered: bool,
    pub checks: Vec<Check>,
}

/// The gate's answer; its JSON form is documented in docs/verdict.md.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub status: Status,
    pub budget: String,
    pub environment: Option<String>,
    pub checks: Vec<Check>,
    pub alerts: Vec<AlertResult>,
    /// Why the run is inconclusive, interrupted or aborted, in words.
    pub notes: Vec<String>,
    /// The comparison with a baseline run, when one was given.
    pub baseline: Option<Baseline>,
}

impl Verdict {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome != Outcome::Pass)
    }

    /// Why the run is inconclusive, in words (the notes that say so); none otherwise.
    pub fn inconclusive_reasons(&self) -> impl Iterator<Item = &str> {
        let inconclusive = self.status == Status::Inconclusive;
        self.notes
            .iter()
            .filter(move |n| inconclusive && n.starts_with(INCONCLUSIVE))
            .map(String::as_str)
    }

    /// Adds the baseline comparison; a regression fails the verdict.
    pub fn with_baseline(mut self, b: Baseline) -> Verdict {
        if b.regressions().next().is_some() {
            self.status = Status::Failed;
        }
        self.baseline = Some(b);
        self
    }
}

/// How a note saying why the run is inconclusive begins.
const INCONCLUSIVE: &str = "inconclusive: ";

pub fn evaluate(budget: &Budget, result: &RunResult) -> Verdict {
    let where_ = budget.environment.as_deref().unwrap_or(&budget.name);
    // A segment carries a share of the load: its throughput says nothing alone.
    let judged = |o: &&Objective| result.scenario.segment.is_none() || !o.metric.scales_with_load();
    let checks: Vec<Check> = budget
        .objectives
        .iter()
        .filter(judged)
        .map(|o| check(o, result, where_))
        .collect();
    let alerts = budget
        .alerts
        .iter()
        .map(|a| {
            let checks: Vec<Check> = a
                .objectives
                .iter()
                .filter(judged)
                .map(|o| check(o, result, &a.name))
                .collect();
            AlertResult {
                level: a.name.clone(),
                description: a.description.clone(),
                triggered: checks.iter().any(|c| c.outcome == Outcome::Fail),
                checks,
            }
        })
        .collect();
    let mut notes = Vec::new();
    if let Some(seg) = &result.scenario.segment {
        notes.push(format!(
            "segment {seg} of the load: throughput objectives (rps, requests, dropped) are judged when `perfgate check` merges every segment's result"
        ));
    }
    match result.stop {
        StopReason::Interrupted => {
            notes.push("the run was interrupted: results are partial".to_string())
        }
        StopReason::Aborted => {
            notes.push("the run was stopped early by an abort_on_fail objective".to_string())
        }
        StopReason::Completed => {}
    }
    if let Some(n) = dropped_note(result, &checks) {
        notes.push(n);
    }
    if result.generator.overloaded {
        notes.push(format!(
            "{INCONCLUSIVE}the load generator was the bottleneck ({}); the numbers describe perfgate, not the service",
            result.generator.notes.join("; ")
        ));
    }
    if checks.is_empty() {
        notes.push("no budget objectives: nothing was judged (add [budgets.*] or [endpoints.*] to perfgate.toml)".into());
    }
    let failed =
        checks.iter().any(|c| c.outcome != Outcome::Pass) || result.stop == StopReason::Aborted;
    // A service that failed every request showed nothing of its performance: when no
    // objective failed on that, the run cannot pass.
    let never_answered = if failed {
        None
    } else {
        never_answered_note(result)
    };
    let unjudgeable = never_answered.is_some();
    notes.extend(never_answered);
    // An overloaded generator measured itself: even failures may be its own doing.
    let status = if result.generator.overloaded || unjudgeable {
        Status::Inconclusive
    } else if failed {
        Status::Failed
    } else {
        Status::Passed
    };
    Verdict {
        status,
        budget: budget.name.clone(),
        environment: budget.environment.clone(),
        checks,
        alerts,
        notes,
        baseline: None,
    }
}

/// Every request failed: latency objectives would judge how fast the failures came (a
/// refused connection takes 0.2 ms), so the run cannot pass on them.
fn never_answered_note(result: &RunResult) -> Option<String> {
    let t = &result.total;
    if t.requests == 0 || t.failures < t.requests {
        return None;
    }
    let why = t
        .failure_reasons
        .iter()
        .max_by_key(|(_, n)| **n)
        .map_or(String::new(), |(reason, n)| format!(" ({n} × {reason})"));
    Some(format!(
        "{INCONCLUSIVE}every one of the {} requests failed{why}: nothing about the service's performance was measured; check the target, and bound error_rate in the budget",
        t.requests
    ))
}

/// Arrivals dropped in the open model mean the service got less load than the scenario
/// asks: said beside the verdict unless a `dropped` objective already judges it.
fn dropped_note(result: &RunResult, checks: &[Check]) -> Option<String> {
    let t = &result.total;
    let judged = checks.iter().any(|c| c.objective.metric == Metric::Dropped);
    if t.dropped == 0 || judged {
        return None;
    }
    let scheduled = t.requests + t.interrupted + t.dropped;
    let pct = 100.0 * t.dropped as f64 / scheduled as f64;
    // Users stay busy when perfgate cannot run them: then more users would not help.
    let fix = if result.generator.overloaded {
        "the load generator could not keep up (below): give it more cores, or split the load with --segment"
    } else {
        "raise max_users (--users) or bound `dropped` in the budget"
    };
    Some(format!(
        "{} of {scheduled} arrivals ({pct:.1}%) were dropped for want of a free user: the service got {:.1}% of the load asked; {fix}",
        t.dropped,
        100.0 - pct,
    ))
}

/// Live `abort_on_fail`: the first upper-bound objective past its grace delay that fails
/// on the data so far. Lower bounds (min_rps, min_requests) are judged only at the end.
pub fn live_abort(budget: &Budget, collector: &Collector, elapsed: f64) -> Option<String> {
    let total = collector.total();
    budget
        .objectives
        .iter()
        .filter(|o| o.abort_after_s.is_some_and(|grace| elapsed >= grace) && o.op == Op::AtMost)
        .find_map(|o| {
            let v = live_value(o, collector, &total, elapsed)?;
            (!o.op.holds(v, o.limit)).then(|| line(o, Some(v), false, "abort_on_fail"))
        })
}

/// The upper-bound objectives failing on the data so far, named shortly ("p99 latency
/// on /api/verify-proof"), for live progress.
pub fn live_failing(budget: &Budget, collector: &Collector, elapsed: f64) -> Vec<String> {
    let total = collector.total();
    budget
        .objectives
        .iter()
        .filter(|o| o.op == Op::AtMost)
        .filter(|o| {
            live_value(o, collector, &total, elapsed).is_some_and(|v| !o.op.holds(v, o.limit))
        })
        .map(|o| match &o.scope {
            Scope::Total => o.metric.to_string(),
            Scope::Endpoint(e) => format!("{} on {e}", o.metric),
        })
        .collect()
}

fn live_value(o: &Objective, c: &Collector, total: &Stats, elapsed: f64) -> Option<f64> {
    if o.window.is_some() {
        return None;
    }
    let stats = match &o.scope {
        Scope::Total => Some(total),
        Scope::Endpoint(name) => c.endpoints.iter().find(|e| &e.name == name),
    };
    measure(o.metric, stats?, elapsed)
}

fn check(o: &Objective, r: &RunResult, where_: &str) -> Check {
    let measured = match &o.window {
        Some(w) => windows_held(o, w, r),
        None => stats_for(&o.scope, r).and_then(|s| measure(o.metric, s, r.duration_s)),
    };
    let (outcome, margin) = match measured {
        None => (Outcome::NoData, None),
        Some(v) => {
            let ok = match &o.window {
                Some(w) => v >= w.at_least,
                None => o.op.holds(v, o.limit),
            };
            let margin = match o.op {
                Op::AtMost => o.limit - v,
                Op::AtLeast => v - o.limit,
            };
            (
                if ok { Outcome::Pass } else { Outcome::Fail },
                o.window.is_none().then_some(margin),
            )
        }
    };
    let message = line(o, measured, outcome == Outcome::Pass, where_);
    Check {
        objective: o.clone(),
        measured,
        outcome,
        margin,
        message,
    }
}

/// e.g. "p99 latency 212 ms > 150 ms budget on /api/verify-proof (production)".
fn line(o: &Objective, measured: Option<f64>, holds: bool, where_: &str) -> String {
    let on = match &o.scope {
        Scope::Total => String::new(),
        Scope::Endpoint(e) => format!(" on {e}"),
    };
    let origin = if o.origin.is_empty() || o.origin == where_ {
        where_.to_string()
    } else {
        format!("{where_}, {}", o.origin)
    };
    match (measured, &o.window) {
        (None, _) => format!(
            "{}: no data{on} — nothing was measured, so the budget cannot hold ({origin})",
            o.metric
        ),
        (Some(v), None) => format!(
            "{} {} {} {} budget{on} ({origin})",
            o.metric,
            o.metric.format(v),
            o.op.symbol(holds),
            o.metric.format(o.limit)
        ),
        (Some(v), Some(w)) => format!(
            "{} {} {} held in {:.0}% of {}s windows{} (needs {:.0}%){on} ({origin})",
            o.metric,
            if o.op == Op::AtMost { "≤" } else { "≥" },
            o.metric.format(o.limit),
            v * 100.0,
            w.seconds,
            if w.after_s > 0.0 {
                format!(" after {:.0}s", w.after_s)
            } else {
                String::new()
            },
            w.at_least * 100.0
        ),
    }
}

fn stats_for<'a>(scope: &Scope, r: &'a RunResult) -> Option<&'a Stats> {
    match scope {
        Scope::Total => Some(&r.total),
        Scope::Endpoint(name) => r.endpoint(name),
    }
}

/// The metric's value on `s`, or None when there is nothing to measure it on.
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

/// The fraction of windows (after the warm-up) in which the objective held.
fn windows_held(o: &Objective, w: &super::Window, r: &RunResult) -> Option<f64> {
    let mut windows: std::collections::BTreeMap<u64, Stats> = Default::default();
    for i in &r.series {
        if (i.t as f64) < w.after_s {
            continue;
        }
        let k = (i.t - w.after_s as u64) / w.seconds;
        let slot = windows.entry(k).or_default();
        slot.dropped += i.dropped;
        for e in &i.endpoints {
            if let Scope::Endpoint(name) = &o.scope {
                if &e.name != name {
                    continue;
                }
            }
            slot.requests += e.requests;
            slot.failures += e.failures;
            slot.latency.add(&e.latency.unpack());
        }
    }
    let judged: Vec<bool> = windows
        .values()
        .filter_map(|s| measure(o.metric, s, w.seconds as f64))
        .map(|v| o.op.holds(v, o.limit))
        .collect();
    if judged.is_empty() {
        return None;
    }
    Some(judged.iter().filter(|ok| **ok).count() as f64 / judged.len() as f64)
}
