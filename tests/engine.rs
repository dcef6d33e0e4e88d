//! The load engine against the real demo service on 127.0.0.1: counts, mix, think time,
//! failures and unreachable targets.

mod common;

use common::{config, run, secs};
use perfgate::config::Overrides;
use perfgate::demo::{DemoServer, Knobs};

#[test]
fn reported_requests_per_endpoint_equal_what_the_service_served() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    // Bounded by iterations, so nothing is in flight at the stop and counts match exactly.
    let o = Overrides {
        host: Some(demo.url()),
        iterations: Some(1500),
        users: Some(20),
        ..Default::default()
    };
    // The bundled scenario: the Locust setup's three user classes with signed proofs.
    // Same think time for every class, so iterations follow the class weights.
    let text = common::example_with_wait("[\"10ms\", \"50ms\"]");
    let r = run(&text, o);
    let served = demo.served();
    assert!(
        r.total.requests > 200,
        "too little load to compare: {}",
        r.total.requests
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    for e in &r.endpoints {
        let by_status = &served[&e.name];
        assert_eq!(
            e.requests,
            by_status.values().sum::<u64>(),
            "{}: {by_status:?}",
            e.name
        );
        assert_eq!(
            by_status.keys().copied().collect::<Vec<_>>(),
            vec![200],
            "{}",
            e.name
        );
        assert_eq!(
            e.status_classes.iter().collect::<Vec<_>>(),
            vec![(&"2xx".to_string(), &e.requests)],
            "{}",
            e.name
        );
    }
    assert_eq!(r.endpoints.len(), 4);
    assert_eq!(r.total.interrupted, 0);
    assert_eq!(
        r.total.requests,
        served.values().flat_map(|m| m.values()).sum::<u64>()
    );
    // The three user classes all ran, PeakHourUser most (weight 3 of 5).
    let by_class = |c: &str| {
        r.tasks
            .iter()
            .filter(|t| t.user == c)
            .map(|t| t.iterations)
            .sum::<u64>()
    };
    assert!(by_class("ProofMessengerUser") > 0 && by_class("HighVolumeUser") > 0);
    assert!(by_class("PeakHourUser") > by_class("ProofMessengerUser"));
    // A light closed run: the once-a-second timers fired on time (and were measured), and
    // a closed model has no arrival schedule to fall behind.
    let g = &r.generator;
    assert!(
        g.timer_delay_p99_ms > 0.0 && g.timer_delay_p99_ms < 100.0,
        "{g:?}"
    );
    assert_eq!(g.schedule_lag_ms, 0.0);
    assert!(!g.overloaded, "{g:?}");
}

#[test]
fn task_mix_matches_the_weights() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let tasks = [
        ("a", "/health", 50),
        ("b", "/health", 30),
        ("c", "/health", 15),
        ("d", "/health", 5),
    ];
    let text = config(&demo.url(), "{ constant = \"0ms\" }", &tasks);
    let n = 4000;
    let o = Overrides {
        host: None,
        iterations: Some(n),
        users: Some(4),
        duration: secs("60s"),
        ..Default::default()
    };
    let r = run(&text, o);
    assert_eq!(r.total.requests, n);
    for (name, _, weight) in tasks {
        let p = weight as f64 / 100.0;
        let got = r.endpoint(name).unwrap().requests as f64;
        // Binomial: within 4 standard deviations (a false alarm about once in 16,000 runs).
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (got - n as f64 * p).abs() < 4.0 * sd,
            "{name}: {got} of {n}, expected {}",
            n as f64 * p
        );
    }
}

#[test]
fn think_time_is_respected() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = config(
        &demo.url(),
        "{ constant = \"200ms\" }",
        &[("h", "/health", 1)],
    );
    let o = Overrides {
        users: Some(2),
        duration: secs("2s"),
        ..Default::default()
    };
    let r = run(&text, o);
    // Each user: one request, then 200 ms: at most 10 iterations each in 2 s.
    assert!(
        (16..=20).contains(&r.total.requests),
        "{}",
        r.total.requests
    );
    assert_eq!(demo.served_on("/health"), r.total.requests);
}

#[test]
fn injected_failures_appear_with_reason_and_count() {
    let mut knobs = Knobs::default();
    knobs.set("error-rate", "/health=30%").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let text = config(
        &demo.url(),
        "{ constant = \"0ms\" }",
        &[("/health", "/health", 1)],
    );
    let r = run(
        &text,
        Overrides {
            iterations: Some(1000),
            users: Some(5),
            ..Default::default()
        },
    );
    let served = &demo.served()["/health"];
    assert_eq!(r.total.requests, 1000);
    assert_eq!(r.total.failures, served[&503]);
    assert_eq!(r.total.failure_reasons["HTTP 503"], served[&503]);
    assert_eq!(r.total.status_classes["5xx"], served[&503]);
    assert_eq!(r.total.status_classes["2xx"], served[&200]);
    let rate = r.total.failures as f64 / 1000.0;
    assert!((0.25..0.35).contains(&rate), "{rate}");
}

#[test]
fn expectations_fail_requests_with_their_reason() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    // /health answers {"status":"ok"} as application/json.
    let task = |name: &str, expect: &str| {
        format!("[[users.tasks]]\nname = \"{name}\"\nendpoint = \"{name}\"\npath = \"/health\"\nexpect = {{ {expect} }}\n")
    };
    let text = format!(
        "[target]\nhost = \"{}\"\n[[users]]\nname = \"U\"\n{}{}{}{}",
        demo.url(),
        task("body", "body_contains = \"nope\""),
        task("json", "headers = { Content-Type = \"application/json\" }"),
        task("html", "headers = { content-type = \"text/html\" }"),
        task("none", "headers = { x-none = \"\" }"),
    );
    let r = run(
        &text,
        Overrides {
            iterations: Some(200),
            ..Default::default()
        },
    );
    let failed_with = |endpoint: &str, reason: &str| {
        let e = r.endpoint(endpoint).unwrap();
        assert!(e.requests > 0, "{endpoint}");
        assert_eq!(
            e.failures, e.requests,
            "{endpoint}: {:?}",
            e.failure_reasons
        );
        assert_eq!(
            e.failure_reasons[&format!("expectation: {reason}")],
            e.requests,
            "{endpoint}: {:?}",
            e.failure_reasons
        );
    };
    failed_with("body", "body does not contain \"nope\"");
    failed_with(
        "html",
        "content-type is \"application/json\", expected it to contain \"text/html\"",
    );
    failed_with("none", "no x-none header");
    let json = r.endpoint("json").unwrap();
    assert!(json.requests > 0);
    assert_eq!(json.failures, 0, "{:?}", json.failure_reasons);
    assert_eq!(r.total.requests, 200);
}

#[test]
fn multi_step_tasks_extract_values_from_earlier_responses() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    // Step 1 reads {"status":"ok"}; step 2 sends it back in the query string.
    let text = format!(
        "[target]\nhost = \"{}\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\nname = \"two steps\"\n\
         [[users.tasks.steps]]\npath = \"/health\"\nextract = {{ s = \"/status\" }}\n\
         [[users.tasks.steps]]\npath = \"/health\"\nendpoint = \"second\"\nquery = {{ seen = \"{{{{ vars.s }}}}\" }}\n",
        demo.url()
    );
    let r = run(
        &text,
        Overrides {
            iterations: Some(20),
            ..Default::default()
        },
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    assert_eq!(r.endpoint("second").unwrap().requests, 20);
    assert_eq!(r.endpoint("/health").unwrap().requests, 20);
}

/// A task on endpoint "use" that sends vars.s back: it renders only for a user that
/// extracted `s` before.
const USES_S: &str = r#"  [[users.tasks]]
  name = "use"
  endpoint = "use"
  path = "/health"
  query = { seen = "{{ vars.s }}" }
"#;

#[test]
fn a_request_whose_template_failed_counts_as_failed_but_has_no_latency() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    // Endpoint "use" needs vars.s. Class A never extracts it, so none of its "use"
    // requests can be rendered (and nothing is sent); class B extracts it one step
    // before, so all of its are sent. User 0 is of class A and starts first.
    let text = format!(
        r#"[target]
host = "{}"
[[users]]
name = "A"
wait = {{ constant = "5ms" }}
{USES_S}[[users]]
name = "B"
  [[users.tasks]]
  name = "flow"
    [[users.tasks.steps]]
    path = "/health"
    extract = {{ s = "/status" }}
    [[users.tasks.steps]]
    endpoint = "use"
    path = "/health"
    query = {{ seen = "{{{{ vars.s }}}}" }}
"#,
        demo.url()
    );
    let r = run(
        &text,
        Overrides {
            iterations: Some(200),
            users: Some(2),
            spawn_rate: Some(1000.0),
            ..Default::default()
        },
    );
    let used = r.endpoint("use").unwrap();
    let unrendered = used
        .failure_reasons
        .iter()
        .filter(|(reason, _)| reason.starts_with("template: "))
        .map(|(_, n)| *n)
        .sum::<u64>();
    assert!(unrendered > 0, "{:?}", used.failure_reasons);
    assert_eq!(used.failures, unrendered, "{:?}", used.failure_reasons);
    // Latencies are of requests sent: exactly what the service saw.
    let sent = used.requests - unrendered;
    assert!(sent > 0, "class B sent no \"use\" request");
    assert_eq!(used.latency.count(), sent);
    let got = r.endpoint("/health").unwrap();
    let served: u64 = demo.served()["/health"].values().sum();
    assert_eq!(served, got.requests + sent);
}

#[test]
fn a_user_whose_every_request_fails_to_render_does_not_starve_the_others() {
    // Class A's only task needs vars.s, which only class B extracts, and A has no think
    // time: it fails without ever waiting on the network. Class B's user shares A's
    // thread and must still get its turns.
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = format!(
        r#"[target]
host = "{}"
[[users]]
name = "A"
{USES_S}[[users]]
name = "B"
wait = {{ constant = "10ms" }}
  [[users.tasks]]
  path = "/health"
  extract = {{ s = "/status" }}
"#,
        demo.url()
    );
    let r = run(
        &text,
        Overrides {
            users: Some(2),
            spawn_rate: Some(1000.0),
            threads: Some(1),
            duration: secs("1s"),
            ..Default::default()
        },
    );
    let used = r.endpoint("use").unwrap();
    assert!(used.failures > 0);
    assert_eq!(used.failures, used.requests);
    let got = r.endpoint("/health").unwrap();
    // About 1 s / 10 ms of think time, less the time the requests took.
    assert!(got.requests > 20, "class B sent {} requests", got.requests);
    assert_eq!(got.failures, 0, "{:?}", got.failure_reasons);
    let served: u64 = demo.served()["/health"].values().sum();
    assert_eq!(served, got.requests);
}

#[test]
fn unreachable_target_is_reported_not_a_panic() {
    // Bind then drop: the port is now (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = config(
        &format!("http://127.0.0.1:{port}"),
        "{ constant = \"50ms\" }",
        &[("h", "/health", 1)],
    );
    let r = run(
        &text,
        Overrides {
            duration: secs("1s"),
            users: Some(2),
            ..Default::default()
        },
    );
    assert!(r.total.requests > 0);
    assert_eq!(r.total.failures, r.total.requests);
    assert_eq!(
        r.total.failure_reasons["connection refused"],
        r.total.requests
    );
    // No answer, no latency: a refusal's 0.1 ms is not a sample (issue 13).
    assert_eq!(r.total.latency.count(), 0);
}

#[test]
fn a_hanging_target_times_out_and_the_run_still_ends() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(20) {
            held.push(s);
        }
    });
    let text = config(
        &format!("http://{addr}"),
        "{ constant = \"0ms\" }",
        &[("h", "/", 1)],
    )
    .replace("timeout = \"5s\"", "timeout = \"300ms\"");
    let started = std::time::Instant::now();
    let r = run(
        &text,
        Overrides {
            duration: secs("2s"),
            users: Some(2),
            ..Default::default()
        },
    );
    assert!(started.elapsed().as_secs_f64() < 6.0);
    // Each user times out every 300 ms (plus a reconnect): about 6 each in 2 s. Fewer
    // would mean timers firing late, more firing early.
    let timeouts = r.total.failure_reasons.get("timeout").copied().unwrap_or(0);
    assert!(
        (10..=14).contains(&timeouts),
        "{:?}",
        r.total.failure_reasons
    );
    assert_eq!(r.total.requests, timeouts, "nothing but timeouts");
    // A request that got no answer has no latency (issue 13): nothing to average.
    assert_eq!(r.total.latency.count(), 0);
}

#[test]
fn requests_in_flight_at_the_stop_are_interrupted_not_failed() {
    let mut knobs = Knobs::default();
    knobs.set("latency", "/health=5s").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let text = common::health_only(&demo.url());
    let r = run(
        &text,
        Overrides {
            duration: secs("1s"),
            users: Some(3),
            ..Default::default()
        },
    );
    assert_eq!(r.total.requests, 0);
    assert_eq!(r.total.failures, 0);
    assert_eq!(r.total.interrupted, 3);
}

/// At the stop nothing new is sent, and a request already on the wire gets a grace to
/// land: slow requests at the end are measured, not silently cut.
#[test]
fn requests_in_flight_at_the_stop_land_within_the_grace() {
    let mut knobs = Knobs::default();
    knobs.set("latency", "/health=1500ms").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let text = common::health_only(&demo.url());
    let started = std::time::Instant::now();
    let r = run(
        &text,
        Overrides {
            duration: secs("1s"),
            users: Some(3),
            ..Default::default()
        },
    );
    let took = started.elapsed().as_secs_f64();
    assert!(
        (1.4..2.9).contains(&took),
        "waited for them, not for the whole grace: {took}"
    );
    assert_eq!(r.total.requests, 3, "{:?}", r.total);
    assert_eq!(r.total.interrupted, 0);
    assert!(r.total.summary.min_ms >= 1500.0, "{:?}", r.total.summary);
    assert_eq!(
        demo.served_on("/health"),
        3,
        "the service served the same three"
    );
}

/// User stages, end to end: 0 → 20 users over 2 s, 20 for 2 s, then down to 0.
#[test]
fn user_stages_ramp_up_hold_and_down() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = config(&demo.url(), "{ constant = \"20ms\" }", &[("h", "/health", 1)])
        + "\n[scenarios.ramp]\nstages = [\n  { duration = \"2s\", target = 20 },\n  { duration = \"2s\", target = 20 },\n  { duration = \"2s\", target = 0 },\n]\n";
    let o = Overrides {
        scenario: Some("ramp".into()),
        ..Default::default()
    };
    let r = run(&text, o);
    assert!((5.9..8.5).contains(&r.duration_s), "{}", r.duration_s);
    let users: Vec<u64> = r.series.iter().map(|i| i.users).collect();
    let at = |t: usize| users.get(t).copied().unwrap_or(0);
    assert!(
        (7..=13).contains(&at(0)),
        "half-way up after 1 s: {users:?}"
    );
    assert!(
        (18..=20).contains(&at(2)) && (18..=20).contains(&at(3)),
        "{users:?}"
    );
    assert!(at(4) < 20 && at(5) <= 3, "ramping down: {users:?}");
    // Each user loops request + 20 ms think time, so throughput follows the users.
    let busy: u64 = r
        .series
        .iter()
        .filter(|i| i.t == 3)
        .flat_map(|i| &i.endpoints)
        .map(|e| e.requests)
        .sum();
    assert!(busy > 400, "20 users for a second: {busy}");
    assert_eq!(demo.served_on("/health"), r.total.requests);
    assert_eq!(
        perfgate::report::load_text(&r.scenario),
        "0 → 20 → 20 → 0 users over 6 s"
    );
}
