//! Open model: latency from the scheduled arrival, so a stalled service shows up in the
//! percentiles (no coordinated omission), and arrivals with no free user are dropped.

mod common;

use common::{config, run, secs};
use perfgate::config::{Overrides, Rate};
use perfgate::demo::{DemoServer, Knobs};
use perfgate::metrics::{LoadModel, Overload};
use perfgate::report::words;

/// The demo freezes every response for 1 s once every 5 s. At a constant arrival rate
/// a fifth of arrivals land in a freeze, uniformly, and wait out its remainder: P(L > x)
/// = (1 - x) / 5 for x < 1 s, so p90 = 0.50 s, p95 = 0.75 s, p99 = 0.95 s.
#[test]
fn stalls_show_in_the_percentiles_at_a_constant_arrival_rate() {
    let mut knobs = Knobs::default();
    knobs.set_stall("1s/5s").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let text = common::health_only(&demo.url());
    let o = Overrides {
        rate: Some(Rate(400.0)),
        users: Some(1000),
        duration: secs("10s"),
        ..Default::default()
    };
    let r = run(&text, o);
    let l = &r.total.latency;
    for (p, expected) in [(90.0, 0.50), (95.0, 0.75), (99.0, 0.95)] {
        let got = l.percentile_us(p) as f64 / 1e6;
        assert!(
            (got - expected).abs() <= expected * 0.10,
            "p{p}: {got:.3}s, expected {expected}s ±10%"
        );
    }
    // The full schedule was delivered: 400/s for 10 s, none dropped or lost.
    assert_eq!(r.total.dropped, 0);
    let sent = r.total.requests + r.total.interrupted;
    assert!((3990..=4000).contains(&sent), "{sent}");
    assert_eq!(r.scenario.model, LoadModel::Open);
}

#[test]
fn arrivals_with_no_free_user_are_counted_as_dropped() {
    let mut knobs = Knobs::default();
    knobs.set("latency", "/health=200ms").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let text = common::health_only(&demo.url());
    // 100 arrivals/s, each user busy 200 ms, 4 users: at most 20 served per second.
    let o = Overrides {
        rate: Some(Rate(100.0)),
        users: Some(4),
        duration: secs("2s"),
        ..Default::default()
    };
    let r = run(&text, o);
    // Every user is busy while arrivals come, and the seconds say so (issue 13 saw the
    // open model report 0 users while every user was busy); the last second ends with
    // the arrivals, when users leave.
    assert_eq!(r.series[0].users, 4, "{:?}", r.series);
    let scheduled = 200;
    let handled = r.total.requests + r.total.interrupted + r.total.dropped;
    assert!((scheduled - 2..=scheduled).contains(&handled), "{handled}");
    assert!(r.total.dropped >= 150, "{}", r.total.dropped);
    // The verdict says the service got less load than asked, unless a `dropped`
    // objective judges it.
    let note = format!("{} of {handled} arrivals", r.total.dropped);
    let notes = |objectives: &str| {
        let text = format!("{text}\n[budgets.ci]\n{objectives}\n");
        let (config, source) = perfgate::config::Config::parse("t.toml", &text).unwrap();
        let budget =
            perfgate::gate::Budget::resolve(&config, &source, Some("ci"), None, &[]).unwrap();
        let notes = perfgate::gate::evaluate(&budget, &r).notes;
        notes.iter().map(words::note).collect::<Vec<_>>()
    };
    let unbounded = notes("p99 = \"10s\"");
    assert!(
        unbounded.iter().any(|n| n.starts_with(&note)),
        "{unbounded:?}"
    );
    let bounded = notes("dropped = 0");
    assert!(
        !bounded.iter().any(|n| n.contains("arrivals")),
        "{bounded:?}"
    );
    assert_eq!(
        demo.served_on("/health"),
        r.total.requests
            + r.total
                .interrupted
                .min(demo.served_on("/health") - r.total.requests)
    );
}

/// Arrivals follow the user-class weights even when one class answers far faster than
/// the others (a free-user stack would hand nearly every arrival to the fastest class).
#[test]
fn arrivals_follow_class_weights_whatever_each_class_latency() {
    let mut knobs = Knobs::default();
    knobs.set("latency", "/api/verify-proof=20ms").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let o = Overrides {
        host: Some(demo.url()),
        rate: Some(Rate(300.0)),
        users: Some(200),
        duration: secs("3s"),
        ..Default::default()
    };
    let r = run(&common::example_with_wait("[\"0ms\", \"1ms\"]"), o);
    assert_eq!(r.total.dropped, 0);
    // HighVolumeUser (batch) has weight 1 of 5.
    let batch = r.endpoint("/api/batch-verify-proofs").unwrap().requests as f64;
    let share = batch / r.total.requests as f64;
    assert!((0.17..=0.23).contains(&share), "batch share {share:.3}");
    assert_eq!(
        demo.served_on("/api/batch-verify-proofs"),
        batch as u64,
        "the service saw the same"
    );
}

/// Far more arrivals than one generator thread can send: perfgate notices it was the
/// bottleneck and the gate says INCONCLUSIVE, not PASSED (nor FAILED).
#[test]
fn an_overloaded_generator_makes_the_verdict_inconclusive() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = common::health_only(&demo.url()) + "\n[budgets.ci]\np99 = \"10s\"\n";
    let o = Overrides {
        rate: Some(Rate(1_000_000.0)),
        users: Some(2_000),
        threads: Some(1),
        duration: secs("2s"),
        ..Default::default()
    };
    let r = run(&text, o);
    assert!(r.generator.overloaded, "{:?}", r.generator);
    assert!(r.generator.schedule_lag_ms > 0.0 && r.generator.timer_delay_p99_ms > 0.0);
    assert!(
        r.generator.notes.iter().any(|n| matches!(
            n,
            Overload::Cpu { .. } | Overload::ScheduleLag { .. } | Overload::TimerDelay { .. }
        )),
        "{:?}",
        r.generator.notes
    );
    // Every scheduled arrival is accounted for, and the shortfall shows as dropped.
    let handled = r.total.requests + r.total.interrupted + r.total.dropped;
    assert!((1_999_990..=2_000_010).contains(&handled), "{handled}");
    assert!(r.total.dropped > r.total.requests, "{:?}", r.total);
    let dropped = format!("{} of ", r.total.dropped);
    let (config, source) = perfgate::config::Config::parse("t.toml", &text).unwrap();
    let budget = perfgate::gate::Budget::resolve(&config, &source, Some("ci"), None, &[]).unwrap();
    let verdict = perfgate::gate::evaluate(&budget, &r);
    assert_eq!(verdict.status, perfgate::gate::Status::Inconclusive);
    let notes: Vec<String> = verdict.notes.iter().map(words::note).collect();
    assert!(notes.iter().any(|n| n.contains("bottleneck")), "{notes:?}");
    // The drops were perfgate's doing: the note does not send the user to add users.
    let note = notes.iter().find(|n| n.starts_with(&dropped));
    let note = note.unwrap_or_else(|| panic!("{notes:?}"));
    assert!(
        note.contains("could not keep up") && !note.contains("max_users"),
        "{note}"
    );
}

/// Rate stages, end to end: 0 → 200/s over 2 s, 200/s for 2 s, back to 0 over 2 s.
#[test]
fn rate_stages_ramp_up_hold_and_down() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = config(&demo.url(), "{ constant = \"0ms\" }", &[("h", "/health", 1)])
        + "\n[scenarios.ramp]\nrate = \"1/s\"\nmax_users = 100\nstages = [\n  { duration = \"2s\", target = 200 },\n  { duration = \"2s\", target = 200 },\n  { duration = \"2s\", target = 0 },\n]\n";
    let o = Overrides {
        scenario: Some("ramp".into()),
        ..Default::default()
    };
    let r = run(&text, o);
    assert!((5.9..6.5).contains(&r.duration_s), "{}", r.duration_s);
    // The area under the rate curve: 200 + 400 + 200 arrivals.
    let sent = r.total.requests + r.total.interrupted + r.total.dropped;
    assert!((790..=810).contains(&sent), "{sent}");
    assert_eq!(r.total.dropped, 0);
    let per_second = common::per_second(&r, 6);
    // Ramping seconds average 50 and 150, held seconds 200, then 150 and 50 again.
    for (t, expected) in [50.0, 150.0, 200.0, 200.0, 150.0, 50.0].iter().enumerate() {
        let got = per_second[t] as f64;
        assert!(
            (got - expected).abs() <= expected * 0.15 + 3.0,
            "second {t}: {per_second:?}"
        );
    }
    assert_eq!(demo.served_on("/health"), r.total.requests);
    // The result says how it ramped, from the starting rate.
    assert_eq!(
        r.scenario.shape,
        [[0.0, 1.0], [2.0, 200.0], [4.0, 200.0], [6.0, 0.0]]
    );
    assert_eq!(
        perfgate::report::load_text(&r.scenario),
        "1 → 200 → 200 → 0 arrivals/s over 6 s, up to 100 users"
    );
}

/// Several scenarios in one test, each with its own model and start: steady closed-model
/// users for 6 s, and an open-model spike of 200 arrivals/s from 2 s to 4 s.
#[test]
fn included_scenarios_run_together_each_with_its_model_and_start() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = config(
        &demo.url(),
        "{ constant = \"100ms\" }",
        &[("h", "/health", 1)],
    ) + r#"
[scenarios.mixed]
description = "steady users plus a spike"
include = ["steady", "spike"]

[scenarios.steady]
users = 5
spawn_rate = 1000
duration = "6s"

[scenarios.spike]
rate = "200/s"
max_users = 50
start = "2s"
duration = "2s"
"#;
    let o = Overrides {
        scenario: Some("mixed".into()),
        ..Default::default()
    };
    let r = run(&text, o);
    assert!((5.9..6.6).contains(&r.duration_s), "{}", r.duration_s);
    assert_eq!(r.scenario.model, LoadModel::Mixed);
    assert_eq!(r.scenario.users, 55);
    let per_second = common::per_second(&r, 6);
    // 5 users with 100 ms think time: ~50/s; plus 200/s during the spike.
    for (t, expected) in [50.0, 50.0, 250.0, 250.0, 50.0, 50.0].iter().enumerate() {
        let got = per_second[t] as f64;
        assert!(
            (got - expected).abs() <= expected * 0.2,
            "second {t}: {per_second:?}"
        );
    }
    assert_eq!(r.total.dropped, 0);
    assert_eq!(demo.served_on("/health"), r.total.requests);
}

#[test]
fn included_scenarios_are_checked() {
    let base = config(
        "http://127.0.0.1:1",
        "{ constant = \"1s\" }",
        &[("h", "/health", 1)],
    );
    let parse = |extra: &str, o: Overrides| {
        let text = format!("{base}{extra}");
        let (c, s) = perfgate::config::Config::parse("p.toml", &text).unwrap();
        perfgate::config::Plan::build(&c, &s, &o)
            .err()
            .map(|e| e.to_string())
    };
    let mixed = Overrides {
        scenario: Some("mixed".into()),
        ..Default::default()
    };
    let e = parse("\n[scenarios.mixed]\ninclude = [\"nope\"]\n", mixed.clone()).unwrap();
    assert!(
        e.contains("includes \"nope\", which is not a scenario"),
        "{e}"
    );
    assert!(e.starts_with("p.toml:"), "{e}");
    let e = parse(
        "\n[scenarios.mixed]\ninclude = [\"a\"]\n[scenarios.a]\nusers = 2\n",
        Overrides {
            users: Some(9),
            ..mixed.clone()
        },
    )
    .unwrap();
    assert!(e.contains("apply to one scenario"), "{e}");
    assert!(parse(
        "\n[scenarios.mixed]\ninclude = [\"a\"]\n[scenarios.a]\nusers = 2\n",
        mixed
    )
    .is_none());
}

#[test]
fn an_iteration_bounded_open_run_ends_when_its_iterations_are_sent() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = common::health_only(&demo.url());
    // The run lasted its whole cap (an hour unless given), idle, after sending its 30
    // arrivals in a third of a second.
    let started = std::time::Instant::now();
    let r = run(
        &text,
        Overrides {
            rate: Some(Rate(100.0)),
            iterations: Some(30),
            duration: secs("30s"),
            ..Default::default()
        },
    );
    assert_eq!(r.total.requests, 30);
    assert_eq!(demo.served_on("/health"), 30);
    assert!(
        started.elapsed().as_secs_f64() < 10.0,
        "{:?}",
        started.elapsed()
    );
    assert!(r.duration_s < 10.0, "{}", r.duration_s);
}

#[test]
fn fewer_users_than_threads_drop_no_arrivals() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = common::health_only(&demo.url());
    // One user, two threads asked for: the thread without a user dropped its half.
    let r = run(
        &text,
        Overrides {
            rate: Some(Rate(20.0)),
            users: Some(1),
            threads: Some(2),
            duration: secs("2s"),
            ..Default::default()
        },
    );
    assert_eq!(r.total.dropped, 0);
    assert_eq!(r.total.requests + r.total.interrupted, 40);
    assert_eq!(r.generator.threads, 1);
}
