//! Helpers shared by the end-to-end tests: the demo service on 127.0.0.1:0, configs,
//! the binary, and a bounded in-process run.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use perfgate::config::{Config, Dur, Overrides, Plan};
use perfgate::engine::{self, RunOptions};
use perfgate::metrics::RunResult;

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
    let opts = RunOptions {
        environment: None,
        slow_request: None,
        log_requests: false,
        hook: None,
    };
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
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}
