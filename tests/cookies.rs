//! Each virtual user keeps its cookies as a browser session does, against a server that
//! records the cookies of every request: a session cookie set by a login's redirect, a
//! cookie scoped to a path, a logout that deletes the session, cookies a browser refuses
//! (`Secure` over plain HTTP, another `Domain`); and `cookies = false`.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::run;
use perfgate::config::Overrides;

/// (request target, its cookie header, its x-user header) per request the server saw.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

fn start(seen: Seen) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream.unwrap(), &seen));
        }
    });
    url
}

fn serve(mut s: TcpStream, seen: &Seen) {
    let mut buf = Vec::new();
    loop {
        let Some((head, _)) = common::read_request(&mut s, &mut buf) else {
            return;
        };
        let target = head.split_whitespace().nth(1).unwrap().to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or("")
                .to_string()
        };
        let cookie = header("cookie: ");
        seen.lock()
            .unwrap()
            .push((target.clone(), cookie.clone(), header("x-user: ")));
        let (status, headers) = match target.as_str() {
            // Besides the session, two cookies a browser refuses here: Secure over
            // plain HTTP, and for another domain.
            "/login" => (
                "302 Found",
                "location: /home\r\nset-cookie: session=s1; Path=/; HttpOnly\r\n\
                 set-cookie: secure=1; Path=/; Secure\r\n\
                 set-cookie: foreign=1; Path=/; Domain=example.com\r\n",
            ),
            "/home" if cookie.split("; ").any(|c| c == "session=s1") => ("200 OK", ""),
            "/home" => ("401 Unauthorized", ""),
            "/api/items" => ("200 OK", "set-cookie: seen=1; Path=/api\r\n"),
            "/logout" => ("200 OK", "set-cookie: session=; Max-Age=0; Path=/\r\n"),
            _ => ("404 Not Found", ""),
        };
        let response = format!("HTTP/1.1 {status}\r\n{headers}content-length: 0\r\n\r\n");
        if s.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn config(url: &str, cookies: bool) -> String {
    format!(
        "[target]\nhost = \"{url}\"\ncookies = {cookies}\n[[users]]\nname = \"U\"\n\
         [[users.tasks]]\nname = \"visit\"\n\
         [[users.tasks.steps]]\nmethod = \"POST\"\npath = \"/login\"\nexpect = {{ status = 200 }}\n\
         [[users.tasks.steps]]\npath = \"/api/items\"\nheaders = {{ x-user = \"{{{{ user }}}}\" }}\n\
         [[users.tasks.steps]]\npath = \"/logout\"\n\
         [[users.tasks.steps]]\npath = \"/home\"\nendpoint = \"after logout\"\nexpect = {{ status = 401 }}\n"
    )
}

#[test]
fn each_user_keeps_the_cookies_its_responses_set() {
    let seen = Seen::default();
    let url = start(seen.clone());
    let (users, iterations) = (3, 30);
    let r = run(
        &config(&url, true),
        Overrides {
            users: Some(users),
            iterations: Some(iterations),
            ..Default::default()
        },
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    assert_eq!(r.total.requests, 4 * iterations);
    let seen = seen.lock().unwrap();
    let sent = |target: &str| -> Vec<&str> {
        seen.iter()
            .filter(|(t, _, _)| t == target)
            .map(|(_, c, _)| c.as_str())
            .collect()
    };
    // The server saw each request, the login's redirect to /home included.
    assert_eq!(seen.len() as u64, 5 * iterations);
    // The login carries no session (the last iteration's logout deleted it); the
    // redirect it answers with sets one, and /home gets it.
    assert!(sent("/login").iter().all(|c| !c.contains("session")));
    let home = sent("/home");
    assert_eq!(home.len() as u64, 2 * iterations);
    assert_eq!(
        home.iter().filter(|c| c.contains("session=s1")).count() as u64,
        iterations
    );
    // A cookie scoped to /api goes to /api only, from each user's second visit on.
    let mut first_visit = std::collections::BTreeSet::new();
    for (_, cookie, user) in seen.iter().filter(|(t, _, _)| t == "/api/items") {
        let expected = if first_visit.insert(user) {
            "session=s1"
        } else {
            "seen=1; session=s1"
        };
        assert_eq!(cookie, expected, "user {user}");
    }
    assert!((1..=users as usize).contains(&first_visit.len()));
    assert!(sent("/logout").iter().all(|c| !c.contains("seen")));
}

#[test]
fn with_cookies_false_nothing_is_kept() {
    let seen = Seen::default();
    let url = start(seen.clone());
    let r = run(
        &config(&url, false),
        Overrides {
            iterations: Some(10),
            ..Default::default()
        },
    );
    // Without the session the redirected login answers 401: the first step fails.
    let login = r.endpoint("/login").unwrap();
    assert_eq!((login.requests, login.failures), (10, 10));
    assert_eq!(
        login.failure_reasons.keys().collect::<Vec<_>>(),
        ["HTTP 401"]
    );
    assert!(seen.lock().unwrap().iter().all(|(_, c, _)| c.is_empty()));
}

#[test]
fn in_the_open_model_each_arrival_starts_without_cookies() {
    let seen = Seen::default();
    let url = start(seen.clone());
    // One user serves every arrival: what it kept would show on /api/items.
    let r = run(
        &config(&url, true),
        Overrides {
            rate: Some(perfgate::config::Rate(20.0)),
            users: Some(1),
            iterations: Some(20),
            ..Default::default()
        },
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    assert_eq!(r.total.dropped, 0);
    let seen = seen.lock().unwrap();
    let items: Vec<&str> = seen
        .iter()
        .filter(|(t, _, _)| t == "/api/items")
        .map(|(_, c, _)| c.as_str())
        .collect();
    assert_eq!(items.len(), 20);
    // The session its own login set, but never the /api cookie of an earlier arrival.
    assert!(items.iter().all(|c| *c == "session=s1"), "{items:?}");
}
