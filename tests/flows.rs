//! Flows a config can say without code (issue 16), each against a server that records
//! what it was sent: hosts and headers per environment, JSON feeders and unique rows.

mod common;

use common::flow::FlowServer;
use common::{run, secs};
use perfgate::config::{Config, Overrides, Plan};

/// A config with `body` after `[target]` (host `host`) and one user class "U" without
/// think time whose tasks are `tasks` (TOML for `[[users.tasks]]` entries).
fn config(host: &str, body: &str, tasks: &str) -> String {
    format!(
        "[target]\nhost = \"{host}\"\ntimeout = \"5s\"\n{body}\n[[users]]\nname = \"U\"\n{tasks}"
    )
}

/// The result at `path` passes schema/run-result.schema.json.
fn assert_schema_valid(path: &std::path::Path) {
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/run-result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// `perfgate run -c CFG ARGS` exiting `code`: its stdout and stderr.
fn perfgate_run(cfg: &std::path::Path, args: &[&str], code: i32) -> (String, String) {
    let done = common::perfgate()
        .args(["run", "-c"])
        .arg(cfg)
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .clone();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (text(&done.stdout), text(&done.stderr))
}

fn iterations(n: u64) -> Overrides {
    Overrides {
        users: Some(2),
        iterations: Some(n),
        duration: secs("20s"),
        ..Default::default()
    }
}

/// `[environments.NAME]` chooses the host and adds headers by `--env`; an environment
/// neither in [environments] nor a budget is a mistake, said before any load.
#[test]
fn each_environment_has_its_host_and_headers() {
    let server = FlowServer::start();
    let body = format!(
        "headers = {{ authorization = \"Bearer default\", x-team = \"perf\" }}\n\
         [environments.staging]\nhost = \"{}\"\nheaders = {{ Authorization = \"Bearer staging\" }}\n\
         [environments.production]\nhost = \"http://127.0.0.1:9\"\n",
        server.url
    );
    let tasks = "[[users.tasks]]\npath = \"/echo\"\nexpect = { json = { \"/auth\" = \"Bearer staging\" } }\n";
    let text = config("http://127.0.0.1:9", &body, tasks);
    let r = run(
        &text,
        Overrides {
            environment: Some("staging".into()),
            ..iterations(20)
        },
    );
    assert_eq!(
        (r.total.requests, r.total.failures),
        (20, 0),
        "{:?}",
        r.total.failure_reasons
    );
    assert_eq!(server.count("/echo"), 20);
    assert!(r.target.starts_with(&server.url), "{}", r.target);
    for s in server.seen() {
        assert_eq!(s.headers["x-team"], "perf", "the file's other headers stay");
    }
    let (c, source) = Config::parse("t.toml", &text).unwrap();
    let o = Overrides {
        environment: Some("stagin".into()),
        ..Default::default()
    };
    let err = Plan::build(&c, &source, &o).err().unwrap().to_string();
    assert!(
        err.contains(
            "environment \"stagin\" is not in [environments] (which has production, staging)"
        ),
        "{err}"
    );
}

/// A JSON feeder keeps its values' types; `unique = true` hands each row out once, then
/// says the feeder ran dry instead of starting over; a task that reads no feeder takes
/// no row.
#[test]
fn json_feeders_and_unique_rows() {
    let server = FlowServer::start();
    let dir = common::temp_dir("feeders");
    let file = dir.join("accounts.json");
    std::fs::write(
        &file,
        r#"[{"name":"ann","id":1},{"name":"bob","id":2},{"name":"cy","id":3},{"name":"di","id":4},{"name":"ed","id":5}]"#,
    )
    .unwrap();
    let body = format!(
        "[data.accounts]\nfile = \"{}\"\nunique = true\n",
        file.display()
    );
    let tasks = "[[users.tasks]]\nname = \"sign\"\nmethod = \"POST\"\npath = \"/sign\"\n\
                 json = '{ \"who\": \"{{ data.accounts.name }}\", \"next\": {{ data.accounts.id + 1 }} }'\n";
    let r = run(&config(&server.url, &body, tasks), iterations(8));
    assert_eq!(r.total.requests, 8);
    assert_eq!(r.total.failures, 3, "{:?}", r.total.failure_reasons);
    let (reason, n) = r.total.failure_reasons.iter().next().unwrap();
    assert_eq!(*n, 3);
    assert!(
        reason.contains("feeder accounts ran dry: each of its 5 rows is used once"),
        "{reason}"
    );
    let mut sent: Vec<String> = server.seen().iter().map(|s| s.body.clone()).collect();
    sent.sort();
    let want: Vec<String> = [("ann", 2), ("bob", 3), ("cy", 4), ("di", 5), ("ed", 6)]
        .iter()
        .map(|(w, n)| format!("{{ \"who\": \"{w}\", \"next\": {n} }}"))
        .collect();
    assert_eq!(sent, want, "each row once, the id a number");

    // Another task reading no feeder does not use up its rows.
    let tasks =
        format!("{tasks}[[users.tasks]]\nname = \"look\"\nweight = 3\npath = \"/health\"\n");
    let r = run(&config(&server.url, &body, &tasks), iterations(40));
    let signed = r
        .tasks
        .iter()
        .find(|t| t.task == "sign")
        .unwrap()
        .iterations;
    let failed = r.total.failures;
    assert_eq!(
        failed,
        signed.saturating_sub(5),
        "only sign takes rows: {signed} signs"
    );
    // A file that is not an array of objects is refused with where it is named.
    std::fs::write(&file, "[1, 2]").unwrap();
    let (c, source) = Config::parse("t.toml", &config(&server.url, &body, &tasks)).unwrap();
    let err = Plan::build(&c, &source, &Overrides::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("item 0 is not an object") && err.starts_with("t.toml:"),
        "{err}"
    );
}

/// `on_start` logs each closed-model user in once (its token kept in `vars` for every
/// task), `on_stop` logs it out when it leaves, at the run's end; in the open model each
/// arrival does both.
#[test]
fn on_start_runs_once_per_user_and_on_stop_when_it_leaves() {
    let server = FlowServer::start();
    let tasks = "wait = { constant = \"10ms\" }\n\
        [[users.on_start]]\nmethod = \"POST\"\npath = \"/login\"\nextract = { token = \"/token\" }\n\
        [[users.on_stop]]\nmethod = \"POST\"\npath = \"/logout\"\n\
        [[users.tasks]]\npath = \"/echo\"\nheaders = { authorization = \"Bearer {{ vars.token }}\" }\n\
        expect = { body_contains = \"Bearer t\" }\n";
    let text = config(&server.url, "", tasks);
    let r = run(
        &text,
        Overrides {
            users: Some(3),
            duration: secs("1s"),
            ..Default::default()
        },
    );
    assert_eq!(server.count("/login"), 3, "once per user");
    assert_eq!(
        server.count("/logout"),
        3,
        "when each left, at the run's end"
    );
    let echoes = server.count("/echo") as u64;
    assert!(echoes > 30, "{echoes}");
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    assert_eq!(r.total.requests, echoes + 6);
    let mut tokens: Vec<String> = server
        .seen()
        .iter()
        .filter(|s| s.target == "/echo")
        .map(|s| s.headers["authorization"].clone())
        .collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens, ["Bearer t1", "Bearer t2", "Bearer t3"]);
    let count = |task: &str| r.tasks.iter().find(|t| t.task == task).unwrap().iterations;
    assert_eq!((count("on_start"), count("on_stop")), (3, 3));

    // Open model: each arrival is a visitor that logs in, works and logs out.
    let server = FlowServer::start();
    let r = run(
        &config(&server.url, "", tasks),
        Overrides {
            rate: Some(perfgate::config::Rate(20.0)),
            users: Some(10),
            duration: secs("1s"),
            ..Default::default()
        },
    );
    let (logins, echoes) = (server.count("/login"), server.count("/echo"));
    assert_eq!(logins, 20, "one an arrival");
    assert_eq!((echoes, server.count("/logout")), (logins, logins));
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
}

/// A task of several steps is also timed as a whole, as "task:NAME": a row of its own,
/// left out of the totals (its requests are counted on their endpoints), and a budget
/// can bound it like any endpoint.
#[test]
fn a_task_of_several_steps_is_timed_as_a_whole() {
    let server = FlowServer::start();
    let tasks = "[[users.tasks]]\nname = \"checkout\"\n\
        [[users.tasks.steps]]\nmethod = \"POST\"\npath = \"/login\"\nthink = \"30ms\"\n\
        [[users.tasks.steps]]\npath = \"/echo\"\n";
    let dir = common::temp_dir("transactions");
    let cfg = dir.join("perfgate.toml");
    let budget = "\n[endpoints.\"task:checkout\"]\np50 = \"20ms\"\n\n[endpoints.\"/echo\"]\np50 = \"20ms\"\n";
    std::fs::write(&cfg, config(&server.url, "", tasks) + budget).unwrap();
    let out = dir.join("r.json");
    let done = perfgate_run(
        &cfg,
        &[
            "--users",
            "2",
            "--duration",
            "1s",
            "--out",
            out.to_str().unwrap(),
        ],
        1,
    );
    let said = done.0;
    assert!(said.contains("on task:checkout"), "{said}");
    assert!(
        said.contains("FAILED 1/2"),
        "the steps hold, the whole does not: {said}"
    );
    let r = perfgate::metrics::RunResult::load(&out).unwrap();
    assert_schema_valid(&out);
    let whole = r.endpoint("task:checkout").unwrap();
    let iterations = r.tasks[0].iterations;
    assert_eq!(whole.method, "TASK");
    assert!(
        whole.requests >= iterations - 2 && whole.requests <= iterations,
        "{} of {iterations}",
        whole.requests
    );
    assert!(
        whole.latency.percentile_us(50.0) >= 30_000,
        "the think time between its steps counts"
    );
    let sent = (server.count("/login") + server.count("/echo")) as u64;
    assert_eq!(
        r.total.requests + r.total.interrupted,
        sent,
        "the whole is not counted twice"
    );
}

/// `when` skips a step unless its condition holds; `repeat` sends a step N times, or
/// polls until a condition holds (at most `max` sends, the last failing if it never
/// does); conditions name what they read, checked before any load.
#[test]
fn steps_run_when_their_condition_holds_and_poll_until_done() {
    use common::flow::PENDING_POLLS;
    let server = FlowServer::start();
    let job = |max: u32| {
        format!(
            "[[users.tasks]]\nname = \"job\"\n\
             [[users.tasks.steps]]\nmethod = \"POST\"\npath = \"/jobs\"\nextract = {{ id = \"/id\", state = \"/state\" }}\n\
             [[users.tasks.steps]]\npath = \"/jobs/{{{{ vars.id }}}}\"\nendpoint = \"poll\"\n\
             when = \"{{{{ vars.state == 'pending' }}}}\"\n\
             repeat = {{ until = \"{{{{ vars.state == 'done' }}}}\", max = {max}, every = \"5ms\" }}\n\
             extract = {{ state = \"/state\" }}\n\
             [[users.tasks.steps]]\npath = \"/never\"\nwhen = \"{{{{ vars.state == 'pending' }}}}\"\n\
             [[users.tasks.steps]]\npath = \"/health\"\nrepeat = {{ times = 3 }}\n"
        )
    };
    let r = run(&config(&server.url, "", &job(5)), iterations(6));
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    assert_eq!(server.count("/jobs"), 6);
    let polls = (PENDING_POLLS + 1) as usize;
    assert_eq!(
        server
            .seen()
            .iter()
            .filter(|s| s.target.starts_with("/jobs/"))
            .count(),
        6 * polls
    );
    assert_eq!(server.count("/never"), 0, "skipped: the job was done");
    assert_eq!(server.count("/health"), 18);
    assert_eq!(r.endpoint("task:job").unwrap().requests, 6);

    // Never done within max: the last poll fails, saying so, and the task stops there.
    let server = FlowServer::start();
    let r = run(
        &config(&server.url, "", &job(PENDING_POLLS as u32)),
        iterations(4),
    );
    assert_eq!(r.endpoint("poll").unwrap().failures, 4);
    let reason = r
        .endpoint("poll")
        .unwrap()
        .failure_reasons
        .keys()
        .next()
        .unwrap()
        .clone();
    assert!(
        reason.contains("repeat until {{ vars.state == 'done' }} still false after 2 sends"),
        "{reason}"
    );
    assert_eq!(server.count("/health"), 0);
    assert_eq!(r.endpoint("task:job").unwrap().failures, 4);

    // A condition reading a value nothing extracts is caught before any load.
    let text = config(
        &server.url,
        "",
        &job(5).replace("vars.state == 'done'", "vars.stat == 'done'"),
    );
    let (c, source) = Config::parse("t.toml", &text).unwrap();
    let err = Plan::build(&c, &source, &Overrides::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("`vars.stat`: no step extracts `stat`"),
        "{err}"
    );
    let text = config(&server.url, "", &job(5).replace("max = 5, ", "times = 2, "));
    let (c, source) = Config::parse("t.toml", &text).unwrap();
    let err = Plan::build(&c, &source, &Overrides::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("repeat is { times = N } or { until"), "{err}");
}

/// Soft checks are counted with their pass rate and never fail a request; a budget
/// bounds their pass rate (all of them, or an endpoint's), and time to first byte and
/// connect time too.
#[test]
fn soft_checks_and_the_time_to_first_byte_are_budgeted() {
    let server = FlowServer::start();
    let tasks = "[[users.tasks]]\nmethod = \"POST\"\npath = \"/jobs\"\n\
        check = { status = 201, json = { \"/state\" = \"pending\" } }\n";
    let budgets = "\n[budgets.ci]\nchecks = \"40%\"\nerror_rate = \"0%\"\nttfb_p99 = \"2s\"\nconnect_p99 = \"1s\"\navg_body = \"64B\"\n\
        \n[endpoints.\"/jobs\"]\nchecks = \"90%\"\n";
    let dir = common::temp_dir("checks");
    let cfg = dir.join("perfgate.toml");
    std::fs::write(&cfg, config(&server.url, "", tasks) + budgets).unwrap();
    let out = dir.join("r.json");
    let md = dir.join("pr.md");
    let done = perfgate_run(
        &cfg,
        &[
            "--env",
            "ci",
            "--users",
            "2",
            "--duration",
            "1s",
            "--out",
            out.to_str().unwrap(),
            "--report",
            &format!("markdown={}", md.display()),
        ],
        1,
    );
    let said = done.0;
    let r = perfgate::metrics::RunResult::load(&out).unwrap();
    assert_schema_valid(&out);
    let sent = server.count("/jobs") as u64;
    assert_eq!(r.total.failures, 0, "a soft check never fails a request");
    assert_eq!(r.total.requests, sent);
    let count = |check: &str| r.checks.iter().find(|c| c.check == check).unwrap().clone();
    let (status, state) = (count("status is 201"), count("/state is \"pending\""));
    assert_eq!((status.passed, status.failed), (0, sent));
    assert_eq!((state.passed, state.failed), (sent, 0));
    assert!(
        said.contains("✗ /jobs: status is 201 — 0.00% (0 of "),
        "{said}"
    );
    assert!(
        said.contains("✓ /jobs: /state is \"pending\" — 100.00%"),
        "{said}"
    );
    assert!(
        said.contains("FAILED 5/6"),
        "only the endpoint's 90% breaks: {said}"
    );
    // {"id":N,"state":"pending"}: 28 bytes and a few.
    assert!(said.contains("✓ average response body 2"), "{said}");
    assert!(
        said.contains("✗ checks passed 50% < 90% budget on /jobs"),
        "{said}"
    );
    assert!(
        said.contains("✓ p99 time to first byte") && said.contains("✓ p99 connect time"),
        "{said}"
    );
    assert!(std::fs::read_to_string(&md)
        .unwrap()
        .contains("**Checks:**"));
    // Time to first byte and connect time are not kept second by second.
    std::fs::write(
        &cfg,
        config(&server.url, "", tasks)
            + "\n[budgets.ci]\nttfb_p99 = { max = \"1s\", window = \"5s\" }\n",
    )
    .unwrap();
    let done = perfgate_run(
        &cfg,
        &["--env", "ci", "--users", "1", "--duration", "1s"],
        2,
    );
    let err = done.1;
    assert!(
        err.contains("perfgate.toml:") && err.contains("not kept second by second"),
        "{err}"
    );
}

/// Numbers the service reports about itself (a Server-Timing entry, a JSON field) are
/// read from every response into histograms a budget can bound beside the client's own
/// latency; a budget naming a number no request reads is an error before any load.
#[test]
fn the_services_own_timing_is_read_and_budgeted() {
    let server = FlowServer::start();
    let tasks = "[[users.tasks]]\npath = \"/timing\"\n\
        metrics = { server_ms = \"server-timing:total\", db_ms = \"server-timing:db\", total = \"/timing/total\" }\n";
    let dir = common::temp_dir("metrics");
    let cfg = dir.join("perfgate.toml");
    let budgets = "\n[budgets.ci]\nserver_ms_p95 = 20\ndb_ms_p99 = 1\n";
    std::fs::write(&cfg, config(&server.url, "", tasks) + budgets).unwrap();
    let out = dir.join("r.json");
    let done = perfgate_run(
        &cfg,
        &[
            "--env",
            "ci",
            "--users",
            "2",
            "--duration",
            "1s",
            "--out",
            out.to_str().unwrap(),
        ],
        1,
    );
    let said = done.0;
    assert!(said.contains("✓ p95 server_ms 12.5 ≤ 20"), "{said}");
    assert!(
        said.contains("✗ p99 db_ms 3.5 > 1 budget"),
        "3.5 (to HDR's precision) > 1: {said}"
    );
    assert_schema_valid(&out);
    let r = perfgate::metrics::RunResult::load(&out).unwrap();
    let e = r.endpoint("/timing").unwrap();
    for (name, want) in [("server_ms", 12.5), ("db_ms", 3.5), ("total", 12.5)] {
        let l = &e.metrics[name];
        assert_eq!(l.count(), e.requests, "{name}: one value a response");
        let got = l.percentile_us(50.0) as f64 / 1000.0;
        assert!(
            (got - want).abs() / want < 0.001,
            "{name}: {got}, not {want}"
        );
    }
    assert_eq!(e.requests, server.count("/timing") as u64);
    // A number nobody reads.
    std::fs::write(
        &cfg,
        config(&server.url, "", tasks) + "\n[budgets.ci]\nqueue_p95 = 5\n",
    )
    .unwrap();
    let done = perfgate_run(
        &cfg,
        &["--env", "ci", "--users", "1", "--duration", "1s"],
        2,
    );
    let err = done.1;
    assert!(
        err.contains("no request reads a number called queue")
            && err.contains("(read: db_ms, server_ms, total)"),
        "{err}"
    );
}

/// Tags on tasks (and steps) label their endpoints in the result and reports, and a
/// `[scopes.NAME]` judges the endpoints whose tags match, together.
#[test]
fn tags_label_endpoints_and_scopes_judge_them_together() {
    let server = FlowServer::start();
    let tasks = "[[users.tasks]]\nname = \"checkout\"\ntags = { flow = \"checkout\" }\n\
        [[users.tasks.steps]]\nmethod = \"POST\"\npath = \"/login\"\n\
        [[users.tasks.steps]]\npath = \"/echo\"\ntags = { step = \"pay\" }\n\
        [[users.tasks]]\npath = \"/health\"\ntags = { flow = \"browse\" }\n";
    let scopes =
        "\n[scopes.checkout]\ntags = { flow = \"checkout\" }\nmin_requests = 1\np95 = \"2s\"\n\
        \n[scopes.browse]\ntags = { flow = \"browse\" }\np95 = \"1us\"\n";
    let dir = common::temp_dir("tags");
    let cfg = dir.join("perfgate.toml");
    std::fs::write(&cfg, config(&server.url, "", tasks) + scopes).unwrap();
    let (out, verdict) = (dir.join("r.json"), dir.join("v.json"));
    let done = perfgate_run(
        &cfg,
        &[
            "--users",
            "2",
            "--duration",
            "1s",
            "--out",
            out.to_str().unwrap(),
            "--report",
            &format!("json={}", verdict.display()),
        ],
        1,
    );
    let said = done.0;
    assert!(said.contains("/echo [flow=checkout, step=pay]"), "{said}");
    assert!(
        said.contains("✓ requests") && said.contains("on scope checkout"),
        "{said}"
    );
    assert!(
        said.contains("✗ p95 latency") && said.contains("on scope browse"),
        "{said}"
    );
    assert_schema_valid(&out);
    let r = perfgate::metrics::RunResult::load(&out).unwrap();
    let tag = |e: &str, k: &str| r.endpoint(e).unwrap().tags.get(k).cloned();
    assert_eq!(tag("/login", "flow").as_deref(), Some("checkout"));
    assert_eq!(tag("/echo", "step").as_deref(), Some("pay"));
    assert_eq!(tag("/login", "step"), None, "a step's own tags are its own");
    assert_eq!(tag("task:checkout", "flow").as_deref(), Some("checkout"));
    assert_eq!(tag("/health", "flow").as_deref(), Some("browse"));
    // The scope's requests are its endpoints' (the task timed as a whole left out).
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&verdict).unwrap()).unwrap();
    let measured = v["verdict"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["objective"]["metric"] == "requests")
        .unwrap()["measured"]
        .as_f64()
        .unwrap();
    let want = r.endpoint("/login").unwrap().requests + r.endpoint("/echo").unwrap().requests;
    assert_eq!(measured as u64, want);
    assert_eq!(
        want,
        (server.count("/login") + server.count("/echo")) as u64
    );

    // One endpoint, two values of a tag: refused, with where.
    let clash = tasks.replace("path = \"/health\"", "path = \"/echo\"");
    let (c, source) = Config::parse("t.toml", &config(&server.url, "", &clash)).unwrap();
    let err = Plan::build(&c, &source, &Overrides::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("is tagged flow = \"checkout\" and flow = \"browse\""),
        "{err}"
    );
    // A scope no endpoint is in: said before any load.
    std::fs::write(
        &cfg,
        config(&server.url, "", tasks)
            + "\n[scopes.pay]\ntags = { flow = \"pay\" }\np95 = \"1s\"\n",
    )
    .unwrap();
    let done = perfgate_run(&cfg, &["--users", "1", "--duration", "1s"], 2);
    let err = done.1;
    assert!(
        err.contains("[scopes.pay]: no endpoint has the tags { flow = \"pay\" }"),
        "{err}"
    );
}

/// The flows `perfgate init` shows, commented out, are a config that plans as written.
#[test]
fn the_scaffolds_commented_flows_plan_as_written() {
    let mut inside = false;
    let text: Vec<String> = perfgate::EXAMPLE_CONFIG
        .lines()
        .map(|l| {
            if l.starts_with("# --- Flows beyond one request") {
                inside = true;
            } else if l.starts_with("# ---") {
                inside = false;
            }
            match (inside, l.strip_prefix("# ").or(l.strip_prefix("#"))) {
                (true, Some(rest)) if !l.starts_with("# ---") => rest.to_string(),
                _ => l.to_string(),
            }
        })
        .collect();
    let text = text.join("\n");
    assert!(text.contains("\n[[users.on_start]]") || text.contains("  [[users.on_start]]"));
    let dir = common::temp_dir("scaffold-flows");
    std::fs::write(dir.join("accounts.json"), r#"[{"name": "ann"}]"#).unwrap();
    let proto = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grpc/proofs.proto");
    std::fs::copy(proto, dir.join("proofs.proto")).unwrap();
    let path = dir.join("perfgate.toml");
    std::fs::write(&path, &text).unwrap();
    let (c, source) = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let plan = Plan::build(&c, &source, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = plan.endpoints.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"task:checkout"), "{names:?}");
    for name in ["/ws", "echo", "/perfgate.demo.Proofs/Verify"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(plan.metrics, ["server_ms"]);
    assert_eq!(c.environments.len(), 1);
    assert_eq!(c.scopes.len(), 1);
}
