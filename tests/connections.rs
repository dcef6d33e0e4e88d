//! Connection reuse, against a server that records which connection carried each
//! request: kept alive by default (one connection a user), one connection a request with
//! `keep_alive = false`, whether or not the server honours `Connection: close`; and the
//! body bytes counted over each way a response body is framed.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::run;
use perfgate::config::Overrides;

/// Per connection the server accepted: whether each request on it asked to close.
type Seen = Arc<Mutex<Vec<Vec<bool>>>>;

/// A server answering 200 to every request; it closes after a request that asks to
/// when `honour_close`, else keeps every connection until the client closes it.
fn start(seen: Seen, honour_close: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream.unwrap(), &seen, honour_close));
        }
    });
    url
}

fn serve(mut s: TcpStream, seen: &Seen, honour_close: bool) {
    let id = {
        let mut seen = seen.lock().unwrap();
        seen.push(Vec::new());
        seen.len() - 1
    };
    let mut buf = Vec::new();
    while let Some((head, _)) = common::read_request(&mut s, &mut buf) {
        let close = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("connection: close"));
        seen.lock().unwrap()[id].push(close);
        let closing = close && honour_close;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{}\r\nok",
            if closing { "connection: close\r\n" } else { "" }
        );
        if s.write_all(response.as_bytes()).is_err() || closing {
            return;
        }
    }
}

fn config(url: &str, keep_alive: Option<bool>) -> String {
    let setting = keep_alive.map_or(String::new(), |k| format!("keep_alive = {k}\n"));
    format!(
        "[target]\nhost = \"{url}\"\n{setting}[[users]]\nname = \"U\"\nwait = {{ constant = \"5ms\" }}\n\
         [[users.tasks]]\nname = \"get\"\nendpoint = \"get\"\npath = \"/\"\n"
    )
}

/// 2 users, the second starting 10 ms after the first, share 40 iterations 5 ms apart.
fn load(text: &str) -> perfgate::metrics::RunResult {
    run(
        text,
        Overrides {
            users: Some(2),
            spawn_rate: Some(100.0),
            iterations: Some(40),
            ..Default::default()
        },
    )
}

#[test]
fn each_user_keeps_its_connection_by_default() {
    let seen = Seen::default();
    let url = start(seen.clone(), true);
    let r = load(&config(&url, None));
    let get = r.endpoint("get").unwrap();
    assert_eq!((get.requests, get.failures), (40, 0));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "one connection a user: {seen:?}");
    assert_eq!(seen.iter().map(Vec::len).sum::<usize>(), 40);
    assert!(seen.iter().flatten().all(|close| !close), "{seen:?}");
    // A connect time for each connection made, none for a reused one.
    assert_eq!(get.connect.count(), 2);
}

#[test]
fn keep_alive_false_makes_a_connection_a_request() {
    for honour_close in [true, false] {
        let seen = Seen::default();
        let url = start(seen.clone(), honour_close);
        let r = load(&config(&url, Some(false)));
        let get = r.endpoint("get").unwrap();
        assert_eq!(
            (get.requests, get.failures),
            (40, 0),
            "{:?}",
            get.failure_reasons
        );
        let seen = seen.lock().unwrap();
        // Even a server that keeps the connection open gets a new one each request.
        assert_eq!(seen.len(), 40, "honour_close {honour_close}: {seen:?}");
        assert!(seen.iter().all(|c| c == &[true]), "{seen:?}");
        assert_eq!(get.connect.count(), 40);
    }
}

/// Answers /length with a 5-byte body by Content-Length, /chunked with 7 bytes in two
/// chunks, and /close with 3 bytes ended by closing the connection.
fn serve_framed(mut s: TcpStream) {
    let mut buf = Vec::new();
    while let Some((head, _)) = common::read_request(&mut s, &mut buf) {
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        let response: &[u8] = match path.as_str() {
            "/length" => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            "/chunked" => {
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nhel\r\n4\r\nlo!!\r\n0\r\n\r\n"
            }
            _ => b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nbye",
        };
        if s.write_all(response).is_err() || path == "/close" {
            return;
        }
    }
}

#[test]
fn body_bytes_are_counted_whatever_the_framing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            std::thread::spawn(move || serve_framed(stream.unwrap()));
        }
    });
    let task = |name: &str| {
        format!("[[users.tasks]]\nname = \"{name}\"\nendpoint = \"{name}\"\npath = \"/{name}\"\n")
    };
    let text = format!(
        "[target]\nhost = \"{url}\"\n[[users]]\nname = \"U\"\n{}{}{}",
        task("length"),
        task("chunked"),
        task("close")
    );
    let r = run(
        &text,
        Overrides {
            iterations: Some(60),
            ..Default::default()
        },
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    let mut total = 0;
    for (name, size) in [("length", 5), ("chunked", 7), ("close", 3)] {
        let e = r.endpoint(name).unwrap();
        assert!(e.requests > 0, "{name}");
        assert_eq!(e.body_bytes, size * e.requests, "{name}");
        total += e.body_bytes;
    }
    assert_eq!(r.total.body_bytes, total);
}
