//! Users written in Rust (`perfgate::Test`), run as a user runs them: the example
//! programs, against the embedded demo and a recording server, through the same command
//! line, output, results and exit codes as `perfgate`.

mod common;

use std::process::Command;

use common::{example, flow::FlowServer, schema_errors, temp_dir};
use perfgate::metrics::RunResult;

/// Runs example `name` with `-c config` (when given), `args`, and `--quiet --out out`.
fn run_example(
    name: &str,
    config: Option<&std::path::Path>,
    args: &[&str],
    out: &std::path::Path,
) -> std::process::Output {
    let mut cmd = Command::new(example(name));
    if let Some(c) = config {
        cmd.arg("-c").arg(c);
    }
    cmd.args(args)
        .args(["--quiet", "--out"])
        .arg(out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The seed's three classes in Rust replace the bundled config's by name: the demo's
/// own count equals perfgate's, the result passes the schema and the same budget, and
/// the endpoints are the TOML version's.
#[test]
fn the_seed_users_in_rust_pass_the_seed_budget() {
    let dir = temp_dir("code-seed");
    let out = dir.join("r.json");
    let args = ["demo", "--scenario", "smoke", "--duration", "6s"];
    let run = run_example("seed_users", None, &args, &out);
    let said = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{said}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(said.contains("PASSED"), "{said}");
    let r = RunResult::load(&out).unwrap();
    let served = common::demo_count(&said);
    assert_eq!(r.total.requests, served, "perfgate's count is the demo's");
    assert!(r.total.requests > 20, "{}", r.total.requests);
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(schema_errors(&instance), Vec::<String>::new());
    let requests: Vec<&str> = r
        .endpoints
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| !n.starts_with("task:"))
        .collect();
    // The TOML version's endpoints; /health (5% of two classes' tasks) may get no
    // request in a 6 s run (about one run in thirty), the others always do.
    let toml_version = [
        "/api/batch-verify-proofs",
        "/api/verify-biometric-proof",
        "/api/verify-proof",
        "/health",
    ];
    assert!(
        requests.iter().all(|r| toml_version.contains(r)),
        "{requests:?}"
    );
    assert_eq!(requests[..3], toml_version[..3], "{requests:?}");
    let valid = r.checks.iter().find(|c| c.check == "proof valid").unwrap();
    assert!(valid.passed > 0 && valid.failed == 0, "{valid:?}");
    // Each Rust task is timed whole, once per iteration.
    let tasks: u64 = r.tasks.iter().map(|t| t.iterations).sum();
    let timed: u64 = r
        .endpoints
        .iter()
        .filter(|e| e.name.starts_with("task:"))
        .map(|e| e.requests)
        .sum();
    assert_eq!(tasks, timed);
}

fn flow_config(dir: &std::path::Path, url: &str, budget: &str) -> std::path::PathBuf {
    let cfg = dir.join("perfgate.toml");
    std::fs::write(dir.join("accounts.csv"), "name\nada\nbob\ncyd\n").unwrap();
    let text = format!(
        r#"[target]
host = "{url}"

[data.accounts]
file = "accounts.csv"

[[users]]
name = "Plain"
weight = 1
wait = {{ constant = "20ms" }}
  [[users.tasks]]
  path = "/plain"
  [[users.tasks]]
  name = "from_rust"
  code = "ping"

[budgets.ci]
{budget}
"#
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// A login per user whose token the later requests carry, a polled job timed as one
/// transaction, a recorded number and soft checks a budget bounds, a panicking task
/// caught and counted while the run goes on, and a config task calling a Rust function:
/// every count cross-checked against what the server saw.
#[test]
fn rust_flows_run_beside_config_users_and_are_judged() {
    let server = FlowServer::start();
    let dir = temp_dir("code-flows");
    let budget = "checks = \"100%\"\npolls_p99 = 3.5\n[budgets.ci.endpoints.\"task:job_done\"]\nerror_rate = \"0%\"";
    let cfg = flow_config(&dir, &server.url, budget);
    let out = dir.join("r.json");
    let args = ["--env", "ci", "--users", "6", "--duration", "3s"];
    let run = run_example("code_flows", Some(&cfg), &args, &out);
    let said = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{said}\n{err}");
    assert!(said.contains("PASSED"), "{said}");
    let r = RunResult::load(&out).unwrap();
    let requests = |name: &str| {
        r.endpoints
            .iter()
            .find(|e| e.name == name)
            .map_or(0, |e| e.requests)
    };
    // 6 users, class weights 1 (config) : 2 (Rust): 4 Rust users log in once each.
    assert_eq!(server.count("/login"), 4);
    assert_eq!(requests("/login") as usize, 4);
    // on_stop at the run's end.
    assert_eq!(server.count("/logout"), 4);
    for s in server.seen().iter().filter(|s| s.target == "/echo") {
        let auth = &s.headers["authorization"];
        assert!(auth.starts_with("Bearer t") && auth.len() > 8, "{auth}");
    }
    for path in ["/echo", "/jobs", "/plain", "/ping"] {
        assert_eq!(requests(path) as usize, server.count(path), "{path}");
        assert!(requests(path) > 0, "{path}");
    }
    assert_eq!(
        requests("/jobs/ID") as usize,
        server
            .seen()
            .iter()
            .filter(|s| s.target.starts_with("/jobs/"))
            .count()
    );
    // Each job is polled until done: PENDING_POLLS + 1 polls, one transaction.
    let jobs = requests("task:job_done");
    assert_eq!(jobs, requests("/jobs"));
    let polls = &r.total.metrics["polls"];
    assert_eq!(polls.count(), jobs, "one number per job");
    let p50 = polls.percentile_us(50.0);
    assert!(
        (3000..=3003).contains(&p50),
        "3 polls, kept in thousandths: {p50}"
    );
    let echoed = r.checks.iter().find(|c| c.check == "token echoed").unwrap();
    assert!(echoed.passed > 0 && echoed.failed == 0, "{echoed:?}");
    // The panicking task failed every time, with its message; the users went on.
    let boom = r.endpoints.iter().find(|e| e.name == "task:boom").unwrap();
    assert!(
        boom.requests > 0 && boom.failures == boom.requests,
        "{boom:?}"
    );
    let (reason, _) = boom.failure_reasons.iter().next().unwrap();
    assert!(
        reason.starts_with("panicked: user ") && reason.ends_with(" hit a bug"),
        "{reason}"
    );
    assert!(
        !err.contains("panicked at"),
        "caught panics are not reported on stderr: {err}"
    );
    assert_eq!(
        r.total.failures, 0,
        "a task's panic fails the task, not a request"
    );
}

/// A config task naming a function the test does not register is refused before any
/// load, at its place in the file; so is one run by the plain `perfgate` command.
#[test]
fn a_missing_rust_function_is_a_config_error() {
    let server = FlowServer::start();
    let dir = temp_dir("code-missing");
    let cfg = flow_config(&dir, &server.url, "p99 = \"500ms\"");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("code = \"ping\"", "code = \"pong\"");
    std::fs::write(&cfg, text).unwrap();
    let run = Command::new(example("code_flows"))
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "perfgate.toml:15:10: code = \"pong\": no such function: the test registers [\"ping\"]"
        ),
        "{err}"
    );
    assert_eq!(server.seen().len(), 0, "no load");
    let plain = common::perfgate()
        .arg("run")
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&plain.stderr);
    assert_eq!(plain.status.code(), Some(2));
    assert!(err.contains("built with perfgate::Test"), "{err}");
}

/// In the open model each arrival is a new visitor: a Rust class's on_start and on_stop
/// run once per arrival, around exactly one task.
#[test]
fn rust_users_serve_open_model_arrivals() {
    let server = FlowServer::start();
    let dir = temp_dir("code-open");
    let cfg = flow_config(&dir, &server.url, "p99 = \"500ms\"");
    let out = dir.join("r.json");
    let args = ["--rate", "60/s", "--users", "12", "--duration", "2s"];
    let run = run_example("code_flows", Some(&cfg), &args, &out);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r = RunResult::load(&out).unwrap();
    assert_eq!(r.total.dropped, 0);
    let iterations = |task: &str| {
        r.tasks
            .iter()
            .filter(|t| t.user == "Account" && t.task == task)
            .map(|t| t.iterations)
            .sum::<u64>()
    };
    let arrivals = iterations("echo") + iterations("job") + iterations("boom");
    assert!(arrivals > 40, "{arrivals} of about 80 Account arrivals");
    assert_eq!(iterations("login"), arrivals);
    assert_eq!(server.count("/login") as u64, arrivals);
    // An arrival the run's stop catches between its task and its on_stop leaves without.
    let logouts = server.count("/logout") as u64;
    assert!(
        logouts <= arrivals && logouts + 3 >= arrivals,
        "{logouts} of {arrivals}"
    );
}

/// A user written in Rust calling the demo's gRPC service through the config's
/// `[grpc] protos` and holding WebSocket sessions on its /ws (examples/protocols.rs):
/// every call counted as the demo counted it, the answers read as JSON, each streamed
/// message timed, each echo ours, the budget held.
#[test]
fn a_rust_user_speaks_grpc_and_websocket() {
    let demo = perfgate::demo::DemoServer::start("127.0.0.1:0", Default::default()).unwrap();
    let out = temp_dir("code-grpc").join("r.json");
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grpc/perfgate.toml");
    let run = run_example(
        "protocols",
        Some(&config),
        &["--host", &demo.url(), "--duration", "2s"],
        &out,
    );
    let said = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let r = RunResult::load(&out).unwrap();
    let calls: Vec<_> = r.endpoints.iter().filter(|e| e.method == "GRPC").collect();
    assert_eq!(calls.len(), 2, "{said}");
    for e in &calls {
        assert!(e.requests > 20, "{said}");
        assert_eq!(e.failures, 0, "{:?}", e.failure_reasons);
        assert_eq!(e.requests, demo.served_on(&e.name), "{}", e.name);
    }
    let batch = calls
        .iter()
        .find(|e| e.name.ends_with("/VerifyBatch"))
        .unwrap();
    assert_eq!(batch.metrics["message_ms"].count(), 3 * batch.requests);
    let grpc_connections: u64 = calls.iter().map(|e| e.connect.count()).sum();
    assert_eq!(
        r.total.http2_connections, grpc_connections,
        "gRPC's, not the sessions'"
    );
    let checks = r.checks.iter().map(|c| c.failed).sum::<u64>();
    assert_eq!(checks, 0, "every verdict and echo as expected");
    // The WebSocket sessions: each upgrade the demo answered, each message it saw. A
    // session the run's end cut short is counted as interrupted, and its last message
    // may have reached the demo without its round trip completing (one a user at most).
    let e = |name: &str| r.endpoints.iter().find(|e| e.name == name).unwrap();
    let (open, echo) = (e("/ws"), e("echo"));
    assert!(open.requests > 10 && echo.requests > 10, "{said}");
    assert_eq!(open.requests + open.interrupted, demo.served_on("/ws"));
    let sent: u64 = r.endpoints.iter().map(|e| e.messages_sent).sum();
    let (demo_got, _) = demo.ws_messages();
    assert!(
        (sent..=sent + 10).contains(&demo_got),
        "{sent} sent, the demo got {demo_got}"
    );
}

/// Users written in Rust are a value, not a process global (issue 25): two tests run one
/// after the other in one process, each with its own users, and the plain command line
/// in the same process knows of neither.
#[test]
fn two_tests_run_one_after_another_in_one_process() {
    use perfgate::prelude::*;

    async fn health(u: &mut User) -> Outcome {
        u.get("/health").name("first").send().await?;
        Ok(())
    }
    async fn verify(u: &mut User) -> Outcome {
        u.get("/health").name("second").send().await?;
        Ok(())
    }
    let dir = temp_dir("code-two-tests");
    let run = |out: &std::path::Path, test: perfgate::Test| {
        let args = [
            "demo",
            "--scenario",
            "smoke",
            "--duration",
            "1s",
            "--quiet",
            "--out",
        ];
        let mut args: Vec<String> = args.map(String::from).to_vec();
        args.push(out.display().to_string());
        test.main_with(&args);
        RunResult::load(out).unwrap()
    };
    let class = |f: fn(perfgate::Class) -> perfgate::Class| {
        perfgate::Test::new().user("ProofMessengerUser", 1, f)
    };
    let first = run(
        &dir.join("first.json"),
        class(|c| c.task(1, health).wait(constant(10.ms()))),
    );
    let second = run(
        &dir.join("second.json"),
        class(|c| c.task(1, verify).wait(constant(10.ms()))),
    );
    let names = |r: &RunResult| -> Vec<String> {
        let mut n: Vec<String> = r
            .endpoints
            .iter()
            .filter(|e| e.requests > 0 && e.name.starts_with(['f', 's']))
            .map(|e| e.name.clone())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&first), ["first"]);
    assert_eq!(names(&second), ["second"]);
}

/// A Rust task whose requests all succeed but which fails every iteration in its own
/// code fails the run's error budget: each failed iteration counts as a failed request
/// (the result's `code_failures`), and the verdict says so. Its requests stay what the
/// service saw.
#[test]
fn rust_tasks_failing_in_their_own_code_count_against_the_error_budget() {
    use perfgate::demo::{DemoServer, Knobs};
    use perfgate::prelude::*;

    async fn wrong(u: &mut User) -> Outcome {
        u.get("/health").send().await?;
        Err(fail("the answer was not what the flow needs"))
    }
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("code-task-failures");
    let cfg = dir.join("perfgate.toml");
    let text = format!(
        "[target]\nhost = \"{}\"\n\n[[users]]\nname = \"U\"\n  [[users.tasks]]\n  path = \"/health\"\n\n[budgets.ci]\nerror_rate = \"1%\"\n",
        demo.url()
    );
    std::fs::write(&cfg, text).unwrap();
    let out = dir.join("r.json");
    let args = [
        "run",
        "--env",
        "ci",
        "--users",
        "2",
        "--duration",
        "2s",
        "--quiet",
        "--out",
    ];
    let mut args: Vec<String> = args.map(String::from).to_vec();
    args.push(out.display().to_string());
    args.extend(["-c".to_string(), cfg.display().to_string()]);
    perfgate::Test::new()
        .user("U", 1, |c| c.task(1, wrong).wait(constant(20.ms())))
        .main_with(&args);
    let r = RunResult::load(&out).unwrap();
    let task = &r.tasks[0];
    assert!(task.iterations > 10, "{task:?}");
    // Those still running at the stop ended as stopped, not failed.
    assert!(
        task.code_failures + 2 >= task.iterations && task.code_failures > 0,
        "{task:?}"
    );
    assert_eq!(r.total.failures, 0, "no request failed");
    assert_eq!(r.total.requests, demo.served_on("/health"));
    let gated = common::perfgate()
        .args(["check", "--env", "ci", "-c"])
        .arg(&cfg)
        .arg(&out)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let said = String::from_utf8_lossy(&gated);
    assert!(said.contains("FAILED"), "{said}");
    assert!(
        said.contains("of Rust tasks failed in their own code"),
        "{said}"
    );
}
