//! The binary as a user runs it: the gate's verdicts and exit codes, config errors,
//! reports, the schema, init, check, and Ctrl-C.

mod common;

use common::{perfgate, temp_dir, write};
use perfgate::demo::{DemoServer, Knobs};

/// A small budgeted config against `host`: fast think time so a 3 s run has data.
fn budgeted(host: &str) -> String {
    let base = common::example_with_wait("[\"20ms\", \"60ms\"]");
    base.replace(
        "host = \"http://127.0.0.1:8000\"",
        &format!("host = \"{host}\""),
    )
}

#[test]
fn healthy_run_passes_with_exit_0_and_shows_every_objective() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("healthy");
    let cfg = write(&dir, "perfgate.toml", &budgeted(&demo.url()));
    let out = perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .args(["--duration", "3s", "--quiet", "--out"])
        .arg(dir.join("result.json"))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("PASSED 14/14 objectives held"), "{text}");
    assert!(
        text.contains("p99 latency") && text.contains("on /api/verify-proof"),
        "{text}"
    );
    // What we saved is what the service saw.
    let r = perfgate::metrics::RunResult::load(&dir.join("result.json")).unwrap();
    // The service also answered requests still in flight at the stop (not counted).
    let served: u64 = demo.served().values().flat_map(|m| m.values()).sum();
    assert!(
        r.total.requests <= served && served <= r.total.requests + r.total.interrupted,
        "{served} vs {}+{}",
        r.total.requests,
        r.total.interrupted
    );
}

#[test]
fn latency_on_one_endpoint_fails_exactly_that_endpoints_slo() {
    let mut knobs = Knobs::default();
    knobs
        .set("latency", "/api/verify-biometric-proof=250ms")
        .unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let dir = temp_dir("slow-endpoint");
    // Judge endpoints only, so the total budget does not fail too.
    let text = budgeted(&demo.url()).replace("budget = \"smoke\"", "budget = \"none\"")
        + "\n[budgets.none]\n";
    let cfg = write(&dir, "perfgate.toml", &text);
    let (md, xml) = (dir.join("pr.md"), dir.join("junit.xml"));
    let out = perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .args(["--duration", "3s", "--quiet"])
        .arg("--report")
        .arg(format!("markdown={}", md.display()))
        .arg("--report")
        .arg(format!("junit={}", xml.display()))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let violations: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('✗'))
        .collect();
    assert_eq!(violations.len(), 2, "{text}");
    for v in &violations {
        assert!(v.contains("on /api/verify-biometric-proof"), "{v}");
    }
    let md = std::fs::read_to_string(md).unwrap();
    assert!(
        md.contains("**❌ FAILED**")
            && md.contains("🔴 p99 latency")
            && md.contains("on /api/verify-biometric-proof"),
        "{md}"
    );
    let xml = std::fs::read_to_string(xml).unwrap();
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
    assert!(
        xml.contains("/api/verify-biometric-proof p99 latency 200 ms"),
        "{xml}"
    );
}

#[test]
fn an_endpoint_with_no_samples_is_no_data_and_fails() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("no-data");
    let saved = dir.join("run.json");
    perfgate()
        .args(["run", "--duration", "2s", "--quiet", "-c"])
        .arg(write(&dir, "perfgate.toml", &budgeted(&demo.url())))
        .arg("--out")
        .arg(&saved)
        .assert()
        .code(0);
    // A budget naming an endpoint the results lack: no data, which fails. (`run` refuses
    // such a config before any load: no task calls that endpoint.)
    let text = budgeted(&demo.url()) + "\n[endpoints.\"/api/never-called\"]\np99 = \"100ms\"\n";
    let cfg = write(&dir, "more.toml", &text);
    perfgate()
        .args(["run", "--duration", "2s", "-c"])
        .arg(&cfg)
        .assert()
        .code(2);
    let out = perfgate()
        .args(["check", "-c"])
        .arg(&cfg)
        .arg(&saved)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("✗ p99 latency: no data on /api/never-called"),
        "{text}"
    );
}

#[test]
fn abort_on_fail_stops_a_long_run_early() {
    let mut knobs = Knobs::default();
    knobs.set("latency", "/api/verify-proof=300ms").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let dir = temp_dir("abort");
    let mut text = budgeted(&demo.url());
    let at = text.find("\n[budgets.smoke]").unwrap();
    let p99 = at + text[at..].find("p99 = \"150ms\"").unwrap();
    text.replace_range(
        p99..p99 + 13,
        "p99 = { max = \"150ms\", abort_on_fail = true, grace = \"2s\" }",
    );
    let cfg = write(&dir, "perfgate.toml", &text);
    let started = std::time::Instant::now();
    let out = perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .args(["--duration", "60s", "--quiet", "--out"])
        .arg(dir.join("r.json"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let took = started.elapsed().as_secs_f64();
    assert!(took < 2.0 + 4.0, "took {took:.1}s");
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("stopped early by an abort_on_fail"), "{text}");
    let r = perfgate::metrics::RunResult::load(&dir.join("r.json")).unwrap();
    assert_eq!(r.stop, perfgate::metrics::StopReason::Aborted);
}

#[test]
fn the_seeds_environment_variables_change_the_verdict() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("env-vars");
    let cfg = write(&dir, "perfgate.toml", &budgeted(&demo.url()));
    // A p99 budget of 0 ms cannot hold; a fail rate of 100% always does.
    let out = perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .args(["--quiet"])
        .env("MAX_P99_LATENCY_MS", "0")
        .env("TEST_DURATION", "2s")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let violation = text
        .lines()
        .find(|l| l.trim_start().starts_with("✗ p99 latency"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        violation.contains("> 0 ms budget") && violation.contains("MAX_P99_LATENCY_MS"),
        "{violation}"
    );
    assert!(text.contains("for 2s"), "TEST_DURATION ignored: {text}");
    // TEST_SCENARIO picks a scenario; an unknown one is a usage error before any load.
    perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .env("TEST_SCENARIO", "nope")
        .assert()
        .code(2);
    // A file that is not there is named without a made-up position.
    let err = perfgate()
        .args(["run", "-c", "no-such-perfgate.toml"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("no-such-perfgate.toml: cannot read config"),
        "{err}"
    );
}

#[test]
fn config_errors_give_file_line_column_and_exit_2() {
    let dir = temp_dir("config-errors");
    let ok_task = "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/\"\n";
    let cases: &[(&str, String, &str)] = &[
        ("unknown key", format!("[target]\nhost = \"http://127.0.0.1:9\"\nhots = 1\n{ok_task}"), ":3:1: unknown field `hots`"),
        ("wrong type", format!("[target]\nhost = \"http://127.0.0.1:9\"\n[scenarios.smoke]\nusers = \"ten\"\n{ok_task}"), ":4:9: invalid type"),
        ("bad duration", format!("[target]\nhost = \"http://127.0.0.1:9\"\n[scenarios.smoke]\nduration = \"30 parsecs\"\n{ok_task}"), ":4:12: invalid duration"),
        ("template", "[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/{{ oops( }}\"\n".into(), ":6:8: template does not compile"),
        ("unknown function", "[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/{{ uid() }}\"\n".into(), ":6:8: template: unknown name `uid`: the functions are choice, "),
        ("unextracted var", "[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/\"\nextract = { token = \"/t\" }\n[[users.tasks]]\npath = \"/\"\nheaders = { auth = \"{{ vars.tokne }}\" }\n".into(), ":10:20: template: `vars.tokne`: no step extracts `tokne` (extract = { tokne = \"/json/pointer\" }) (extracted: token)"),
        ("unknown feeder", "[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/{{ data.acounts.id }}\"\n".into(), ":6:8: template: `data.acounts`: no [data.acounts] feeder is defined"),
        ("bad extract", "[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/\"\nextract = { t = \"auth/token\" }\n".into(), ":5:1: extract \"t\": \"auth/token\" is neither a JSON pointer (\"/auth/token\") nor header:NAME"),
        ("bad expected header", "[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/\"\nexpect = { headers = { \"content type\" = \"json\" } }\n".into(), ":5:1: expect.headers: \"content type\" is no header name (e.g. \"content-type\")"),
        ("zero weight", "[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/\"\nweight = 0\n".into(), "task weights of user class \"U\" add up to 0"),
        ("unknown scenario", format!("[target]\nhost = \"http://127.0.0.1:9\"\n[gate]\nscenario = \"nope\"\n[scenarios.smoke]\n{ok_task}"), "unknown scenario \"nope\"; this config has: smoke"),
        ("missing csv", format!("[target]\nhost = \"http://127.0.0.1:9\"\n[data.accounts]\nfile = \"missing.csv\"\n{ok_task}"), ":3:1: data \"accounts\": cannot read "),
        ("bad ca", format!("[target]\nhost = \"https://127.0.0.1:9\"\nca_file = \"nope.pem\"\n{ok_task}"), "[target] ca_file "),
        ("zero timeout", format!("[target]\nhost = \"http://127.0.0.1:9\"\ntimeout = \"0s\"\n{ok_task}"), ":3:11: [target] timeout must be more than 0s"),
        ("bad budget", format!("[target]\nhost = \"http://127.0.0.1:9\"\n[gate]\nenvironment = \"prod\"\n[budgets.prod]\np99 = \"fast\"\n{ok_task}"), ":6:7: invalid duration"),
        ("endpoint typo", format!("[target]\nhost = \"http://127.0.0.1:9\"\n[endpoints.\"/helth\"]\np99 = \"1s\"\n{ok_task}"), ":4:7: no task calls endpoint \"/helth\", named by [endpoints.\"/helth\"]; the tasks call: /"),
    ];
    for (what, text, needle) in cases {
        let cfg = write(&dir, &format!("{}.toml", what.replace(' ', "-")), text);
        let out = perfgate()
            .args(["run", "-c"])
            .arg(&cfg)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{what}: {err}");
        assert!(
            err.contains(&format!("{}.toml", what.replace(' ', "-"))),
            "{what}: no file name in {err}"
        );
        if *what == "missing csv" {
            // Resolved next to the config file, and the message says where it looked.
            let looked = dir.join("missing.csv");
            assert!(err.contains(&looked.display().to_string()), "{err}");
        }
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(
            out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("Endpoint"),
            "{what}: load ran"
        );
    }
}

#[test]
fn unwritable_output_fails_before_any_load() {
    let dir = temp_dir("unwritable");
    let cfg = write(&dir, "p.toml", &budgeted("http://127.0.0.1:9"));
    // A folder that cannot be made, even by root: its parent is a file. (A missing
    // folder that can be made is made: a run's own folder on a shared volume.)
    let file = write(&dir, "a-file", "");
    let out_path = file.join("r.json");
    let started = std::time::Instant::now();
    let out = perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out_path)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot write {}", out_path.display())),
        "{err}"
    );
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
fn result_json_validates_against_the_schema() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("schema");
    let cfg = write(&dir, "perfgate.toml", &budgeted(&demo.url()));
    let path = dir.join("result.json");
    perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .args(["--duration", "2s", "--quiet", "--out"])
        .arg(&path)
        .assert()
        .code(0);
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/run-result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(!instance["series"].as_array().unwrap().is_empty());
    // And the schema is not vacuous: a wrong version is rejected.
    let mut bad = instance.clone();
    bad["schema_version"] = 2.into();
    assert!(!validator.is_valid(&bad));
    // What other runs write: a segment of a run, included scenarios of both models.
    let mut other = instance.clone();
    other["scenario"]["segment"] = "2/4".into();
    other["scenario"]["model"] = "mixed".into();
    assert!(validator.is_valid(&other));
    other["scenario"]["segment"] = "half".into();
    assert!(!validator.is_valid(&other));
    // A staged load's ramp: [seconds, value] pairs.
    let mut staged = instance.clone();
    staged["scenario"]["shape"] = serde_json::json!([[0.0, 0.0], [30.0, 20.0], [60.0, 0.0]]);
    assert!(validator.is_valid(&staged));
    staged["scenario"]["shape"] = serde_json::json!([[0.0, 0.0, 1.0]]);
    assert!(!validator.is_valid(&staged));
    // Results written before the schedule lag and timer delay were apart still load.
    let mut old = instance.clone();
    let g = old["generator"].as_object_mut().unwrap();
    for new in ["timer_delay_p99_ms", "schedule_lag_ms", "wait_seconds"] {
        g.remove(new);
    }
    g.insert("max_lag_ms".into(), 42.5.into());
    let r = perfgate::metrics::RunResult::from_json(&old.to_string()).unwrap();
    let g = &r.generator;
    assert_eq!(
        (g.schedule_lag_ms, g.timer_delay_p99_ms, g.wait_seconds),
        (42.5, 0.0, 0.0)
    );
}

#[test]
fn check_merges_saved_results_exactly_and_gates_them() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("check");
    let cfg = write(&dir, "perfgate.toml", &budgeted(&demo.url()));
    for shard in ["a.json", "b.json"] {
        perfgate()
            .args(["run", "-c"])
            .arg(&cfg)
            .args(["--duration", "2s", "--quiet", "--out"])
            .arg(dir.join(shard))
            .assert()
            .code(0);
    }
    let load = |f: &str| perfgate::metrics::RunResult::load(&dir.join(f)).unwrap();
    let (a, b) = (load("a.json"), load("b.json"));
    let merged = perfgate::metrics::merge(vec![a.clone(), b.clone()]).unwrap();
    assert_eq!(merged.total.requests, a.total.requests + b.total.requests);
    let mut union = a.total.latency.clone();
    union.add(&b.total.latency);
    assert_eq!(
        merged.total.latency.percentile_us(99.0),
        union.percentile_us(99.0)
    );
    let out = perfgate()
        .args(["check", "-c"])
        .arg(&cfg)
        .arg(dir.join("a.json"))
        .arg(dir.join("b.json"))
        .args(["--report"])
        .arg(format!("json={}", dir.join("verdict.json").display()))
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8_lossy(&out);
    let total_row = stdout.lines().find(|l| l.starts_with("Total")).unwrap();
    assert!(
        total_row.contains(&format!(
            " {} ",
            perfgate::report::format::thousands(merged.total.requests)
        )),
        "{total_row}"
    );
    let verdict: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("verdict.json")).unwrap()).unwrap();
    assert_eq!(verdict["verdict"]["status"], "passed");
    assert_eq!(verdict["verdict"]["checks"].as_array().unwrap().len(), 14);
    // A corrupt result is a clear error, not a pass.
    let bad = write(&dir, "bad.json", "{\"schema_version\": 1, \"tool\": 3}");
    let out = perfgate()
        .args(["check", "-c"])
        .arg(&cfg)
        .arg(&bad)
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed result"));
}

#[test]
fn init_writes_config_and_workflow_and_refuses_to_overwrite() {
    let dir = temp_dir("init");
    perfgate()
        .args(["init", "--dir"])
        .arg(&dir)
        .assert()
        .code(0);
    let wf: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(dir.join(".github/workflows/performance-budget.yml")).unwrap(),
    )
    .unwrap();
    let on = &wf["on"];
    assert!(on.get("pull_request").is_some() && on.get("push").is_some());
    let options = on["workflow_dispatch"]["inputs"]["test_scenario"]["options"]
        .as_sequence()
        .unwrap();
    assert_eq!(options.len(), 4);
    let steps = wf["jobs"]["performance-budget"]["steps"]
        .as_sequence()
        .unwrap();
    // perfgate comes from the action's released binary, not a build from source; the
    // action runs the load (its reports, upload and comment: tests/deploy.rs).
    let action: Vec<&serde_yaml_ng::Value> = steps
        .iter()
        .filter(|s| s["uses"].as_str() == Some("perfgate/perfgate@v1"))
        .collect();
    assert_eq!(action.len(), 2, "{steps:?}");
    assert_eq!(action[0]["with"]["command"].as_str(), Some("install"));
    assert_eq!(action[1]["with"]["config"].as_str(), Some("perfgate.toml"));
    assert_eq!(action[1]["with"]["artifact"].as_str(), Some("perf-result"));
    let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        runs.iter().all(|r| !r.contains("cargo install")),
        "{runs:?}"
    );
    // The written config is the bundled one and it parses.
    let text = std::fs::read_to_string(dir.join("perfgate.toml")).unwrap();
    perfgate::config::Config::parse("perfgate.toml", &text).unwrap();
    let out = perfgate()
        .args(["init", "--dir"])
        .arg(&dir)
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists; pass --force"));
    perfgate()
        .args(["init", "--force", "--dir"])
        .arg(&dir)
        .assert()
        .code(0);
}

#[test]
#[cfg(unix)]
fn ctrl_c_writes_partial_results_and_exits_3() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("sigint");
    let cfg = write(&dir, "perfgate.toml", &budgeted(&demo.url()));
    let bin = assert_cmd::cargo::cargo_bin("perfgate");
    let mut child = std::process::Command::new(bin)
        .args(["run", "--quiet", "--duration", "60s", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("partial.json"))
        .arg("--report")
        .arg(format!("markdown={}", dir.join("pr.md").display()))
        .arg("--report")
        .arg(format!("html={}", dir.join("report.html").display()))
        .arg("--report")
        .arg(format!("junit={}", dir.join("junit.xml").display()))
        .stdout(std::fs::File::create(dir.join("stdout.txt")).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    // SAFETY: kill() sends a signal to a child we own.
    unsafe { libc_kill(child.id() as i32, 2) };
    let (code, _) = exit_within(&mut child, 10.0);
    assert_eq!(code, Some(3));
    let r = perfgate::metrics::RunResult::load(&dir.join("partial.json")).unwrap();
    assert_eq!(r.stop, perfgate::metrics::StopReason::Interrupted);
    assert!(r.total.requests > 0 && r.duration_s < 10.0);
    // Every report is headed INTERRUPTED, not by a bare PASSED on partial results.
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let terminal = read("stdout.txt");
    let verdict = ["PASSED ", "FAILED ", "INCONCLUSIVE "]
        .iter()
        .find_map(|w| terminal.find(&format!("\n{w}")))
        .expect(&terminal);
    let headline = terminal.find("\nINTERRUPTED after ").expect(&terminal);
    assert!(headline < verdict, "{terminal}");
    assert!(terminal[headline..verdict]
        .trim_end()
        .ends_with(" s: the verdict below judges partial results (exit 3)"));
    let pr = read("pr.md");
    assert!(pr.contains("**⏹️ INTERRUPTED** after "), "{pr}");
    let html = read("report.html");
    assert!(html.contains("<h1>INTERRUPTED</h1>"));
    // The interruption is a note, not a violation, when every objective held.
    if terminal.contains("\nPASSED ") {
        assert!(html.contains("<h2>Notes</h2>") && !html.contains("Violations"));
    }
    // JUnit: the run itself is an error beside the objectives judged on partial figures.
    let xml = read("junit.xml");
    assert!(
        xml.contains("<testcase name=\"run\" classname=\"run\">")
            && xml.contains("type=\"interrupted\"")
            && xml.contains("errors=\"1\""),
        "{xml}"
    );
}

#[cfg(unix)]
extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Waits for `child` to exit, failing past `secs`: its exit code and how long it took.
#[cfg(unix)]
fn exit_within(child: &mut std::process::Child, secs: f64) -> (Option<i32>, f64) {
    let started = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return (s.code(), started.elapsed().as_secs_f64());
        }
        assert!(started.elapsed().as_secs_f64() < secs, "did not stop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn live_progress_names_the_budgets_failing_right_now() {
    // Piped (as in CI): one plain line every five seconds. Returns that line and stdout.
    let degraded_demo = |load: &[&str]| {
        let out = perfgate()
            .args(["demo", "--degrade", "--duration", "6s", "--quiet"])
            .args(load)
            .assert()
            .code(1)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("[    5s] users"))
            .unwrap_or_else(|| panic!("no progress line: {stderr}"))
            .to_string();
        (line, String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (line, _) = degraded_demo(&[]);
    assert!(line.contains("rps | p95"), "{line}");
    assert!(
        line.contains("failing: ") && line.contains("p99 latency on /api/verify-proof"),
        "{line}"
    );
    // Open model with too few users for the degraded service: the shortfall shows live,
    // and beside the verdict.
    let (line, stdout) = degraded_demo(&["--rate", "100", "--users", "2"]);
    assert!(line.contains(" dropped"), "{line}");
    assert!(
        stdout.contains("arrivals") && stdout.contains("were dropped for want of a free user"),
        "{stdout}"
    );
}

#[test]
fn on_a_terminal_progress_is_a_bar() {
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    let bin = assert_cmd::cargo::cargo_bin("perfgate");
    let out = std::process::Command::new("script")
        .args([
            "-qfec",
            &format!("{} demo --duration 3s --quiet", bin.display()),
            "/dev/null",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("script (util-linux) runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    // 3 s of the smoke scenario is close to its 50-request minimum: the verdict may go
    // either way; the bar is what this test is about.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{screen}");
    assert!(screen.contains("/ 3s ["), "no bar: {screen}");
    assert!(screen.contains("requests |"), "{screen}");
    assert!(screen.contains("objectives held"), "{screen}");
}

#[test]
fn csv_files_are_found_next_to_the_config_from_any_folder() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("csv-relative");
    std::fs::create_dir_all(dir.join("ci/data")).unwrap();
    std::fs::write(dir.join("ci/data/ids.csv"), "id\n1\n2\n3\n").unwrap();
    let text = format!(
        "[target]\nhost = \"{}\"\n\n[data.ids]\nfile = \"data/ids.csv\"\n\n[[users]]\nname = \"U\"\n\n  [[users.tasks]]\n  name = \"h\"\n  path = \"/health?id={{{{ data.ids.id }}}}\"\n",
        demo.url()
    );
    write(&dir.join("ci"), "perfgate.toml", &text);
    // Run from the temp folder's parent: the CSV path is relative to the config.
    perfgate()
        .current_dir(dir.parent().unwrap())
        .arg("run")
        .arg("-c")
        .arg(dir.join("ci/perfgate.toml"))
        .args(["--iterations", "6", "--quiet"])
        .assert()
        .code(0);
    assert_eq!(demo.served_on("/health"), 6);
}

/// Scenario parameters from the command line: stages, arrivals, budget set; a bad one
/// is exit 2 with what to write, before any load.
#[test]
fn scenario_parameters_can_be_overridden_from_the_command_line() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("overrides");
    let text = budgeted(&demo.url()) + "\n[budgets.strict]\np99 = \"1us\"\n";
    let cfg = write(&dir, "perfgate.toml", &text);
    let out = dir.join("staged.json");
    perfgate()
        .args(["run", "--quiet", "-c"])
        .arg(&cfg)
        .args([
            "--stage", "1s:6", "--stage", "1s:6", "--stage", "1s:0", "--out",
        ])
        .arg(&out)
        .assert()
        .code(0);
    let r = perfgate::metrics::RunResult::load(&out).unwrap();
    assert!(
        (2.9..4.0).contains(&r.duration_s),
        "the stages set the length: {}",
        r.duration_s
    );
    let peak = r.series.iter().map(|i| i.users).max().unwrap();
    assert_eq!(peak, 6, "the stages set the users");

    let failed = perfgate()
        .args(["run", "--quiet", "-c"])
        .arg(&cfg)
        .args(["--duration", "1s", "--budget", "strict"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&failed).contains("FAILED"));

    // Values that cannot run name the flag or variable they came from, not the file.
    let from_file = format!("{}:", cfg.display());
    for (args, env, says) in [
        (&["--budget", "nosuch"][..], None, "nosuch"),
        (
            &["--stage", "soon"][..],
            None,
            "--stage soon: write DURATION:TARGET",
        ),
        (&["--stage", "10s:many"][..], None, "target \"many\""),
        (&["--arrivals", "bursty"][..], None, "bursty"),
        (
            &["--users", "0"][..],
            None,
            "--users: needs at least one user",
        ),
        (
            &[][..],
            Some(("TEST_USERS", "0")),
            "TEST_USERS: needs at least one user",
        ),
        (
            &["--duration", "0s"][..],
            None,
            "--duration: must be more than 0",
        ),
        (
            &["--host", "ftp://x"][..],
            None,
            "--host: target \"ftp://x\" must start with http://",
        ),
        (
            &[][..],
            Some(("TARGET_HOST", "ftp://x")),
            "TARGET_HOST: target",
        ),
        (
            &["--spawn-rate", "0"][..],
            None,
            "--spawn-rate: must be more than 0",
        ),
        (
            &["--iterations", "0"][..],
            None,
            "--iterations: must be at least 1",
        ),
        (
            &["--threads", "0"][..],
            None,
            "--threads: must be at least 1",
        ),
        (
            &["--env", "prodution"][..],
            None,
            "no budget named \"prodution\"",
        ),
    ] {
        let started = std::time::Instant::now();
        let mut cmd = perfgate();
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let err = cmd
            .args(["run", "--quiet", "-c"])
            .arg(&cfg)
            .args(args)
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8_lossy(&err);
        assert!(err.contains(says), "{args:?}: {err}");
        // Only budget names are looked up in the file.
        let budget = args
            .first()
            .is_some_and(|a| *a == "--budget" || *a == "--env");
        assert_eq!(err.contains(&from_file), budget, "{args:?}: {err}");
        assert!(
            started.elapsed().as_secs_f64() < 2.0,
            "{args:?} ran load first"
        );
    }

    let (config, source) = perfgate::config::Config::parse("t.toml", &text).unwrap();
    let o = perfgate::config::Overrides {
        rate: Some(perfgate::config::Rate(100.0)),
        arrivals: Some(perfgate::config::Arrivals::Poisson),
        ..Default::default()
    };
    let plan = perfgate::config::Plan::build(&config, &source, &o).unwrap();
    assert!(matches!(
        plan.loads[0].model,
        perfgate::config::Model::Open {
            arrivals: perfgate::config::Arrivals::Poisson,
            ..
        }
    ));
}

/// SIGTERM: in-flight requests get their grace and are measured; a second signal quits
/// at once without waiting for them.
#[test]
#[cfg(unix)]
fn sigterm_lets_in_flight_requests_land_and_a_second_signal_quits_at_once() {
    for (latency, second_signal) in [("1500ms", false), ("10s", true)] {
        let mut knobs = Knobs::default();
        knobs.set("latency", &format!("*={latency}")).unwrap();
        let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
        let dir = temp_dir("sigterm");
        let cfg = write(&dir, "perfgate.toml", &budgeted(&demo.url()));
        let out = dir.join("partial.json");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("perfgate"))
            .args(["run", "--quiet", "--users", "4", "--duration", "60s", "-c"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The banner comes just before the load starts: then every user sends at once.
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut banner).unwrap();
        assert!(banner.contains("perfgate: scenario"), "{banner}");
        std::thread::sleep(std::time::Duration::from_millis(300));
        // SAFETY: kill() sends a signal to a child we own.
        unsafe { libc_kill(child.id() as i32, 15) };
        if second_signal {
            std::thread::sleep(std::time::Duration::from_millis(300));
            unsafe { libc_kill(child.id() as i32, 15) };
            let (code, took) = exit_within(&mut child, 5.0);
            assert_eq!(code, Some(3));
            assert!(
                took < 1.0,
                "the second signal should not wait the grace: {took}"
            );
        } else {
            let (code, took) = exit_within(&mut child, 10.0);
            assert_eq!(code, Some(3));
            assert!(
                took < 1.9,
                "waited for the requests, not the whole grace: {took}"
            );
            let r = perfgate::metrics::RunResult::load(&out).unwrap();
            assert_eq!(r.stop, perfgate::metrics::StopReason::Interrupted);
            assert_eq!(r.total.interrupted, 0, "{:?}", r.total);
            let served: u64 = demo.served().values().flat_map(|m| m.values()).sum();
            assert!(r.total.requests >= 1, "{:?}", r.total);
            assert_eq!(r.total.requests, served, "every request on the wire landed");
            assert!(r.total.summary.min_ms >= 1500.0);
        }
    }
}

/// `perfgate run | head -1` (or `2>&1 | head`): a closed stdout or stderr loses neither the
/// result file nor the verdict, nor any virtual user.
#[test]
fn a_closed_stdout_or_stderr_loses_nothing() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("closed-stdout");
    let cfg = write(&dir, "perfgate.toml", &budgeted(&demo.url()));
    let out = dir.join("result.json");
    let verdict = dir.join("verdict.json");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("perfgate"))
        .args(["run", "--quiet", "--duration", "1s", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(format!("json={}", verdict.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    // The reader is gone: every later line goes to a closed pipe.
    let status = child.wait().unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&verdict).unwrap()).unwrap();
    let expected = if v["verdict"]["status"] == "passed" {
        0
    } else {
        1
    };
    assert_eq!(
        status.code(),
        Some(expected),
        "the verdict's exit code, not a panic's 101"
    );
    let r = perfgate::metrics::RunResult::load(&out).unwrap();
    assert!(r.total.requests > 0);

    // Both closed (`perfgate run 2>&1 | head` after head left), against a server that
    // answers every request 404: the request-failure lines go nowhere, the verdict still
    // says FAILED.
    let server = common::faults::FaultServer::start();
    let cfg = write(&dir, "refused.toml", &budgeted(&server.url));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("perfgate"))
        .args(["run", "--duration", "1s", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), Some(1), "FAILED, not a panic");
    let r = perfgate::metrics::RunResult::load(&out).unwrap();
    // Every user kept going: 10 users started over the second, 20–60 ms think, about
    // 135 attempts. A panic on the log line ends each user whose failure is printed
    // (5 lines a second): that run made 38.
    assert!(r.total.requests >= 90, "{}", r.total.requests);
    assert_eq!(r.total.failures, r.total.requests);
}

/// `perfgate run -c cfg` for a second with two users: exit code and stdout.
fn run_briefly(cfg: &std::path::Path) -> (Option<i32>, String) {
    let out = perfgate()
        .args(["run", "-d", "1s", "-u", "2", "--quiet", "-c"])
        .arg(cfg)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_lone_budget_judges_and_several_unchosen_are_an_error() {
    let dir = temp_dir("budget-choice");
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let base = common::config(
        &demo.url(),
        "{ constant = \"10ms\" }",
        &[("h", "/health", 1)],
    );
    // One [budgets.*] table and no environment: that table judges (it judged nothing,
    // and the run passed). A p99 under a microsecond cannot hold.
    let one = write(
        &dir,
        "one.toml",
        &format!("{base}\n[budgets.ci]\np99 = \"1us\"\n"),
    );
    let (code, stdout) = run_briefly(&one);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED 0/1") && stdout.contains("budget ci"),
        "{stdout}"
    );
    // Two tables, none chosen: an error naming both and the ways to choose, before any
    // load reaches the service.
    let served = demo.served_on("/health");
    let two = write(
        &dir,
        "two.toml",
        &format!("{base}\n[budgets.ci]\np99 = \"1us\"\n[budgets.prod]\np99 = \"1s\"\n"),
    );
    let out = perfgate()
        .args(["run", "-d", "1s", "-u", "2", "-c"])
        .arg(&two)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("ci, prod") && err.contains("--env"), "{err}");
    assert_eq!(demo.served_on("/health"), served);
    let saved = dir.join("prod.json");
    perfgate()
        .args([
            "run", "-d", "1s", "-u", "2", "--quiet", "--env", "prod", "-c",
        ])
        .arg(&two)
        .arg("--out")
        .arg(&saved)
        .assert()
        .code(0);
    // Saved results are judged in the environment they ran in, unless --env says other.
    let check = |env: &[&str]| {
        let out = perfgate()
            .args(["check", "-c"])
            .arg(&two)
            .arg(&saved)
            .args(env)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout)
    };
    let (code, stdout) = check(&[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("budget prod"), "{stdout}");
    let (code, stdout) = check(&["--env", "ci"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("budget ci"), "{stdout}");
}

#[test]
fn a_service_that_fails_every_request_does_not_pass_on_latency() {
    // Only a latency objective, and every answer is a 503: fast failures, so p99 "held".
    let dir = temp_dir("all-failed");
    let mut knobs = Knobs::default();
    knobs.set("error-rate", "/health=100%").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let text = common::config(
        &demo.url(),
        "{ constant = \"50ms\" }",
        &[("h", "/health", 1)],
    );
    let cfg = write(
        &dir,
        "p99-only.toml",
        &format!("{text}\n[budgets.ci]\np99 = \"500ms\"\n"),
    );
    let (code, stdout) = run_briefly(&cfg);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("INCONCLUSIVE 1/1"), "{stdout}");
    assert!(
        stdout.contains("requests failed (") && stdout.contains("× HTTP 503"),
        "{stdout}"
    );
    // The PR comment gives that reason, not the overloaded-generator one.
    let out = perfgate()
        .args(["run", "-d", "1s", "-u", "2", "--quiet", "-c"])
        .arg(&cfg)
        .arg("--report")
        .arg(format!("markdown={}", dir.join("pr.md").display()))
        .arg("--report")
        .arg(format!("junit={}", dir.join("junit.xml").display()))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    // Exit 1 with every objective held: the annotation says why.
    let annotated = String::from_utf8(out).unwrap();
    assert!(
        annotated
            .contains("::error title=Performance run inconclusive::inconclusive: every one of the"),
        "{annotated}"
    );
    let pr = std::fs::read_to_string(dir.join("pr.md")).unwrap();
    assert!(
        pr.contains("**⚠️ INCONCLUSIVE** - every request failed"),
        "{pr}"
    );
    let xml = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        xml.contains("type=\"inconclusive\"") && xml.contains("every one of the"),
        "{xml}"
    );
    // With error_rate bounded, the run fails on it: FAILED, not inconclusive.
    let cfg = write(
        &dir,
        "bounded.toml",
        &format!("{text}\n[budgets.ci]\np99 = \"500ms\"\nerror_rate = \"1%\"\n"),
    );
    let (code, stdout) = run_briefly(&cfg);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("FAILED 1/2"), "{stdout}");
    assert!(!stdout.contains("inconclusive"), "{stdout}");
}

/// The header of Locust's `--csv NAME` `NAME_stats.csv` (Locust 2.x).
const LOCUST_STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";

#[test]
fn csv_report_has_locust_s_columns_and_the_run_s_figures() {
    let mut knobs = Knobs::default();
    knobs.set("error-rate", "/health=10%").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let dir = temp_dir("csv-report");
    let cfg = write(&dir, "perfgate.toml", &common::health_only(&demo.url()));
    let stats = dir.join("stats.csv");
    perfgate()
        .args(["run", "--iterations", "400", "--quiet", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("r.json"))
        .arg("--report")
        .arg(format!("csv={}", stats.display()))
        .assert()
        .code(0);
    let r = perfgate::metrics::RunResult::load(&dir.join("r.json")).unwrap();
    let text = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(text.lines().next().unwrap(), LOCUST_STATS_HEADER);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{text}");
    let (h, all) = (&rows[0], &rows[1]);
    assert_eq!(
        (&h[0], &h[1], &all[0], &all[1]),
        ("GET", "h", "", "Aggregated")
    );
    let served = &demo.served()["/health"];
    let unavailable = served.get(&503).copied().unwrap_or(0);
    assert!(unavailable > 0, "{served:?}");
    for row in [h, all] {
        assert_eq!(row[2].parse::<u64>().unwrap(), served.values().sum::<u64>());
        assert_eq!(row[3].parse::<u64>().unwrap(), unavailable);
    }
    let e = r.endpoint("h").unwrap();
    assert!(e.body_bytes > 0);
    let size = |row: &csv::StringRecord| row[8].parse::<f64>().unwrap();
    assert!((size(h) - e.body_bytes as f64 / e.requests as f64).abs() < 0.05);
    assert_eq!(size(h), size(all));
    let ms = |col: usize| h[col].parse::<f64>().unwrap();
    let want = |p: f64| e.latency.percentile_us(p) as f64 / 1000.0;
    assert!((ms(4) - want(50.0)).abs() < 0.0005);
    assert!((ms(5) - e.summary.avg_ms).abs() < 0.0005);
    assert!((ms(18) - want(99.0)).abs() < 0.0005);
    assert!((ms(21) - want(100.0)).abs() < 0.0005);
    assert!(ms(11) <= ms(15) && ms(15) <= ms(18) && ms(18) <= ms(21));
    let rps = h[9].parse::<f64>().unwrap();
    assert!(
        (rps - e.requests as f64 / r.duration_s).abs() < 0.001,
        "{rps}"
    );
}

/// Nothing listening, or a name that does not resolve: exit 2 before any load, saying
/// what to do, instead of a whole run of failures (issue 13).
#[test]
fn nothing_listening_is_an_error_before_any_load() {
    let dir = temp_dir("nothing-listening");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (host, words) in [
        (
            format!("http://127.0.0.1:{port}"),
            "nothing is listening at",
        ),
        (
            "http://nowhere.invalid:8080".to_string(),
            "cannot resolve nowhere.invalid",
        ),
    ] {
        let cfg = write(&dir, "p.toml", &common::health_only(&host));
        let started = std::time::Instant::now();
        let out = perfgate()
            .args(["run", "-d", "30s", "-c"])
            .arg(&cfg)
            .arg("--out")
            .arg(dir.join("r.json"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(words) && stderr.contains("--host"),
            "{stderr}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(!dir.join("r.json").exists());
    }
}

/// A service that takes connections and resets them answers nothing: those failures
/// have no latency, so a latency objective has no data and fails, instead of holding on
/// how fast the resets came (issue 13).
#[test]
fn requests_that_got_no_answer_have_no_latency() {
    let dir = temp_dir("no-answer");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            let mut buf = [0u8; 1024];
            // Read the request (if any), then close without a word.
            let _ = std::io::Read::read(&mut s, &mut buf);
        }
    });
    let text = common::config(
        &format!("http://127.0.0.1:{port}"),
        "{ constant = \"20ms\" }",
        &[("h", "/health", 1)],
    );
    let cfg = write(
        &dir,
        "p.toml",
        &format!("{text}\n[budgets.ci]\np99 = \"500ms\"\n"),
    );
    let (code, stdout) = run_briefly(&cfg);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("FAILED 0/1"), "{stdout}");
    assert!(stdout.contains("p99 latency: no data"), "{stdout}");
}
