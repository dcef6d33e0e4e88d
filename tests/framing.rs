//! Responses framed every way HTTP/1.1 allows are read whole, against a server that
//! writes the bytes itself: a 1 MiB body, chunked bodies split mid-token and
//! mid-size-line, chunked with trailers, interim 1xx responses before the final one, a
//! body that ends when the server closes, a kept-alive connection the server closes
//! anyway, and HTTP/1.0. Each body is JSON whose token a second step sends back, so a
//! body read short or long fails.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::run;
use perfgate::config::Overrides;

const BODY: &str = r#"{"token":"abc123"}"#;
/// Task iterations: each is a response of one framing, then a check on its connection.
const ITERATIONS: u64 = 400;

#[derive(Default)]
struct Seen {
    requests: Mutex<BTreeMap<String, u64>>,
    connections: AtomicU64,
}

/// Serves each connection on its own thread until the client closes it.
fn start(seen: Arc<Seen>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            seen.connections.fetch_add(1, Ordering::Relaxed);
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream, &seen));
        }
    });
    url
}

/// Writes `parts` as separate packets, so the client reads them one at a time.
fn dribble(s: &mut TcpStream, parts: &[&str]) -> std::io::Result<()> {
    for p in parts {
        s.write_all(p.as_bytes())?;
        s.flush()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn serve(mut s: TcpStream, seen: &Seen) {
    s.set_nodelay(true).unwrap();
    let mut buf = Vec::new();
    loop {
        let Some((head, _)) = common::read_request(&mut s, &mut buf) else {
            return;
        };
        let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
        let path = target.split('?').next().unwrap().to_string();
        *seen
            .requests
            .lock()
            .unwrap()
            .entry(path.clone())
            .or_default() += 1;
        let keep = match path.as_str() {
            "/chunked" => dribble(
                &mut s,
                &[
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "5\r\n{\"tok\r\n",
                    "8\r\nen\":\"abc\r\n",
                    "5\r\n123\"}\r\n0\r\n",
                    "\r\n",
                ],
            )
            .is_ok(),
            "/trailers" => dribble(
                &mut s,
                &[
                    // 0x12 = 18 bytes, the size line split across packets.
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n1",
                    "2\r\n{\"token\":\"abc123\"}\r\n0\r\nX-Sum: 9\r\n",
                    "\r\n",
                ],
            )
            .is_ok(),
            // No body: after 204, and after HEAD whatever Content-Length says.
            "/no-content" => dribble(&mut s, &["HTTP/1.1 204 No Content\r\n\r\n"]).is_ok(),
            "/head" if head.starts_with("HEAD ") => {
                dribble(&mut s, &["HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n"]).is_ok()
            }
            // A body far larger than the read buffer, in uneven pieces.
            "/big" => {
                let body = format!(
                    "{{\"pad\":\"{}\",\"token\":\"abc123\"}}",
                    "x".repeat(1 << 20)
                );
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                let (a, b) = body.split_at(70_001);
                dribble(&mut s, &[&head, a, b]).is_ok()
            }
            // Interim responses first; the final one answers the request.
            "/early-hints" => dribble(
                &mut s,
                &[
                    "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n",
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n",
                    BODY,
                ],
            )
            .is_ok(),
            // No length: the body is everything until the server closes.
            "/until-close" => {
                let _ = dribble(
                    &mut s,
                    &[
                        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"token\"",
                        ":\"abc123\"}",
                    ],
                );
                false
            }
            // Kept alive by its headers, then closed anyway (an idle timeout, nginx's
            // keepalive_requests): the next request on it must go on a new connection.
            "/then-close" => {
                let _ = dribble(
                    &mut s,
                    &[&format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{BODY}",
                        BODY.len()
                    )],
                );
                false
            }
            // HTTP/1.0 closes after each response unless asked otherwise.
            "/http10" => {
                let _ = dribble(
                    &mut s,
                    &[&format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{BODY}",
                        BODY.len()
                    )],
                );
                false
            }
            "/check" => {
                let (status, body) = if target.contains("seen=abc123") {
                    ("200 OK", "ok")
                } else {
                    ("400 Bad Request", "no")
                };
                let response = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\n{body}");
                dribble(&mut s, &[&response]).is_ok()
            }
            _ => dribble(
                &mut s,
                &["HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"],
            )
            .is_ok(),
        };
        if !keep {
            return;
        }
    }
}

/// A bodiless response, then a check on the same connection: a client that waited for
/// a body there would time out, one that took the next response for it would fail.
fn bodiless(method: &str, path: &str) -> String {
    let name = path.trim_start_matches('/');
    format!(
        "\n[[users.tasks]]\nname = \"{name}\"\n\
         [[users.tasks.steps]]\nmethod = \"{method}\"\npath = \"{path}\"\n\
         [[users.tasks.steps]]\npath = \"/check\"\nendpoint = \"check {name}\"\n\
         query = {{ seen = \"abc123\" }}\n"
    )
}

fn task(path: &str) -> String {
    let name = path.trim_start_matches('/');
    format!(
        "\n[[users.tasks]]\nname = \"{name}\"\n\
         [[users.tasks.steps]]\npath = \"{path}\"\nextract = {{ t = \"/token\" }}\n\
         [[users.tasks.steps]]\npath = \"/check\"\nendpoint = \"check {name}\"\n\
         query = {{ seen = \"{{{{ vars.t }}}}\" }}\n"
    )
}

#[test]
fn every_framing_is_read_whole() {
    let seen = Arc::new(Seen::default());
    let url = start(seen.clone());
    let paths = [
        "/big",
        "/chunked",
        "/trailers",
        "/early-hints",
        "/until-close",
        "/then-close",
        "/http10",
    ];
    let mut text =
        format!("[target]\nhost = \"{url}\"\ntimeout = \"5s\"\n[[users]]\nname = \"U\"\n");
    for p in paths {
        text.push_str(&task(p));
    }
    text.push_str(&bodiless("GET", "/no-content"));
    text.push_str(&bodiless("HEAD", "/head"));
    let r = run(
        &text,
        Overrides {
            users: Some(4),
            iterations: Some(ITERATIONS),
            ..Default::default()
        },
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.total.failure_reasons);
    assert_eq!(r.total.requests, 2 * ITERATIONS);
    let served = seen.requests.lock().unwrap().clone();
    let mut closing = 0;
    for &p in paths.iter().chain(&["/no-content", "/head"]) {
        let ours = r.endpoint(p).map_or(0, |e| e.requests);
        let check = r
            .endpoint(&format!("check {}", p.trim_start_matches('/')))
            .map_or(0, |e| e.requests);
        assert!(ours > 10, "{p}: only {ours} of {ITERATIONS} iterations");
        assert_eq!(
            ours, served[p],
            "{p}: we counted {ours}, the server {}",
            served[p]
        );
        assert_eq!(check, ours, "{p}: every body's token came back");
        if ["/until-close", "/then-close", "/http10"].contains(&p) {
            closing += ours;
        }
    }
    assert_eq!(served["/check"], ITERATIONS);
    // A closed connection is not reused: one new connection per closing response, at
    // least, and kept-alive ones for the rest (4 users: a handful beyond that).
    let connections = seen.connections.load(Ordering::Relaxed);
    assert!(
        (closing..=closing + 8).contains(&connections),
        "{connections} connections for {closing} closing responses"
    );
}
