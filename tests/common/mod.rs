//! Helpers shared by the end-to-end tests: the demo service on 127.0.0.1:0, configs,
//! the binary, and a bounded in-process run.
#![allow(dead_code)]

#[cfg(target_os = "linux")]
pub mod cdp;
pub mod faults;
pub mod flow;
pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use perfgate::config::{Config, Dur, Overrides, Plan};
use perfgate::engine::{self, RunOptions};
use perfgate::metrics::{
    Generator, GitInfo, Interval, IntervalStats, Latency, Packed, RunResult, ScenarioInfo, Stats,
    StopReason, TaskCount,
};

/// A config with one user class hitting the given `(endpoint name, path, weight)` tasks.
pub fn config(host: &str, wait: &str, tasks: &[(&str, &str, u32)]) -> String {
    let mut text = format!(
        "[target]\nhost = \"{host}\"\ntimeout = \"5s\"\n\n[[users]]\nname = \"U\"\nwait = {wait}\n"
    );
    for (name, path, weight) in tasks {
        text.push_str(&format!(
            "\n  [[users.tasks]]\n  name = \"{name}\"\n  endpoint = \"{name}\"\n  weight = {weight}\n  path = \"{path}\"\n"
        ));
    }
    text
}

/// The bundled config with every user class's think time set to `between`.
pub fn example_with_wait(between: &str) -> String {
    perfgate::EXAMPLE_CONFIG
        .lines()
        .map(|l| {
            if l.starts_with("wait = ") {
                format!("wait = {{ between = {between} }}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `text` in-process, bounded by `o` (which must bound time or iterations).
pub fn run(text: &str, o: Overrides) -> RunResult {
    let (config, source) = Config::parse("test.toml", text).unwrap_or_else(|e| panic!("{e}"));
    let plan = Plan::build(&config, &source, &o).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions::default();
    rt.block_on(engine::run(plan, opts, std::future::pending()))
}

pub fn secs(s: &str) -> Option<Dur> {
    Some(Dur::parse(s).unwrap())
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("perfgate-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn perfgate() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("perfgate").unwrap();
    cmd.timeout(Duration::from_secs(120));
    for var in [
        "TEST_SCENARIO",
        "TEST_USERS",
        "TEST_DURATION",
        "TARGET_HOST",
        "PERFGATE_ENV",
        "MAX_P99_LATENCY_MS",
        "MAX_P95_LATENCY_MS",
        "MAX_AVG_LATENCY_MS",
        "MAX_FAIL_RATE",
        "MIN_RPS",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "PERFGATE_HISTORY",
        "PERFGATE_RUN_ID",
        "PERFGATE_START_AT",
        "GITHUB_RUN_ID",
        "CI_PIPELINE_ID",
        "BUILD_TAG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// `n` samples spread evenly between `lo` and `hi` microseconds.
fn latency(n: u64, lo: u64, hi: u64) -> Latency {
    let mut l = Latency::default();
    for i in 0..n {
        l.record_us(lo + (hi - lo) * i / n.max(1));
    }
    l
}

/// A 10-second production run: verify-proof is slow in its tail (p99 over 150 ms) and
/// biometric fails 1% of requests; everything else holds.
pub fn fixture() -> RunResult {
    fixture_with(1.0)
}

/// The fixture with /api/verify-proof's latencies multiplied by `scale`. Each second
/// differs a little from the next (±2%), so the runs have some noise.
pub fn fixture_with(scale: f64) -> RunResult {
    let specs: [(&str, &str, u64, u64, u64, u64); 4] = [
        ("/api/batch-verify-proofs", "POST", 400, 0, 20_000, 90_000),
        (
            "/api/verify-biometric-proof",
            "POST",
            1_000,
            10,
            5_000,
            40_000,
        ),
        ("/api/verify-proof", "POST", 2_000, 0, 4_000, 220_000),
        ("/health", "GET", 600, 0, 500, 2_000),
    ];
    let scaled = |name: &str, us: u64| {
        if name == "/api/verify-proof" {
            (us as f64 * scale) as u64
        } else {
            us
        }
    };
    let series: Vec<Interval> = (0..10)
        .map(|t| Interval {
            t,
            users: 50,
            dropped: 0,
            endpoints: specs
                .iter()
                .map(|(name, _, n, f, lo, hi)| {
                    let wobble = 1.0 + 0.02 * ((t % 3) as f64 - 1.0);
                    let hi = (scaled(name, *hi) as f64 * wobble) as u64;
                    IntervalStats {
                        name: name.to_string(),
                        requests: n / 10,
                        failures: f / 10,
                        latency: Packed::pack(&latency(n / 10, scaled(name, *lo), hi)),
                    }
                })
                .collect(),
        })
        .collect();
    let endpoints: Vec<Stats> = specs
        .iter()
        .enumerate()
        .map(|(i, (name, method, n, f, lo, hi))| {
            let mut s = Stats::named(name, method);
            s.requests = *n;
            s.failures = *f;
            if *f > 0 {
                s.failure_reasons.insert("HTTP 500".into(), *f);
            }
            for interval in &series {
                s.latency.add(&interval.endpoints[i].latency.unpack());
            }
            s.ttfb = latency(*n, lo / 2, hi / 2);
            s.connect = latency(10, 50, 150);
            s
        })
        .collect();
    let mut total = Stats::named("Aggregated", "");
    for e in &endpoints {
        total.add(e);
    }
    let mut r = RunResult {
        schema_version: perfgate::metrics::SCHEMA_VERSION,
        tool: "perfgate 0.0.0-snapshot".into(),
        scenario: ScenarioInfo {
            name: "normal".into(),
            description: "Normal load: expected daily traffic".into(),
            model: perfgate::metrics::LoadModel::Closed,
            users: 50,
            rate: None,
            duration_s: 10.0,
            segment: None,
            shape: Vec::new(),
            changes: Vec::new(),
            run: None,
            merged: None,
        },
        environment: Some("production".into()),
        target: "http://127.0.0.1:8080".into(),
        tls_insecure: false,
        git: GitInfo {
            commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            branch: Some("main".into()),
        },
        started_at: "2026-11-27T00:00:00Z".into(),
        ended_at: "2026-11-27T00:00:10Z".into(),
        duration_s: 10.0,
        stop: StopReason::Completed,
        stopped_segments: Default::default(),
        stopped_by: None,
        generator: Generator {
            threads: 2,
            cores: 2,
            cpu_seconds: 1.5,
            wait_seconds: 0.1,
            schedule_lag_ms: 1.0,
            timer_delay_p99_ms: 0.5,
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
            code_failures: 0,
        }],
        checks: Vec::new(),
    };
    r.refresh();
    r
}

/// Requests completed in each of the first `n` seconds of `r`.
pub fn per_second(r: &RunResult, n: u64) -> Vec<u64> {
    (0..n)
        .map(|t| {
            r.series
                .iter()
                .find(|i| i.t == t)
                .map_or(0, |i| i.endpoints.iter().map(|e| e.requests).sum())
        })
        .collect()
}

/// Reads one request from a raw connection into (head, body), the body by its
/// Content-Length; `buf` keeps what arrived beyond it. None when the client closed.
pub fn read_request(s: &mut std::net::TcpStream, buf: &mut Vec<u8>) -> Option<(String, String)> {
    use std::io::Read;
    let mut fill = |buf: &mut Vec<u8>| {
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    };
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if !fill(buf) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.trim().parse::<usize>().unwrap());
    while buf.len() < end + length {
        if !fill(buf) {
            return None;
        }
    }
    let body: Vec<u8> = buf.drain(..end + length).skip(end).collect();
    Some((head, String::from_utf8(body).unwrap()))
}

/// One user class calling GET /health (endpoint "h") with no think time.
pub fn health_only(host: &str) -> String {
    config(host, "{ constant = \"0ms\" }", &[("h", "/health", 1)])
}

/// What the result schema finds wrong with `instance` (empty: it validates).
pub fn schema_errors(instance: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/run-result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// An example program of this crate (`examples/NAME.rs`), built if it is not yet.
pub fn example(name: &str) -> PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name])
        .status()
        .expect("cargo builds the example");
    assert!(status.success(), "building example {name}");
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        })
        .join("examples")
        .join(name);
    assert!(bin.is_file(), "{}", bin.display());
    bin
}

/// What `perfgate demo` says the demo service itself counted, from its output.
pub fn demo_count(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("(the demo service itself counted "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the demo's count")
}

/// Runs `perfgate run` on `config` (written to a file of its own) with `args`: the
/// result, and what perfgate printed.
pub fn run_config(name: &str, config: &str, args: &[&str]) -> (RunResult, String) {
    let dir = temp_dir(name);
    let path = write(&dir, "perfgate.toml", config);
    let out = dir.join("r.json");
    let done = perfgate()
        .arg("run")
        .arg("-c")
        .arg(&path)
        .args(args)
        .args(["--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(out.is_file(), "{said}");
    (RunResult::load(&out).unwrap(), said)
}

/// What `perfgate run` says refusing `config` before any load: exit 2, and the error
/// pointing into the file.
pub fn refused(config: &str) -> String {
    let dir = temp_dir("refused");
    let path = write(&dir, "perfgate.toml", config);
    let done = perfgate()
        .args(["run", "--quiet", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&done.stderr).into_owned();
    assert_eq!(done.status.code(), Some(2), "{config}: {err}");
    assert!(err.contains("perfgate.toml:"), "a position in {err}");
    err
}
