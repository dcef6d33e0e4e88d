//! Regression detection: a run against a baseline, metric by metric and endpoint by
//! endpoint, with CI noise taken into account.
//!
//! Method (documented in docs/regression.md): for each rule, the whole-run values give
//! the delta people see; a block bootstrap over one-second intervals gives the noise.
//! A metric has **regressed** when the whole two-sided confidence interval (95% by default) of `current − limit(baseline)` lies on
//! the wrong side of zero — perfgate is confident the change exceeds the rule, not just
//! that something changed. It has **improved** when it is confidently better by the same
//! margin, **unchanged** otherwise (a difference within noise), and is **inconclusive**
//! when either run has too little data to say (fewer than ten one-second intervals, too
//! few samples for the percentile: 10 / (1 − p) of them, so 1,000 for p99, or fewer
//! than 100 requests for error rate and throughput).

mod bootstrap;
mod rule;

use serde::Serialize;

pub use bootstrap::{Sample, MIN_INTERVALS, RESAMPLES};
pub use rule::{parse_rule, Rule, Rules, Term};

use crate::metrics::{measure, Metric, RunResult, Scope};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Regressed,
    Improved,
    Unchanged,
    Inconclusive,
}

/// One rule judged on one scope.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub rule: Rule,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// (current − baseline) / baseline, as a fraction; None when the baseline is 0.
    pub delta: Option<f64>,
    /// The rule's limit for this baseline, in the metric's unit.
    pub limit: Option<f64>,
    /// The confidence interval of the relative change, as fractions.
    pub interval: Option<(f64, f64)>,
    pub change: Change,
    /// Why it could not be judged, when it could not (`change` is then inconclusive).
    #[serde(skip)]
    pub why: Option<Why>,
}

/// Why a comparison is inconclusive.
#[derive(Clone, Debug, PartialEq)]
pub enum Why {
    /// One run has too little data for this rule.
    TooLittle(Which, Shortfall),
    /// One of the runs has no value for the metric.
    NoData,
    /// Too few resamples had a value.
    TooFewResamples,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Baseline,
    Current,
}

/// What a run lacks to be compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shortfall {
    /// Fewer one-second intervals than [`MIN_INTERVALS`].
    Intervals(usize),
    /// Fewer samples (or `requests`) than the rule's metric needs; `per_s` of them came
    /// a second.
    Samples {
        have: u64,
        need: u64,
        requests: bool,
        per_s: f64,
    },
}

/// What the run was compared with.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    /// The file, or "history:main".
    pub source: String,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub started_at: String,
    pub confidence: f64,
    pub comparisons: Vec<Comparison>,
}

impl Baseline {
    pub fn regressions(&self) -> impl Iterator<Item = &Comparison> {
        self.comparisons
            .iter()
            .filter(|c| c.change == Change::Regressed)
    }

    pub fn count(&self, change: Change) -> usize {
        self.comparisons
            .iter()
            .filter(|c| c.change == change)
            .count()
    }
}

/// Compares `current` with `baseline` under `rules`: the whole run, then every endpoint
/// either run has.
pub fn compare(current: &RunResult, baseline: &RunResult, rules: &Rules, source: &str) -> Baseline {
    let mut scopes = vec![Scope::Total];
    let mut names: Vec<&str> = current
        .endpoints
        .iter()
        .chain(&baseline.endpoints)
        .map(|e| e.name.as_str())
        .collect();
    names.sort();
    names.dedup();
    scopes.extend(names.into_iter().map(|n| Scope::Endpoint(n.to_string())));
    let comparisons = scopes
        .iter()
        .flat_map(|s| rules.for_scope(s))
        .map(|rule| judge(rule, current, baseline, rules.confidence))
        .collect();
    Baseline {
        source: source.to_string(),
        commit: baseline.git.commit.clone(),
        branch: baseline.git.branch.clone(),
        started_at: baseline.started_at.clone(),
        confidence: rules.confidence,
        comparisons,
    }
}

fn whole(r: &RunResult, rule: &Rule) -> Option<f64> {
    let stats = rule.scope.stats(r)?;
    if stats.requests == 0 && rule.metric == Metric::ErrorRate {
        return None;
    }
    measure(rule.metric, &stats, r.duration_s)
}

/// Why the data cannot support a verdict, if it cannot.
fn too_little(rule: &Rule, s: &Sample) -> Option<Shortfall> {
    if s.intervals() < MIN_INTERVALS {
        return Some(Shortfall::Intervals(s.intervals()));
    }
    let need = match rule.metric {
        Metric::Percentile(p) => (10.0 / (1.0 - p / 100.0).max(1e-6)).ceil() as u64,
        Metric::Avg => 30,
        Metric::ErrorRate | Metric::Rps => 100,
        _ => 0,
    };
    let requests = matches!(rule.metric, Metric::ErrorRate | Metric::Rps);
    let have = if requests {
        s.requests()
    } else {
        s.latency_samples()
    };
    (have < need).then(|| Shortfall::Samples {
        have,
        need,
        requests,
        per_s: have as f64 / s.seconds().max(1e-9),
    })
}

fn judge(rule: Rule, current: &RunResult, baseline: &RunResult, confidence: f64) -> Comparison {
    let (c, b) = (whole(current, &rule), whole(baseline, &rule));
    let delta = match (c, b) {
        (Some(c), Some(b)) if b > 0.0 => Some(c / b - 1.0),
        _ => None,
    };
    let mut out = Comparison {
        limit: b.map(|b| rule.limit(b)),
        rule,
        baseline: b,
        current: c,
        delta,
        interval: None,
        change: Change::Inconclusive,
        why: None,
    };
    let sc = Sample::of(current, &out.rule.scope);
    let sb = Sample::of(baseline, &out.rule.scope);
    let short = too_little(&out.rule, &sb)
        .map(|w| Why::TooLittle(Which::Baseline, w))
        .or_else(|| too_little(&out.rule, &sc).map(|w| Why::TooLittle(Which::Current, w)));
    if c.is_none() || b.is_none() || short.is_some() {
        out.why = Some(short.unwrap_or(Why::NoData));
        return out;
    }
    let draws = bootstrap::resample(&sc, &sb, out.rule.metric);
    if draws.len() < RESAMPLES / 2 {
        out.why = Some(Why::TooFewResamples);
        return out;
    }
    let alpha = 1.0 - confidence;
    let sign = if out.rule.upward() { 1.0 } else { -1.0 };
    // Positive means worse than the rule allows / better than its mirror.
    let mut excess: Vec<f64> = draws
        .iter()
        .map(|(c, b)| sign * (c - out.rule.limit(*b)))
        .collect();
    let mut gain: Vec<f64> = draws
        .iter()
        .map(|(c, b)| sign * (out.rule.improved_below(*b) - c))
        .collect();
    let mut rel: Vec<f64> = draws
        .iter()
        .filter(|(_, b)| *b > 0.0)
        .map(|(c, b)| c / b - 1.0)
        .collect();
    if !rel.is_empty() {
        out.interval = Some((
            bootstrap::quantile(&mut rel, alpha / 2.0),
            bootstrap::quantile(&mut rel, 1.0 - alpha / 2.0),
        ));
    }
    out.change = if bootstrap::quantile(&mut excess, alpha / 2.0) > 0.0 {
        Change::Regressed
    } else if bootstrap::quantile(&mut gain, alpha / 2.0) > 0.0 {
        Change::Improved
    } else {
        Change::Unchanged
    };
    out
}
