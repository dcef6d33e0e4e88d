//! Judging a `RunResult` against a `Budget`: every objective ends as pass, fail or no
//! data (which fails: a budget never passes silently on zero samples).

use serde::Serialize;

use super::budget::Objective;
use super::Budget;
use crate::metrics::{
    measure, Collector, Metric, Op, RunResult, Scope, Stats, StopReason, Together,
};
use crate::regress::Baseline;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    NoData,
}

/// The verdict in a word.
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
    /// Where it was judged: the environment or budget set, an alert level, or
    /// "abort_on_fail" (a live check).
    #[serde(skip)]
    pub context: String,
    /// With no data: requests or steps of its scope still in flight when the run stopped,
    /// which never completed (a WebSocket `receive` that never matched, answers slower
    /// than the run).
    #[serde(skip_serializing_if = "crate::metrics::is_zero")]
    pub in_flight: u64,
}

/// Why a run is inconclusive, interrupted, aborted or partly judged; `report::words`
/// says each in words.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// The result is one segment ("2/4") of the load: throughput is judged on the merge.
    Segment(String),
    /// Stopped before its end: by a signal, or by what is named ("the dashboard").
    Interrupted(Option<String>),
    /// An `abort_on_fail` objective stopped the run; in a merge, the segments it stopped.
    Aborted(Vec<String>),
    /// Open-model arrivals dropped for want of a free user, unjudged by any objective.
    Dropped {
        dropped: u64,
        scheduled: u64,
        generator_overloaded: bool,
    },
    /// Inconclusive: the load generator was the bottleneck, for these reasons.
    GeneratorOverloaded(Vec<crate::metrics::Overload>),
    /// Inconclusive: one segment ("2/4"), or some ("1,3/4"), judged alone, which cannot
    /// pass (its throughput is a share, its percentiles a sample of the whole).
    LoneSegment(String),
    /// Merged from whole runs: how many, how they ran (at the same time or one after
    /// another), and over how many seconds in all.
    Merged {
        runs: usize,
        how: Together,
        seconds: f64,
    },
    /// No objective to judge.
    NoObjectives,
    /// Iterations of Rust tasks that failed in their own code, which the run's error
    /// rate counts as failed requests.
    TasksFailed(u64),
    /// Inconclusive: every request failed, most often for `top_reason` (reason, count).
    NeverAnswered {
        requests: u64,
        top_reason: Option<(String, u64)>,
    },
    /// `--baseline history:BRANCH` found no completed run to compare with.
    NoBaselineYet {
        store: String,
        scenario: String,
        branch: String,
    },
}

impl Note {
    /// Whether this note makes a run inconclusive.
    pub fn is_inconclusive(&self) -> bool {
        matches!(
            self,
            Note::GeneratorOverloaded(_) | Note::NeverAnswered { .. } | Note::LoneSegment(_)
        )
    }
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
    /// Why the run is inconclusive, interrupted or aborted (`report::words::note`).
    #[serde(skip)]
    pub notes: Vec<Note>,
    /// The comparison with a baseline run, when one was given.
    pub baseline: Option<Baseline>,
    /// What a capacity search found (its steps), when the measure was a search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<super::capacity::Capacity>,
}

impl Verdict {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome != Outcome::Pass)
    }

    /// Why the run is inconclusive (the notes that say so); none otherwise.
    pub fn inconclusive_reasons(&self) -> impl Iterator<Item = &Note> {
        let inconclusive = self.status == Status::Inconclusive;
        self.notes
            .iter()
            .filter(move |n| inconclusive && n.is_inconclusive())
    }

    /// A segment's result judged by itself is inconclusive, never passed or failed, and
    /// says so; `partial` (`perfgate check --partial`) judges it anyway.
    pub fn of_a_segment_alone(mut self, segment: &str, partial: bool) -> Verdict {
        if !partial {
            self.status = Status::Inconclusive;
            self.notes.push(Note::LoneSegment(segment.to_string()));
        }
        self
    }

    /// A verdict with no budget judged (`perfgate compare`, which judges only against
    /// the baseline): passed until a baseline comparison says otherwise.
    pub fn unjudged(budget: &str, environment: Option<String>) -> Verdict {
        Verdict {
            status: Status::Passed,
            budget: budget.to_string(),
            environment,
            checks: vec![],
            alerts: vec![],
            notes: vec![],
            baseline: None,
            capacity: None,
        }
    }

    /// Adds what a capacity search found: the verdict fails unless a capacity was
    /// found (or every step held) that meets its `require`.
    pub fn with_capacity(mut self, c: super::capacity::Capacity) -> Verdict {
        use super::capacity::End;
        if !(matches!(c.end, End::Found | End::HeldAtMax) && c.meets()) {
            self.status = Status::Failed;
        }
        self.capacity = Some(c);
        self
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

/// Judges `result` by `budget`: each objective passed, failed or without data, the
/// alerts, and notes (inconclusive, interrupted, dropped arrivals, ...).
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
        notes.push(Note::Segment(seg.clone()));
    }
    if let Some(m) = result
        .scenario
        .merged
        .filter(|m| m.how != Together::Segments)
    {
        notes.push(Note::Merged {
            runs: m.results,
            how: m.how,
            seconds: result.duration_s,
        });
    }
    match result.stop {
        StopReason::Interrupted => notes.push(Note::Interrupted(result.stopped_by.clone())),
        StopReason::Aborted => notes.push(Note::Aborted(
            result
                .stopped_segments
                .iter()
                .filter(|(_, &why)| why == StopReason::Aborted)
                .map(|(seg, _)| seg.clone())
                .collect(),
        )),
        StopReason::Completed => {}
    }
    if let Some(n) = dropped_note(result, &checks) {
        notes.push(n);
    }
    if result.generator.overloaded {
        notes.push(Note::GeneratorOverloaded(result.generator.notes.clone()));
    }
    if checks.is_empty() {
        notes.push(Note::NoObjectives);
    }
    let failed_tasks = result.code_failures();
    if failed_tasks > 0 {
        notes.push(Note::TasksFailed(failed_tasks));
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
        capacity: None,
    }
}

/// Every request failed: latency objectives would judge how fast the failures came (a
/// refused connection takes 0.2 ms), so the run cannot pass on them.
fn never_answered_note(result: &RunResult) -> Option<Note> {
    let t = &result.total;
    if t.requests == 0 || t.failures < t.requests {
        return None;
    }
    Some(Note::NeverAnswered {
        requests: t.requests,
        top_reason: t
            .failure_reasons
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(reason, n)| (reason.clone(), *n)),
    })
}

/// Arrivals dropped in the open model mean the service got less load than the scenario
/// asks: said beside the verdict unless a `dropped` objective already judges it.
fn dropped_note(result: &RunResult, checks: &[Check]) -> Option<Note> {
    let t = &result.total;
    let judged = checks.iter().any(|c| c.objective.metric == Metric::Dropped);
    if t.dropped == 0 || judged {
        return None;
    }
    Some(Note::Dropped {
        dropped: t.dropped,
        scheduled: t.requests + t.interrupted + t.dropped,
        generator_overloaded: result.generator.overloaded,
    })
}

/// Live `abort_on_fail`: the first upper-bound objective past its grace delay that fails
/// on the data so far. Lower bounds (min_rps, min_requests) are judged only at the end.
pub fn live_abort(budget: &Budget, collector: &Collector, elapsed: f64) -> Option<Check> {
    let total = collector.total();
    budget
        .objectives
        .iter()
        .filter(|o| o.abort_after_s.is_some_and(|grace| elapsed >= grace) && o.op == Op::AtMost)
        .find_map(|o| {
            let v = live_value(o, collector, &total, elapsed)?;
            (!o.op.holds(v, o.limit)).then(|| Check {
                objective: o.clone(),
                measured: Some(v),
                outcome: Outcome::Fail,
                margin: Some(o.limit - v),
                context: "abort_on_fail".into(),
                in_flight: 0,
            })
        })
}

/// The upper-bound objectives failing on the data so far, for live progress.
pub fn live_failing<'a>(
    budget: &'a Budget,
    collector: &Collector,
    elapsed: f64,
) -> Vec<&'a Objective> {
    let total = collector.total();
    budget
        .objectives
        .iter()
        .filter(|o| o.op == Op::AtMost)
        .filter(|o| {
            live_value(o, collector, &total, elapsed).is_some_and(|v| !o.op.holds(v, o.limit))
        })
        .collect()
}

/// Every objective with its value so far; None where it is judged only at the end (a
/// window) or has no data yet.
pub fn live_values<'a>(
    budget: &'a Budget,
    collector: &Collector,
    elapsed: f64,
) -> Vec<(&'a Objective, Option<f64>)> {
    let total = collector.total();
    budget
        .objectives
        .iter()
        .map(|o| (o, live_value(o, collector, &total, elapsed)))
        .collect()
}

fn live_value(o: &Objective, c: &Collector, total: &Stats, elapsed: f64) -> Option<f64> {
    if o.window.is_some() {
        return None;
    }
    let stats = match &o.scope {
        Scope::Total => std::borrow::Cow::Borrowed(total),
        Scope::Endpoint(name) => {
            std::borrow::Cow::Borrowed(c.endpoints.iter().find(|e| &e.name == name)?)
        }
        Scope::Tagged { .. } => {
            let mut all = Stats::default();
            for e in c.endpoints.iter().filter(|e| o.scope.selects(e)) {
                all.add(e);
            }
            std::borrow::Cow::Owned(all)
        }
    };
    measure(o.metric, &stats, elapsed)
}

fn check(o: &Objective, r: &RunResult, where_: &str) -> Check {
    let measured = match &o.window {
        Some(w) => windows_held(o, w, r),
        None => o
            .scope
            .stats(r)
            .map(|s| with_task_failures(o, s, r))
            .and_then(|s| measure(o.metric, &s, r.duration_s)),
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
    let in_flight = match measured {
        None => o.scope.stats(r).map_or(0, |s| s.interrupted),
        Some(_) => 0,
    };
    Check {
        objective: o.clone(),
        measured,
        outcome,
        margin,
        context: where_.to_string(),
        in_flight,
    }
}

/// The run's error rate counts each iteration of a Rust task that failed in its own code
/// (its `Err`, a panic) as a failed request: one more failure, as Locust's
/// `response.failure()` marks a request failed without adding one (no more requests
/// than failures, for a task that failed before sending any). A task can fail on every
/// iteration without any of its requests failing.
fn with_task_failures<'a>(
    o: &Objective,
    s: std::borrow::Cow<'a, Stats>,
    r: &RunResult,
) -> std::borrow::Cow<'a, Stats> {
    let n = r.code_failures();
    if n == 0 || o.metric != Metric::ErrorRate || o.scope != Scope::Total {
        return s;
    }
    let mut s = s.into_owned();
    s.failures += n;
    s.requests = s.requests.max(s.failures);
    std::borrow::Cow::Owned(s)
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
