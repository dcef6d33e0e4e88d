//! The one place outcomes become sentences: a verdict's checks and notes, and a
//! baseline's comparisons. Every format says them the same way.

use super::format::{seconds, signed_pct, subject, symbol, value};
use crate::config::Segments;
use crate::gate::{Check, Note, Objective, Outcome};
use crate::metrics::{Overload, Together};
use crate::regress::{Change, Comparison, Shortfall, Which, Why, MIN_INTERVALS};

/// What every report says when the target's certificate was not verified.
pub const INSECURE: &str = "TLS certificates were NOT verified (insecure = true / --insecure): whoever answered at the target's address was measured; trust its certificate with [target] ca_file instead";

/// e.g. "p99 latency 212 ms > 150 ms budget on /api/verify-proof (production)".
pub fn check(c: &Check) -> String {
    let line = objective_line(
        &c.objective,
        c.measured,
        c.outcome == Outcome::Pass,
        &c.context,
    );
    match c.in_flight {
        0 => line,
        n => format!(
            "{line}; {} in flight at the stop never completed (a WebSocket receive that never matched, or answers slower than the run: see [target] timeout)",
            super::format::thousands(n)
        ),
    }
}

fn objective_line(o: &Objective, measured: Option<f64>, holds: bool, context: &str) -> String {
    let on = o
        .scope
        .label()
        .map_or(String::new(), |e| format!(" on {e}"));
    let origin = if o.origin.is_empty() || o.origin == context {
        context.to_string()
    } else {
        format!("{context}, {}", o.origin)
    };
    match (measured, &o.window) {
        (None, _) => format!(
            "{}: no data{on} — nothing was measured, so the budget cannot hold ({origin})",
            o.metric
        ),
        (Some(v), None) => format!(
            "{} {} {} {} budget{on} ({origin})",
            o.metric,
            value(o.metric, v),
            symbol(o.op, holds),
            value(o.metric, o.limit)
        ),
        (Some(v), Some(w)) => format!(
            "{} {} {} held in {:.0}% of {}s windows{} (needs {:.0}%){on} ({origin})",
            o.metric,
            symbol(o.op, true),
            value(o.metric, o.limit),
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

/// An objective named shortly, for live progress: "p99 latency on /api/verify-proof".
pub fn objective_name(o: &Objective) -> String {
    subject(o.metric, &o.scope)
}

/// "✓ /api/verify-proof: status is 200 — 100% (1,234 of 1,234)", ✗ when it ever failed.
pub fn soft_check(c: &crate::metrics::CheckCount) -> String {
    let all = c.passed + c.failed;
    format!(
        "{} {}: {} — {} ({} of {})",
        if c.failed == 0 { "✓" } else { "✗" },
        c.endpoint,
        c.check,
        super::format::pct2(c.passed as f64 / all.max(1) as f64),
        super::format::thousands(c.passed),
        super::format::thousands(all)
    )
}

/// Why a run is inconclusive, interrupted, aborted or partly judged, in words.
pub fn note(n: &Note) -> String {
    match n {
        Note::Segment(seg) => format!(
            "{} of the load: throughput objectives (rps, requests, dropped) are judged when `perfgate check` merges every segment's result",
            segments(seg)
        ),
        Note::Interrupted(None) => "the run was interrupted: results are partial".into(),
        Note::Interrupted(Some(by)) => {
            format!("the run was stopped from {by}: results are partial")
        }
        Note::Aborted(segs) if segs.is_empty() => {
            "the run was stopped early by an abort_on_fail objective".into()
        }
        Note::Aborted(segs) => format!(
            "segment {} stopped early by an abort_on_fail objective (each segment judges its own share of the load; the others ran on)",
            segs.join(", ")
        ),
        Note::Dropped {
            dropped,
            scheduled,
            generator_overloaded,
        } => {
            let pct = 100.0 * *dropped as f64 / (*scheduled).max(1) as f64;
            // Users stay busy when perfgate cannot run them: then more users would not help.
            let fix = if *generator_overloaded {
                "the load generator could not keep up (below): give it more cores, or split the load with --segment"
            } else {
                "raise max_users (--users) or bound `dropped` in the budget"
            };
            format!(
                "{dropped} of {scheduled} arrivals ({pct:.1}%) were dropped for want of a free user: the service got {:.1}% of the load asked; {fix}",
                100.0 - pct,
            )
        }
        Note::GeneratorOverloaded(why) => format!(
            "inconclusive: the load generator was the bottleneck ({}); the numbers describe perfgate, not the service",
            why.iter().map(overload).collect::<Vec<_>>().join("; ")
        ),
        Note::LoneSegment(seg) => format!(
            "inconclusive: this is {} of the load alone, which can neither pass nor fail a budget; gate every segment's result together with `perfgate check` (or judge this part with --partial)",
            segments(seg)
        ),
        Note::Merged {
            runs,
            how: Together::Consecutive,
            seconds,
        } => format!(
            "merged from {runs} runs one after another: users and rate are the largest run's, throughput is over their {} together",
            super::format::seconds(*seconds)
        ),
        // Segments are not noted; whole runs that ran at the same time add up.
        Note::Merged { runs, .. } => format!(
            "merged from {runs} runs that ran at the same time: their users, rate and throughput add"
        ),
        Note::TasksFailed(n) => format!(
            "{} of Rust tasks failed in their own code (an Err or a panic, not a failed request): the run's error rate counts each as a failed request",
            if *n == 1 { "1 iteration".to_string() } else { format!("{} iterations", super::format::thousands(*n)) }
        ),
        Note::NoObjectives => "no budget objectives: nothing was judged (add [budgets.*] or [endpoints.*] to perfgate.toml)".into(),
        Note::NeverAnswered {
            requests,
            top_reason,
        } => {
            let why = top_reason
                .as_ref()
                .map_or(String::new(), |(reason, n)| format!(" ({n} × {reason})"));
            format!(
                "inconclusive: every one of the {requests} requests failed{why}: nothing about the service's performance was measured; check the target, and bound error_rate in the budget"
            )
        }
        Note::NoBaselineYet {
            store,
            scenario,
            branch,
        } => format!(
            "no baseline yet: {store} has no completed run of scenario {scenario:?} on branch {branch:?}, so nothing was compared"
        ),
    }
}

/// "segment 2/4", or for a merge of some: "segments 1,3/4 (2/4 and 4/4 missing)".
fn segments(seg: &str) -> String {
    match Segments::parse(seg) {
        Ok(s) if s.have.len() > 1 => {
            let missing: Vec<String> = s.missing().iter().map(|m| m.to_string()).collect();
            format!("segments {seg} ({} missing)", and_list(&missing))
        }
        _ => format!("segment {seg}"),
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// Why a run is inconclusive, in a few words for a heading.
pub fn headline(n: &Note) -> String {
    match n {
        Note::GeneratorOverloaded(_) => "the load generator was the bottleneck".into(),
        Note::NeverAnswered { .. } => {
            "every request failed: the service's performance was not measured".into()
        }
        Note::LoneSegment(seg) => format!(
            "{} of the load alone: check every segment together",
            segments(seg)
        ),
        other => note(other),
    }
}

/// "p99 latency on /api/verify-proof regressed: 26.1 ms vs 20.0 ms (+30.5%, CI +27.0% …
/// +34.1%; rule +10%)", or why it could not be judged.
pub fn comparison(c: &Comparison) -> String {
    let m = c.rule.metric;
    let what = subject(m, &c.rule.scope);
    if let Some(why) = &c.why {
        let why = match why {
            Why::TooFewResamples => {
                return format!("{what} inconclusive: too few samples to resample")
            }
            Why::NoData => "no data in one of the runs".to_string(),
            Why::TooLittle(Which::Baseline, s) => format!("the baseline has {}", shortfall(c, s)),
            Why::TooLittle(Which::Current, s) => format!("this run has {}", shortfall(c, s)),
        };
        // The values people see, even when they cannot be judged.
        let values = match (c.current, c.baseline, c.delta) {
            (Some(cur), Some(base), Some(d)) => format!(
                "{} vs {} ({}), but ",
                value(m, cur),
                value(m, base),
                signed_pct(d)
            ),
            _ => String::new(),
        };
        return format!("{what} inconclusive: {values}{why}");
    }
    let word = match c.change {
        Change::Regressed => "regressed",
        Change::Improved => "improved",
        Change::Unchanged => "unchanged",
        Change::Inconclusive => "inconclusive",
    };
    let delta = c
        .delta
        .map_or(String::new(), |d| format!("{}, ", signed_pct(d)));
    let ci = c.interval.map_or(String::new(), |(lo, hi)| {
        format!("CI {} … {}; ", signed_pct(lo), signed_pct(hi))
    });
    format!(
        "{what} {word}: {} vs {} ({delta}{ci}rule {})",
        value(m, c.current.unwrap_or_default()),
        value(m, c.baseline.unwrap_or_default()),
        c.rule.text
    )
}

/// "8 one-second intervals (need 10: run at least 10 s)", or "120 samples (p99 latency
/// needs 1000; at 12 a second, run at least 84 s)".
fn shortfall(c: &Comparison, s: &Shortfall) -> String {
    match *s {
        Shortfall::Intervals(n) => format!(
            "{n} one-second intervals (need {MIN_INTERVALS}: run at least {MIN_INTERVALS} s)"
        ),
        Shortfall::Samples {
            have,
            need,
            requests,
            per_s,
        } => {
            let advice = if per_s > 0.0 {
                let rate = if per_s >= 10.0 {
                    format!("{per_s:.0}")
                } else {
                    format!("{per_s:.1}")
                };
                let secs = (need as f64 / per_s).ceil().max(MIN_INTERVALS as f64);
                format!("; at {rate} a second, run at least {}", seconds(secs))
            } else {
                String::new()
            };
            let noun = if requests { "requests" } else { "samples" };
            format!("{have} {noun} ({} needs {need}{advice})", c.rule.metric)
        }
    }
}

/// Why the load generator was the bottleneck, in words.
pub fn overload(o: &Overload) -> String {
    match o {
        Overload::Cpu {
            busy,
            cores,
            threads,
        } => {
            let what = if cores == threads {
                format!("{threads} threads")
            } else {
                let s = if *cores == 1 { "" } else { "s" };
                format!("{cores} core{s} ({threads} threads)")
            };
            format!("load generator CPU at {:.0}% of its {what}", busy * 100.0)
        }
        Overload::Waiting { wanted, busy } => format!(
            "load generator threads were running or waiting for a core {:.0}% of the time (CPU {:.0}%)",
            wanted * 100.0,
            busy * 100.0
        ),
        Overload::ScheduleLag { ms } => {
            format!("load generator fell {ms:.0} ms behind its arrival schedule")
        }
        Overload::TimerDelay { ms } => format!(
            "load generator threads were busy: 1% of ready work waited over {ms:.0} ms for them"
        ),
        Overload::UsersLost { users, first } => {
            format!("{users} virtual users stopped on an internal error: {first}")
        }
        Overload::Said { words } => words.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_of_some_segments_names_the_missing_ones() {
        let n = note(&Note::LoneSegment("1,3/4".into()));
        assert!(
            n.contains("segments 1,3/4 (2/4 and 4/4 missing) of the load alone"),
            "{n}"
        );
        let n = note(&Note::LoneSegment("2/3".into()));
        assert!(n.contains("this is segment 2/3 of the load alone"), "{n}");
        let n = note(&Note::Aborted(vec!["2/3".into()]));
        assert!(
            n.starts_with("segment 2/3 stopped early by an abort_on_fail"),
            "{n}"
        );
    }
}
