//! A misbehaving target (tests/common/faults.rs, one route per fault) under mixed load:
//! per endpoint, perfgate's count of requests sent equals what the server received, each
//! failure has its own reason, the run ends on time, and memory stays bounded.

mod common;

use std::time::{Duration, Instant};

use common::faults::{FaultServer, BIG, ROUTES};
use perfgate::config::Overrides;
use perfgate::metrics::RunResult;

/// A config with a task per route (the 50 MB one rarer), `timeout = "1s"`.
fn every_fault(url: &str) -> String {
    let mut text = format!(
        "[target]\nhost = \"{url}\"\ntimeout = \"1s\"\n\n[[users]]\nname = \"U\"\nwait = {{ constant = \"0ms\" }}\n"
    );
    for (route, _) in ROUTES {
        let weight = if *route == "/big" { 1 } else { 3 };
        text.push_str(&format!(
            "\n[[users.tasks]]\nname = \"{route}\"\nweight = {weight}\npath = \"{route}\"\n"
        ));
    }
    // The 50 MB answer, with a check that needs its body: more than max_body to keep.
    // Weighted as the other routes: at weight 1 a 3 s run now and then picked it never.
    text.push_str(
        "\n[[users.tasks]]\nname = \"big checked\"\nendpoint = \"big checked\"\nweight = 3\npath = \"/big\"\nexpect = { body_contains = \"x\" }\n",
    );
    text
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

#[test]
fn every_request_to_a_misbehaving_target_is_counted_under_its_own_reason() {
    let server = FaultServer::start();
    let started = Instant::now();
    let r = common::run(
        &every_fault(&server.url),
        Overrides {
            users: Some(8),
            duration: common::secs("3s"),
            ..Default::default()
        },
    );
    // 3 s of load, then 2 s of grace for requests on the wire; the hanging and trickling
    // routes time out after 1 s.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "the run took {took:?}");
    // Settle: the server counts a request when its head arrives.
    std::thread::sleep(Duration::from_millis(200));
    let stats = |name: &str| {
        r.endpoints
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing: {:?}", names(&r)))
    };
    let expected: &[(&str, &str)] = &[
        ("/close", "connection reset"),
        ("/close-after-headers", "connection reset"),
        ("/garbage", "bad response"),
        ("/bad-status", "bad response"),
        ("/trickle", "timeout"),
        ("/hang", "timeout"),
        ("/bad-chunked", "bad response: bad chunk size"),
        ("/wrong-length", "connection reset"),
        ("/redirect-loop", "redirect: more than 10 redirects"),
        ("/header-flood", "bad response"),
    ];
    for (route, reason) in expected {
        let s = stats(route);
        assert!(s.requests > 0, "{route}: no request");
        assert_eq!(s.failures, s.requests, "{route}: {:?}", s.failure_reasons);
        assert_eq!(
            s.failure_reasons.len(),
            1,
            "{route}: {:?}",
            s.failure_reasons
        );
        let (said, _) = s.failure_reasons.iter().next().unwrap();
        assert!(said.starts_with(reason), "{route}: {said}");
        // No answer, no latency (a redirect loop and a bad status line were answers of
        // a kind, but not ones that count as an answer to the request).
        assert_eq!(s.latency.count(), 0, "{route}");
    }
    // Sent = received, per route: what completed, what the stop cut, what was retried.
    for (route, _) in ROUTES {
        let s = stats(route);
        let sent = s.requests + s.interrupted + s.retries;
        let received = server.received(route);
        if *route == "/redirect-loop" {
            // Each request is itself and its 10 redirects; one the stop cut is fewer.
            let whole = 11 * s.requests;
            assert!(
                (whole..=whole + 11 * s.interrupted).contains(&received),
                "{route}: {received} received for {} requests",
                s.requests
            );
        } else if *route == "/big" {
            // Two tasks call it.
            let both = sent + stats("big checked").requests + stats("big checked").interrupted;
            assert_eq!(received, both, "{route}");
        } else {
            assert_eq!(received, sent, "{route}: {s:?}");
        }
    }
    let ok = stats("/ok");
    assert_eq!(ok.failures, 0);
    let big = stats("/big");
    assert_eq!(big.failures, 0, "{:?}", big.failure_reasons);
    assert_eq!(big.body_bytes, big.requests * BIG as u64);
    let checked = stats("big checked");
    assert!(checked.requests > 0);
    assert!(
        checked
            .failure_reasons
            .keys()
            .all(|k| k.contains("larger than [target] max_body")),
        "{:?}",
        checked.failure_reasons
    );
    // Bodies are read and counted, not kept beyond max_body (10 MiB a user).
    let peak = peak_rss_mb();
    assert!(peak < 400, "peak RSS {peak} MB");
}

fn names(r: &RunResult) -> Vec<&str> {
    r.endpoints.iter().map(|e| e.name.as_str()).collect()
}

/// A server that closes a kept-alive connection as the next request arrives: a GET is
/// sent again on a new connection and counted as a retry (the server saw both); a POST
/// is not, since the server may have acted on it (as Go's net/http does).
#[test]
fn only_idempotent_requests_are_retried_on_a_stale_connection_and_retries_are_counted() {
    let server = FaultServer::start();
    for (method, retried) in [("GET", true), ("POST", false)] {
        let before = server.received("/stale");
        let text = format!(
            "[target]\nhost = \"{}\"\n\n[[users]]\nname = \"U\"\nwait = {{ constant = \"0ms\" }}\n[[users.tasks]]\nmethod = \"{method}\"\npath = \"/stale\"\n",
            server.url
        );
        let r = common::run(
            &text,
            Overrides {
                users: Some(1),
                iterations: Some(20),
                ..Default::default()
            },
        );
        std::thread::sleep(Duration::from_millis(100));
        let t = &r.total;
        let received = server.received("/stale") - before;
        assert_eq!(received, t.requests + t.retries, "{method}: {t:?}");
        if retried {
            // Every second request meets a closed connection and is sent again.
            assert_eq!(t.failures, 0, "{:?}", t.failure_reasons);
            assert!(t.retries >= 9, "{method}: {} retries", t.retries);
        } else {
            assert_eq!(t.retries, 0);
            assert!(t.failures >= 9, "{method}: {:?}", t.failure_reasons);
            assert!(t.failure_reasons.contains_key("connection reset"));
        }
    }
}
