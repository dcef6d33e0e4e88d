//! Redirects are followed as Locust and k6 follow them, against a server that records
//! every request it sees: a 302 to a path, a 303 after a POST (GET, no body), a 307
//! (same method and body), a redirect loop, a redirect to another host (not followed:
//! perfgate loads one target), and `max_redirects = 0` (a 3xx is the answer).

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::run;
use perfgate::config::Overrides;

/// What the server saw: (method, target, content-length header, body) per request.
type Seen = Arc<Mutex<Vec<(String, String, Option<usize>, String)>>>;

fn start(seen: Seen) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let url = format!("http://{addr}");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (seen, addr) = (seen.clone(), addr.clone());
            std::thread::spawn(move || serve(stream.unwrap(), &seen, &addr));
        }
    });
    url
}

fn serve(mut s: TcpStream, seen: &Seen, addr: &str) {
    let mut buf = Vec::new();
    loop {
        let Some((head, body)) = common::read_request(&mut s, &mut buf) else {
            return;
        };
        let length = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().unwrap())
        });
        let mut words = head.split_whitespace();
        let (method, target) = (words.next().unwrap(), words.next().unwrap());
        seen.lock()
            .unwrap()
            .push((method.into(), target.into(), length, body.clone()));
        let (status, location, answer) = match target.split('?').next().unwrap() {
            "/old" => ("302 Found", Some("/new".to_string()), String::new()),
            "/form" => (
                "303 See Other",
                Some(format!("http://{addr}/done?x=1")),
                String::new(),
            ),
            "/keep" => ("307 Temporary Redirect", Some("echo".into()), String::new()),
            "/loop" => ("302 Found", Some("/loop".into()), String::new()),
            "/away" => (
                "302 Found",
                Some("http://example.invalid/x".into()),
                String::new(),
            ),
            "/echo" => ("200 OK", None, format!("{method} {body}")),
            _ => ("200 OK", None, format!("{method} {target}")),
        };
        let location = location.map_or(String::new(), |l| format!("location: {l}\r\n"));
        let response = format!(
            "HTTP/1.1 {status}\r\n{location}content-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if s.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn task(name: &str, method: &str, path: &str, extra: &str) -> String {
    format!(
        "[[users.tasks]]\nname = \"{name}\"\nendpoint = \"{name}\"\nmethod = \"{method}\"\npath = \"{path}\"\n{extra}\n"
    )
}

#[test]
fn redirects_are_followed_as_browsers_and_locust_follow_them() {
    let seen = Seen::default();
    let url = start(seen.clone());
    let text = [
        format!("[target]\nhost = \"{url}\"\n[[users]]\nname = \"U\"\n"),
        task(
            "old",
            "GET",
            "/old",
            "expect = { body_contains = \"GET /new\" }",
        ),
        task(
            "form",
            "POST",
            "/form",
            "json = '{\"a\":1}'\nexpect = { body_contains = \"GET /done?x=1\" }",
        ),
        task(
            "keep",
            "POST",
            "/keep",
            "json = '{\"b\":2}'\nexpect = { body_contains = 'POST {\"b\":2}' }",
        ),
        task("loop", "GET", "/loop", ""),
        task("away", "GET", "/away", ""),
    ]
    .concat();
    let r = run(
        &text,
        Overrides {
            iterations: Some(100),
            users: Some(2),
            ..Default::default()
        },
    );
    let ep = |name: &str| r.endpoint(name).unwrap();
    let seen = seen.lock().unwrap();
    let count = |method: &str, target: &str| {
        seen.iter()
            .filter(|(m, t, _, _)| m == method && t == target)
            .count() as u64
    };
    // A request and its redirects count once, with the final answer's status.
    for name in ["old", "form", "keep"] {
        assert!(ep(name).requests > 0, "{name}");
        assert_eq!(
            ep(name).failures,
            0,
            "{name}: {:?}",
            ep(name).failure_reasons
        );
        assert_eq!(ep(name).latency.count(), ep(name).requests, "{name}");
    }
    assert_eq!(count("GET", "/old"), ep("old").requests);
    assert_eq!(count("GET", "/new"), ep("old").requests);
    // 303 after a POST: GET, without the body or its headers.
    assert_eq!(count("POST", "/form"), ep("form").requests);
    assert_eq!(count("GET", "/done?x=1"), ep("form").requests);
    assert!(seen
        .iter()
        .filter(|(_, t, _, _)| t == "/done?x=1")
        .all(|(_, _, length, body)| length.is_none() && body.is_empty()));
    // 307: the same method and body, to a Location relative to /keep.
    assert_eq!(count("POST", "/keep"), ep("keep").requests);
    assert_eq!(count("POST", "/echo"), ep("keep").requests);
    // A loop fails after ten redirects; eleven requests reached the server for each.
    let looped = ep("loop");
    assert_eq!(looped.failures, looped.requests);
    assert_eq!(
        looped.failure_reasons.keys().collect::<Vec<_>>(),
        ["redirect: more than 10 redirects (the last to /loop)"]
    );
    assert_eq!(count("GET", "/loop"), 11 * looped.requests);
    // Another host is not followed (and nothing is sent there).
    let away = ep("away");
    assert_eq!(away.failures, away.requests);
    assert_eq!(
        away.failure_reasons.keys().collect::<Vec<_>>(),
        ["redirect: to another host, not followed: http://example.invalid/x"]
    );
    assert_eq!(count("GET", "/away"), away.requests);
    assert_eq!(
        seen.len() as u64,
        2 * ep("old").requests
            + 2 * ep("form").requests
            + 2 * ep("keep").requests
            + 11 * looped.requests
            + away.requests
    );
}

#[test]
fn with_max_redirects_0_a_redirect_is_the_answer() {
    let seen = Seen::default();
    let url = start(seen.clone());
    let text = [
        format!("[target]\nhost = \"{url}\"\nmax_redirects = 0\n[[users]]\nname = \"U\"\n"),
        task("old", "GET", "/old", "expect = { status = 302 }"),
    ]
    .concat();
    let r = run(
        &text,
        Overrides {
            iterations: Some(20),
            ..Default::default()
        },
    );
    let old = r.endpoint("old").unwrap();
    assert_eq!((old.requests, old.failures), (20, 0));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 20);
    assert!(seen.iter().all(|(_, t, _, _)| t == "/old"));
}

#[test]
fn a_header_of_a_response_is_extracted_for_a_later_step() {
    let seen = Seen::default();
    let url = start(seen.clone());
    // The redirect is the answer here: its Location goes to the next step, percent-encoded.
    let text = format!(
        "[target]\nhost = \"{url}\"\nmax_redirects = 0\n[[users]]\nname = \"U\"\n\
         [[users.tasks]]\nname = \"t\"\n\
         [[users.tasks.steps]]\npath = \"/old\"\nexpect = {{ status = 302 }}\nextract = {{ next = \"header:Location\" }}\n\
         [[users.tasks.steps]]\npath = \"/echo\"\nquery = {{ to = \"{{{{ vars.next }}}}\" }}\n\
         [[users.tasks.steps]]\npath = \"/new\"\nendpoint = \"no such header\"\nextract = {{ gone = \"header:location\" }}\n"
    );
    let r = run(
        &text,
        Overrides {
            iterations: Some(10),
            ..Default::default()
        },
    );
    let echo = r.endpoint("/echo").unwrap();
    assert_eq!((echo.requests, echo.failures), (10, 0));
    let seen = seen.lock().unwrap();
    let echoed = seen
        .iter()
        .filter(|(_, t, _, _)| t == "/echo?to=%2Fnew")
        .count();
    assert_eq!(echoed, 10);
    // A 200 has no Location: extracting it fails the step, with the reason.
    let missing = r.endpoint("no such header").unwrap();
    assert_eq!(missing.failures, 10);
    assert_eq!(
        missing.failure_reasons.keys().collect::<Vec<_>>(),
        ["expectation: cannot extract gone: no location header"]
    );
}
