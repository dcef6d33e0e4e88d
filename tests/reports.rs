//! Snapshot tests: each report format rendered from one fixed RunResult against the
//! bundled production budget, pinned with insta. A change to any format shows up as a
//! reviewable diff (`cargo insta review`, or accept with INSTA_UPDATE=always).

use perfgate::config::Config;
use perfgate::gate::{evaluate, Budget};
use perfgate::metrics::{
    Generator, GitInfo, Interval, IntervalStats, Latency, RunResult, ScenarioInfo, Stats,
    StopReason, TaskCount,
};
use perfgate::report::table::Paint;
use perfgate::report::{annotations, terminal, Format, Report};

/// `n` samples spread evenly between `lo` and `hi` microseconds.
fn latency(n: u64, lo: u64, hi: u64) -> Latency {
    let mut l = Latency::default();
    for i in 0..n {
        l.record_us(lo + (hi - lo) * i / n.max(1));
    }
    l
}

fn endpoint(name: &str, method: &str, n: u64, failures: u64, lo: u64, hi: u64) -> Stats {
    let mut s = Stats::named(name, method);
    s.requests = n;
    s.failures = failures;
    if failures > 0 {
        s.failure_reasons.insert("HTTP 500".into(), failures);
    }
    s.latency = latency(n, lo, hi);
    s.ttfb = latency(n, lo / 2, hi / 2);
    s.connect = latency(10, 50, 150);
    s
}

/// A 10-second production run: verify-proof is slow in its tail (p99 over 150 ms) and
/// biometric fails 1% of requests; everything else holds.
fn fixture() -> RunResult {
    let endpoints = vec![
        endpoint("/api/batch-verify-proofs", "POST", 400, 0, 20_000, 90_000),
        endpoint(
            "/api/verify-biometric-proof",
            "POST",
            1_000,
            10,
            5_000,
            40_000,
        ),
        endpoint("/api/verify-proof", "POST", 2_000, 0, 4_000, 220_000),
        endpoint("/health", "GET", 600, 0, 500, 2_000),
    ];
    let mut total = Stats::named("Aggregated", "");
    for e in &endpoints {
        total.add(e);
    }
    let series = (0..10)
        .map(|t| Interval {
            t,
            users: 50,
            dropped: 0,
            endpoints: endpoints
                .iter()
                .map(|e| IntervalStats {
                    name: e.name.clone(),
                    requests: e.requests / 10,
                    failures: e.failures / 10,
                    latency: latency(e.requests / 10, 4_000, 60_000),
                })
                .collect(),
        })
        .collect();
    let mut r = RunResult {
        schema_version: perfgate::metrics::SCHEMA_VERSION,
        tool: "perfgate 0.0.0-snapshot".into(),
        scenario: ScenarioInfo {
            name: "normal".into(),
            description: "Normal load: expected daily traffic".into(),
            model: "closed".into(),
            users: 50,
            rate: None,
            duration_s: 10.0,
        },
        environment: Some("production".into()),
        target: "http://127.0.0.1:8080".into(),
        git: GitInfo {
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            branch: Some("main".into()),
        },
        started_at: "2026-11-27T00:00:00Z".into(),
        ended_at: "2026-11-27T00:00:10Z".into(),
        duration_s: 10.0,
        stop: StopReason::Completed,
        generator: Generator {
            threads: 2,
            cores: 2,
            cpu_seconds: 1.5,
            max_lag_ms: 1.0,
            overloaded: false,
            notes: vec![],
        },
        total,
        endpoints,
        series,
        tasks: vec![TaskCount {
            user: "ProofMessengerUser".into(),
            task: "verify_proof".into(),
            iterations: 2_000,
        }],
    };
    r.refresh();
    r
}

fn rendered(format: Format) -> String {
    let (config, source) =
        Config::parse("perfgate.toml", perfgate::EXAMPLE_CONFIG).expect("example parses");
    let budget = Budget::resolve(&config, &source, Some("production"), None).expect("budget");
    let result = fixture();
    let verdict = evaluate(&budget, &result);
    let report = Report {
        result: &result,
        verdict: &verdict,
    };
    format.render(&report)
}

#[test]
fn markdown_pr_comment() {
    insta::assert_snapshot!(rendered(Format::Markdown));
}

#[test]
fn junit_xml() {
    insta::assert_snapshot!(rendered(Format::Junit));
}

#[test]
fn verdict_json() {
    insta::assert_snapshot!(rendered(Format::Json));
}

#[test]
fn terminal_and_annotations() {
    let (config, source) = Config::parse("perfgate.toml", perfgate::EXAMPLE_CONFIG).unwrap();
    let budget = Budget::resolve(&config, &source, Some("production"), None).unwrap();
    let result = fixture();
    let verdict = evaluate(&budget, &result);
    let report = Report {
        result: &result,
        verdict: &verdict,
    };
    insta::assert_snapshot!("terminal", terminal(&report, &Paint(false)));
    insta::assert_snapshot!("github_annotations", annotations(&report));
}
