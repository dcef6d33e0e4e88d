//! JUnit XML: one testcase per objective (and per alert level), the violation as the
//! failure message, so Jenkins, GitLab and GitHub show budgets as tests.

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::format::{seconds, value};
use super::{words, Report};
use crate::gate::capacity::{Capacity, End};
use crate::gate::{Check, Outcome, Status};
use crate::metrics::StopReason;
use crate::regress::{Change, Comparison};

pub fn render(r: &Report<'_>) -> String {
    let v = r.verdict;
    let mut report = quick_junit::Report::new("perfgate");
    let mut suite = TestSuite::new(format!(
        "perfgate budget {} ({})",
        v.budget, r.result.scenario.name
    ));
    suite.set_time(std::time::Duration::from_secs_f64(
        r.result.duration_s.max(0.0),
    ));
    if r.result.tls_insecure {
        suite.add_property(quick_junit::Property::new("tls_insecure", "true"));
        suite.set_system_err(format!("WARNING: {}", words::INSECURE));
    }
    if let Some(t) = run_case(r) {
        suite.add_test_case(t);
    }
    if let Some(c) = &v.capacity {
        capacity_cases(c, &mut suite);
    }
    for c in &v.checks {
        suite.add_test_case(case(c, "budget"));
    }
    for a in &v.alerts {
        for c in &a.checks {
            // Alerts are reported, never failing the build: a triggered alert is skipped.
            let mut t = case(c, &format!("alert.{}", a.level));
            if c.outcome != Outcome::Pass {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!("{} alert: {}", a.level, words::check(c)));
                t = TestCase::new(t.name.clone(), status);
                t.set_classname(format!("alert.{}", a.level));
            }
            suite.add_test_case(t);
        }
    }
    if let Some(b) = &v.baseline {
        for c in &b.comparisons {
            suite.add_test_case(regression_case(c));
        }
    }
    report.add_test_suite(suite);
    report.to_string().expect("JUnit serialises")
}

/// A capacity search: a testcase per step (failed with why it broke) and one for the
/// search's answer, failed when it found none or one below `require`.
fn capacity_cases(c: &Capacity, suite: &mut TestSuite) {
    for s in &c.steps {
        let name = format!("step at {}/s", super::capacity::rate(s.rate));
        let status = if s.held {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(super::capacity::broke(&s.broke, s.dropped_share).join("; "));
            status
        };
        let mut t = TestCase::new(name, status);
        t.set_classname("capacity.step");
        suite.add_test_case(t);
    }
    let answer = super::capacity::conclusion(c);
    let status = match (c.end, c.meets()) {
        (End::Found | End::HeldAtMax, true) => TestCaseStatus::success(),
        _ => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(answer.clone());
            status
        }
    };
    let mut t = TestCase::new("capacity", status);
    t.set_classname("capacity");
    t.set_system_out(answer);
    suite.add_test_case(t);
}

/// A run that could not be judged (inconclusive) or was cut short (interrupted) is an
/// error of the run itself, so a CI dashboard does not show only the objectives that held
/// on the figures there were. None for a run that completed and could be judged.
fn run_case(r: &Report<'_>) -> Option<TestCase> {
    let mut why = Vec::new();
    if r.result.stop == StopReason::Interrupted {
        why.push(format!(
            "interrupted after {}: the results are partial",
            seconds(r.result.duration_s)
        ));
    }
    why.extend(r.verdict.inconclusive_reasons().map(words::note));
    if why.is_empty() {
        return None;
    }
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(why.join("; "));
    status.set_type(if r.verdict.status == Status::Inconclusive {
        "inconclusive"
    } else {
        "interrupted"
    });
    let mut t = TestCase::new("run", status);
    t.set_classname("run");
    Some(t)
}

/// One testcase per regression objective: regressed fails, inconclusive is skipped.
fn regression_case(c: &Comparison) -> TestCase {
    let message = words::comparison(c);
    let scope = c.rule.scope.label().unwrap_or_else(|| "total".into());
    let status = match c.change {
        Change::Regressed => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(message.clone());
            s.set_type("regression");
            s
        }
        Change::Inconclusive => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(message.clone());
            s
        }
        Change::Improved | Change::Unchanged => TestCaseStatus::success(),
    };
    let mut t = TestCase::new(format!("{scope} {} {}", c.rule.metric, c.rule.text), status);
    t.set_classname(format!("regression.{scope}"));
    t.set_system_out(message);
    t
}

fn case(c: &Check, class: &str) -> TestCase {
    let scope = c.objective.scope.label().unwrap_or_else(|| "total".into());
    let name = format!(
        "{} {} {}",
        scope,
        c.objective.metric,
        value(c.objective.metric, c.objective.limit)
    );
    let message = words::check(c);
    let status = match c.outcome {
        Outcome::Pass => TestCaseStatus::success(),
        Outcome::Fail | Outcome::NoData => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(message.clone());
            s.set_type(if c.outcome == Outcome::NoData {
                "no data"
            } else {
                "budget exceeded"
            });
            s
        }
    };
    let mut t = TestCase::new(name, status);
    t.set_classname(format!("{class}.{scope}"));
    t.set_system_out(message);
    t
}
