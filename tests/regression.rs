//! Regression detection end to end: real runs against the demo service's latency knob,
//! and the CLI's baseline, compare and history commands.

mod common;

use common::{perfgate, run, secs};
use perfgate::config::{Config, Overrides, Rate};
use perfgate::demo::{DemoServer, Knobs};
use perfgate::gate::Scope;
use perfgate::metrics::RunResult;
use perfgate::regress::{self, Change, Rules};

/// 10 s (the least a comparison judges) of the bundled scenario at a constant 500 arrivals/s against a demo whose
/// verify-proof answers in `latency` (+ up to 4 ms of jitter).
fn measured(latency: &str) -> RunResult {
    let mut knobs = Knobs::default();
    knobs
        .set("latency", &format!("/api/verify-proof={latency}"))
        .unwrap();
    knobs.set("jitter", "/api/verify-proof=4ms").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let o = Overrides {
        host: Some(demo.url()),
        rate: Some(Rate(500.0)),
        users: Some(200),
        duration: secs("10s"),
        ..Default::default()
    };
    run(&common::example_with_wait("[\"0ms\", \"1ms\"]"), o)
}

#[test]
fn thirty_percent_slower_endpoint_regresses_in_every_trial() {
    let (config, source) = Config::parse("perfgate.toml", perfgate::EXAMPLE_CONFIG).unwrap();
    let rules = Rules::from_config(&config.regression, &source).unwrap();
    let slow = Scope::Endpoint("/api/verify-proof".into());
    for trial in 0..3 {
        let base = measured("20ms");
        let new = measured("26ms");
        let b = regress::compare(&new, &base, &rules, "base");
        let p99 = b
            .comparisons
            .iter()
            .find(|c| c.rule.scope == slow && c.rule.metric.to_string() == "p99 latency")
            .unwrap();
        assert_eq!(
            p99.change,
            Change::Regressed,
            "trial {trial}: {}",
            p99.message
        );
        let delta = p99.delta.unwrap();
        assert!(
            (0.12..0.5).contains(&delta),
            "trial {trial}: {}",
            p99.message
        );
        // The open model holds the rate, so no endpoint's throughput regressed, and the
        // fast endpoints' latency did not move by more than the rule either.
        for c in b.regressions() {
            assert!(
                c.rule.scope == slow || c.rule.scope == Scope::Total,
                "trial {trial}: unexpected {}",
                c.message
            );
        }
    }
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn corrupt_foreign_or_mismatched_baselines_are_errors_not_passes() {
    let dir = common::temp_dir("bad-baseline");
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let cfg = write(
        &dir,
        "perfgate.toml",
        &common::config(
            &demo.url(),
            "{ constant = \"10ms\" }",
            &[("h", "/health", 1)],
        ),
    );
    let current = dir.join("current.json");
    perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .args(["-d", "1s", "-u", "2", "--out"])
        .arg(&current)
        .assert()
        .code(0);
    let corrupt = write(&dir, "corrupt.json", "{\"schema_version\": 1, \"tool\": ");
    let foreign = write(
        &dir,
        "k6.json",
        "{\"metrics\": {\"http_req_duration\": {}}}",
    );
    let mut other = RunResult::load(&current).unwrap();
    other.scenario.name = "stress".into();
    let mismatched = dir.join("stress.json");
    other.save(&mismatched).unwrap();
    for (base, says) in [
        (&corrupt, "baseline"),
        (&foreign, "baseline"),
        (&mismatched, "scenario \"stress\""),
        (&dir.join("missing.json"), "missing.json"),
    ] {
        let out = perfgate()
            .args(["check", "-c"])
            .arg(&cfg)
            .arg(&current)
            .arg("--baseline")
            .arg(base)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", base.display());
        assert!(err.contains(says), "{}: {err}", base.display());
        let out = perfgate()
            .arg("compare")
            .arg(&current)
            .arg(base)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "compare {}", base.display());
    }
}

#[test]
fn history_records_runs_lists_trends_and_serves_as_baseline() {
    let dir = common::temp_dir("history-cli");
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let mut text = common::config(
        &demo.url(),
        "{ constant = \"0ms\" }",
        &[("h", "/health", 1)],
    );
    text.push_str("\n[budgets.ci]\nerror_rate = \"1%\"\n");
    let cfg = write(&dir, "perfgate.toml", &text);
    let db = dir.join("h.db");
    // A project's first run against history:main has nothing to compare with: it says so
    // and is judged by its budget alone.
    let first = perfgate()
        .current_dir(&dir)
        .args([
            "run",
            "-c",
            "perfgate.toml",
            "-e",
            "ci",
            "-d",
            "1s",
            "-u",
            "1",
        ])
        .args(["--baseline", "history:main", "--history"])
        .arg(dir.join("empty.db"))
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&first.get_output().stdout).to_string();
    assert!(stdout.contains("no baseline yet"), "{stdout}");
    for (i, branch) in ["main", "main", "main", "feature"].iter().enumerate() {
        let assert = perfgate()
            .current_dir(&dir)
            .env("GIT_BRANCH", branch)
            .env("GIT_COMMIT", format!("{i}abcdef0123"))
            .args([
                "run",
                "-c",
                "perfgate.toml",
                "-e",
                "ci",
                "-d",
                "6s",
                "-u",
                "4",
                "--history",
            ])
            .arg(&db)
            .args(["--out", &format!("run{i}.json")])
            .assert()
            .code(0);
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
        assert!(
            stdout.contains(&format!("recorded run #{}", i + 1)),
            "{stdout}"
        );
    }
    // The newest run, against the median of main's: a real comparison, exit 0 or 1 only
    // on a regression, and the report names the baseline's commit.
    let out = perfgate()
        .current_dir(&dir)
        .env("GIT_BRANCH", "feature")
        .args(["check", "-c"])
        .arg(&cfg)
        .arg(dir.join("run3.json"))
        .args(["-e", "ci", "--baseline", "history:main:3", "--history"])
        .arg(&db)
        .args(["--report", "markdown=pr.md"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Against baseline 0abcdef")
            || stdout.contains("Against baseline 1abcdef")
            || stdout.contains("Against baseline 2abcdef"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("pr.md")).unwrap();
    assert!(md.contains("**Against baseline**"), "{md}");
    let list = perfgate()
        .current_dir(&dir)
        .args([
            "history",
            "--branch",
            "main",
            "--metric",
            "rps",
            "--chart",
            "trend.svg",
            "--history",
        ])
        .arg(&db)
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&list.get_output().stdout).to_string();
    assert_eq!(stdout.matches("passed").count(), 3, "{stdout}");
    assert!(!stdout.contains("feature"), "{stdout}");
    assert!(stdout.contains("rps of the whole run: "), "{stdout}");
    assert!(stdout.chars().any(|c| ('▁'..='█').contains(&c)), "{stdout}");
    let svg = std::fs::read_to_string(dir.join("trend.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
    // compare is report-only: exit 0 and every comparison listed.
    let cmp = perfgate()
        .current_dir(&dir)
        .args(["compare", "run1.json", "run0.json"])
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&cmp.get_output().stdout).to_string();
    assert!(stdout.contains("throughput on h"), "{stdout}");
}
