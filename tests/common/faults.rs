//! A fault-injecting HTTP/1.1 server on 127.0.0.1: one route per way a target misbehaves,
//! counting every request it received per route, for tests that check perfgate counts
//! exactly what was sent and names each failure.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every route and what it does.
pub const ROUTES: &[(&str, &str)] = &[
    ("/ok", "answers 200 ok, keeps the connection"),
    ("/close", "reads the request and closes without a word"),
    (
        "/close-after-headers",
        "sends a head promising 100 bytes, then closes",
    ),
    ("/garbage", "answers a line that is no status line"),
    ("/bad-status", "answers an invalid status code"),
    ("/trickle", "sends a 1000-byte body a byte every 300 ms"),
    ("/hang", "never answers"),
    ("/big", "answers a 50 MB body"),
    (
        "/bad-chunked",
        "answers a chunked body with a bad chunk size",
    ),
    ("/wrong-length", "promises 10 bytes, sends 5 and closes"),
    ("/redirect-loop", "redirects to itself"),
    ("/header-flood", "answers 200 headers"),
    (
        "/stale",
        "answers the first request of a connection, closes on the next",
    ),
    (
        "/echo",
        "answers JSON with the request's Authorization header in it, and sets a cookie",
    ),
];

pub const BIG: usize = 50 << 20;

pub struct FaultServer {
    pub url: String,
    received: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl FaultServer {
    pub fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(BTreeMap::new()));
        let counts = received.clone();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(s) = s else { return };
                let counts = counts.clone();
                std::thread::spawn(move || serve(s, &counts));
            }
        });
        FaultServer { url, received }
    }

    /// Requests received on `route` so far.
    pub fn received(&self, route: &str) -> u64 {
        self.received
            .lock()
            .unwrap()
            .get(route)
            .copied()
            .unwrap_or(0)
    }
}

fn serve(mut s: TcpStream, counts: &Mutex<BTreeMap<String, u64>>) {
    // Bounded: a connection nobody uses for 30 s is dropped.
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut served_here = 0;
    let mut buf = Vec::new();
    while let Some((path, _method, auth)) = read_head(&mut s, &mut buf) {
        *counts.lock().unwrap().entry(path.clone()).or_default() += 1;
        served_here += 1;
        let keep = match path.as_str() {
            "/ok" => send(&mut s, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
            "/close" => false,
            "/close-after-headers" => {
                send(&mut s, b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
                false
            }
            "/garbage" => {
                send(&mut s, b"SPLAT\r\n\r\n");
                false
            }
            "/bad-status" => {
                send(&mut s, b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n");
                false
            }
            "/trickle" => {
                send(&mut s, b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
                for _ in 0..1000 {
                    std::thread::sleep(Duration::from_millis(300));
                    if s.write_all(b"x").is_err() {
                        break;
                    }
                }
                false
            }
            "/hang" => {
                // Until the client gives up and closes.
                let mut sink = [0u8; 1024];
                while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                false
            }
            "/big" => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {BIG}\r\n\r\n");
                let chunk = vec![b'x'; 1 << 16];
                send(&mut s, head.as_bytes())
                    && (0..BIG / chunk.len()).all(|_| s.write_all(&chunk).is_ok())
            }
            "/bad-chunked" => {
                send(
                    &mut s,
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nZZ\r\nhello\r\n",
                );
                false
            }
            "/wrong-length" => {
                send(
                    &mut s,
                    b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345",
                );
                false
            }
            "/redirect-loop" => send(
                &mut s,
                b"HTTP/1.1 302 Found\r\nlocation: /redirect-loop\r\ncontent-length: 0\r\n\r\n",
            ),
            "/header-flood" => {
                let mut head = String::from("HTTP/1.1 200 OK\r\n");
                for i in 0..200 {
                    head.push_str(&format!("x-flood-{i}: {i}\r\n"));
                }
                head.push_str("content-length: 0\r\n\r\n");
                send(&mut s, head.as_bytes());
                false
            }
            "/stale" if served_here == 1 => {
                send(&mut s, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            }
            "/stale" => false,
            "/echo" => {
                let body = format!("{{\"status\":\"{auth}\"}}");
                let head = format!(
                    "HTTP/1.1 200 OK\r\nset-cookie: session={auth}\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                send(&mut s, format!("{head}{body}").as_bytes())
            }
            _ => send(
                &mut s,
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            ),
        };
        if !keep {
            return;
        }
    }
}

fn send(s: &mut TcpStream, bytes: &[u8]) -> bool {
    s.write_all(bytes).is_ok()
}

/// The next request's path, method and Authorization header (its body, if it says it
/// has one, read too).
fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, String, String)> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let (mut len, mut auth) = (0, String::new());
            for line in head.lines() {
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if k.eq_ignore_ascii_case("authorization") {
                        auth = v.trim().to_string();
                    }
                }
            }
            while buf.len() < end + 4 + len {
                let n = s.read(&mut chunk).ok().filter(|n| *n > 0)?;
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..end + 4 + len);
            let mut parts = head.split_whitespace();
            let method = parts.next()?.to_string();
            let path = parts.next()?.to_string();
            return Some((path, method, auth));
        }
        let n = s.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
}
