//! Snapshot tests: each report format rendered from one fixed RunResult against the
//! bundled production budget, pinned with insta. A change to any format shows up as a
//! reviewable diff (`cargo insta review`, or accept with INSTA_UPDATE=always).

mod common;

use common::{fixture, fixture_with};
use perfgate::config::Config;
use perfgate::gate::{evaluate, Budget, Verdict};
use perfgate::metrics::RunResult;
use perfgate::regress::{self, Rules};
use perfgate::report::table::Paint;
use perfgate::report::{annotations, terminal, words, Format, Report};

/// The fixture judged against the bundled production budget; with `baseline`, also
/// compared with the same run at 0.7× verify-proof latency (so it regressed by ~43%).
fn judged(baseline: bool) -> (RunResult, Verdict) {
    let (config, source) =
        Config::parse("perfgate.toml", perfgate::EXAMPLE_CONFIG).expect("example parses");
    let budget = Budget::resolve(&config, &source, Some("production"), None, &[]).expect("budget");
    let result = fixture();
    let mut verdict = evaluate(&budget, &result);
    if baseline {
        let rules = Rules::from_config(&config.regression, &source).unwrap();
        let base = fixture_with(0.7);
        verdict = verdict.with_baseline(regress::compare(&result, &base, &rules, "base.json"));
    }
    (result, verdict)
}

fn rendered(format: Format, baseline: bool) -> String {
    let (result, verdict) = judged(baseline);
    let report = Report {
        result: &result,
        verdict: &verdict,
    };
    format.render(&report)
}

#[test]
fn markdown_pr_comment() {
    insta::assert_snapshot!(rendered(Format::Markdown, false));
}

#[test]
fn junit_xml() {
    insta::assert_snapshot!(rendered(Format::Junit, false));
}

#[test]
fn verdict_json() {
    insta::assert_snapshot!(rendered(Format::Json, false));
}

#[test]
fn terminal_and_annotations() {
    let (result, verdict) = judged(false);
    let report = Report {
        result: &result,
        verdict: &verdict,
    };
    insta::assert_snapshot!("terminal", terminal(&report, &Paint(false)));
    insta::assert_snapshot!("github_annotations", annotations(&report));
}

#[test]
fn every_format_against_a_baseline() {
    let (result, verdict) = judged(true);
    let b = verdict.baseline.as_ref().unwrap();
    let regressed: Vec<String> = b.regressions().map(words::comparison).collect();
    assert!(
        regressed
            .iter()
            .any(|m| m.starts_with("p99 latency on /api/verify-proof regressed")),
        "{regressed:?}"
    );
    let report = Report {
        result: &result,
        verdict: &verdict,
    };
    insta::assert_snapshot!("baseline_terminal", terminal(&report, &Paint(false)));
    insta::assert_snapshot!("baseline_markdown", Format::Markdown.render(&report));
    insta::assert_snapshot!("baseline_junit", Format::Junit.render(&report));
}

/// Regressions fail a run whose objectives all held: the head says "but", not a list
/// that reads as a contradiction ("FAILED 7/7 objectives held, 2 regressed").
#[test]
fn a_run_failed_only_by_regressions_says_but() {
    let (result, mut verdict) = judged(true);
    verdict
        .checks
        .retain(|c| c.outcome == perfgate::gate::Outcome::Pass);
    let report = Report {
        result: &result,
        verdict: &verdict,
    };
    let text = terminal(&report, &Paint(false));
    assert!(
        text.contains(
            "FAILED 7/7 objectives held, but 2 comparisons with the baseline regressed (budget production"
        ),
        "{text}"
    );
}
