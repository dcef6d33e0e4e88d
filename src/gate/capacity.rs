//! Capacity search: the highest open-model rate at which the budget holds. Steps of
//! offered rate rise geometrically until one fails, then bisect between the highest that
//! held and the lowest that failed until they are within the precision asked. Each step
//! is a whole load judged after its warm-up (the pipeline's search measure runs them).

use serde::Serialize;

use super::Check;
use crate::config::{percent, Search};

/// The search, its settings resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchPlan {
    pub start: f64,
    pub max: f64,
    pub factor: f64,
    /// A fraction: bisection ends when (failed − held) / held is at most this.
    pub precision: f64,
    pub step: std::time::Duration,
    pub warmup: std::time::Duration,
    pub require: Option<f64>,
}

impl SearchPlan {
    /// The scenario's `search = { ... }`, checked.
    pub fn from_config(s: &Search) -> Result<SearchPlan, String> {
        let precision = match &s.precision {
            Some(v) => percent(v).map_err(|e| format!("search precision: {e}"))?,
            None => 0.05,
        };
        let max = s.max.map_or(s.start.0 * 1000.0, |r| r.0);
        if s.start.0 <= 0.0 {
            return Err("search start must be a rate above 0, e.g. \"50/s\"".into());
        }
        if max < s.start.0 {
            return Err(format!(
                "search max {max}/s is below its start {}/s",
                s.start.0
            ));
        }
        if !(s.factor > 1.0 && s.factor <= 10.0) {
            return Err(format!(
                "search factor {} must be above 1 and at most 10 (2 doubles the rate each step)",
                s.factor
            ));
        }
        if !(precision > 0.0 && precision < 1.0) {
            return Err("search precision must be between 0% and 100%, e.g. \"5%\"".into());
        }
        if s.step.0.as_secs_f64() < 1.0 {
            return Err(
                "search step must be at least 1s (each step is judged after its warm-up)".into(),
            );
        }
        Ok(SearchPlan {
            start: s.start.0,
            max,
            factor: s.factor,
            precision,
            step: s.step.0,
            warmup: s.warmup.0,
            require: s.require.map(|r| r.0),
        })
    }
}

/// One step: the rate offered and what it got.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Arrivals per second offered.
    pub rate: f64,
    pub held: bool,
    /// Requests answered per second, from the step's start until its last request was
    /// answered (those still queued when it stopped offering load included).
    pub achieved_rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// A fraction.
    pub error_rate: f64,
    /// Requests answered in the whole step (its warm-up included).
    pub requests: u64,
    /// Arrivals that found no free virtual user, after the warm-up.
    pub dropped: u64,
    /// Arrivals with no free user as a fraction of those scheduled: above
    /// [`MAX_DROPPED`] the step fails (the service is not keeping up).
    pub dropped_share: f64,
    /// The budget's objectives that failed on the step.
    pub broke: Vec<Check>,
    /// The wait before the step for the service to drain what a step that broke left
    /// queued; none when the step before it held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drained: Option<Drained>,
}

/// A wait between steps: light probes (a second each) until the service's p50 latency
/// was back near the first step's, or one step's length had passed.
#[derive(Clone, Debug, Serialize)]
pub struct Drained {
    pub seconds: f64,
    /// Requests the probes sent (the service served them too).
    pub requests: u64,
    /// The last probe's p50, and what it had to come back within.
    pub p50_ms: f64,
    pub near_ms: f64,
    /// Whether it came back within that before the wait's bound.
    pub recovered: bool,
}

/// The share of dropped arrivals a step that holds may have.
pub const MAX_DROPPED: f64 = 0.01;

/// Why the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// The held and failed rates are within the precision.
    Found,
    /// Every step up to `max` held: the capacity is above it.
    HeldAtMax,
    /// The first step failed: the capacity is below `start`.
    FailedAtStart,
    /// Ctrl-C: the steps so far.
    Interrupted,
}

/// The search's answer.
#[derive(Clone, Debug, Serialize)]
pub struct Capacity {
    pub scenario: String,
    pub budget: String,
    pub end: End,
    /// The highest rate that held.
    pub held: Option<f64>,
    /// The lowest rate that failed, and why (its objectives that failed).
    pub failed: Option<f64>,
    pub broke: Vec<Check>,
    /// Its share of dropped arrivals.
    pub failed_dropped_share: f64,
    /// The rate the search must find held (`require`), if any.
    pub require: Option<f64>,
    /// In the order run.
    pub steps: Vec<Step>,
}

impl Capacity {
    /// Whether the capacity found meets `require` (true when none is asked).
    pub fn meets(&self) -> bool {
        self.require
            .is_none_or(|r| self.held.is_some_and(|h| h >= r))
    }
}

/// Runs the search; `run` runs one step at a rate, and returns None when interrupted.
pub fn search(
    plan: &SearchPlan,
    scenario: &str,
    budget: &str,
    mut run: impl FnMut(f64) -> Option<Step>,
) -> Capacity {
    let mut out = Capacity {
        scenario: scenario.to_string(),
        budget: budget.to_string(),
        end: End::Interrupted,
        held: None,
        failed: None,
        broke: Vec::new(),
        failed_dropped_share: 0.0,
        require: plan.require,
        steps: Vec::new(),
    };
    let mut rate = plan.start;
    // Raise until a step fails or the maximum holds.
    loop {
        let Some(step) = run(rate) else {
            return out;
        };
        let held = step.held;
        out.record(step);
        if !held {
            break;
        }
        if rate >= plan.max {
            out.end = End::HeldAtMax;
            return out;
        }
        rate = (rate * plan.factor).min(plan.max);
    }
    let Some(mut lo) = out.held else {
        out.end = End::FailedAtStart;
        return out;
    };
    let mut hi = rate;
    // Bisect; rates are whole arrivals per second once they are that large.
    while (hi - lo) / lo > plan.precision {
        let mid = round((lo + hi) / 2.0);
        if mid <= lo || mid >= hi {
            break;
        }
        let Some(step) = run(mid) else {
            return out;
        };
        if step.held {
            lo = mid;
        } else {
            hi = mid;
        }
        out.record(step);
    }
    out.end = End::Found;
    out
}

impl Capacity {
    fn record(&mut self, step: Step) {
        if step.held {
            self.held = Some(self.held.map_or(step.rate, |h| h.max(step.rate)));
        } else if self.failed.is_none_or(|f| step.rate < f) {
            self.failed = Some(step.rate);
            self.broke = step.broke.clone();
            self.failed_dropped_share = step.dropped_share;
        }
        self.steps.push(step);
    }
}

/// Whole numbers above 10/s, a tenth below.
fn round(rate: f64) -> f64 {
    if rate >= 10.0 {
        rate.round()
    } else {
        (rate * 10.0).round() / 10.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SearchPlan {
        SearchPlan {
            start: 50.0,
            max: 5000.0,
            factor: 2.0,
            precision: 0.05,
            step: std::time::Duration::from_secs(10),
            warmup: std::time::Duration::from_secs(2),
            require: None,
        }
    }

    /// A service that holds the budget up to `knee`.
    fn service(knee: f64) -> impl FnMut(f64) -> Option<Step> {
        move |rate| {
            Some(Step {
                rate,
                held: rate <= knee,
                achieved_rps: rate.min(knee),
                p50_ms: 1.0,
                p95_ms: 1.0,
                p99_ms: 1.0,
                error_rate: 0.0,
                requests: 0,
                dropped: 0,
                dropped_share: if rate <= knee { 0.0 } else { 0.5 },
                broke: vec![],
                drained: None,
            })
        }
    }

    #[test]
    fn doubles_then_bisects_to_the_precision() {
        let c = search(&plan(), "s", "b", service(300.0));
        let rates: Vec<f64> = c.steps.iter().map(|s| s.rate).collect();
        assert_eq!(&rates[..4], [50.0, 100.0, 200.0, 400.0]);
        assert_eq!(c.end, End::Found);
        let (held, failed) = (c.held.unwrap(), c.failed.unwrap());
        assert!(held <= 300.0 && failed > 300.0, "{held} {failed}");
        assert!((failed - held) / held <= 0.05, "{held} {failed}");
        assert_eq!(c.failed_dropped_share, 0.5);
        let meets = |r| {
            Capacity {
                require: Some(r),
                ..c.clone()
            }
            .meets()
        };
        assert!(meets(280.0) && !meets(320.0));
    }

    #[test]
    fn ends_at_the_maximum_or_the_start() {
        let c = search(&plan(), "s", "b", service(1e9));
        assert_eq!(c.end, End::HeldAtMax);
        assert_eq!(c.held, Some(5000.0));
        assert_eq!(c.steps.last().unwrap().rate, 5000.0);
        let c = search(&plan(), "s", "b", service(10.0));
        assert_eq!(
            (c.end, c.held, c.failed),
            (End::FailedAtStart, None, Some(50.0))
        );
        assert!(
            c.meets()
                && !Capacity {
                    require: Some(1.0),
                    ..c
                }
                .meets()
        );
    }

    #[test]
    fn an_interrupted_step_ends_with_the_steps_so_far() {
        let mut inner = service(300.0);
        let mut n = 0;
        let c = search(&plan(), "s", "b", |r| {
            n += 1;
            if n == 3 {
                None
            } else {
                inner(r)
            }
        });
        assert_eq!(
            (c.end, c.steps.len(), c.held),
            (End::Interrupted, 2, Some(100.0))
        );
    }

    #[test]
    fn settings_are_checked() {
        let s = |extra: &str| -> Result<SearchPlan, String> {
            let t: toml::Table = toml::from_str(&format!("start = \"50/s\"\n{extra}")).unwrap();
            let s: Search = t.try_into().map_err(|e: toml::de::Error| e.to_string())?;
            SearchPlan::from_config(&s)
        };
        assert_eq!(s("").unwrap().max, 50_000.0);
        assert_eq!(s("precision = \"10%\"").unwrap().precision, 0.1);
        assert!(s("max = \"10/s\"").unwrap_err().contains("below its start"));
        assert!(s("factor = 1.0").unwrap_err().contains("factor"));
        assert!(s("step = \"100ms\"").unwrap_err().contains("at least 1s"));
        assert!(s("precision = \"0%\"").unwrap_err().contains("precision"));
        assert!(s("bogus = 1").unwrap_err().contains("unknown field"));
    }
}
