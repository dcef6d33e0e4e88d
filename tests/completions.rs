//! The demo's streaming completion endpoint (`POST /api/v1/completions`, Server-Sent
//! Events), read here over a plain TCP connection as events arrive: its tokens come
//! `token_ms` apart and end with `[DONE]`; the path's latency knob delays the first
//! token; `stall_at` holds the stream, `cut_at` closes it without `[DONE]`; the tokens
//! counted are the tokens sent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use perfgate::demo::{DemoServer, Knob, Knobs};

/// Each event's data and when it arrived (since the request was sent); whether the
/// response was a complete chunked body.
fn stream(demo: &DemoServer, ask: &str) -> (Vec<(String, Duration)>, bool) {
    let addr = demo.url().trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let sent = Instant::now();
    write!(
        tcp,
        "POST /api/v1/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ask}",
        ask.len()
    )
    .unwrap();
    let (mut raw, mut events, mut buf) = (Vec::new(), Vec::new(), [0u8; 4096]);
    loop {
        let n = match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        raw.extend_from_slice(&buf[..n]);
        // Every `data:` line complete so far that was not seen yet.
        let text = String::from_utf8_lossy(&raw).into_owned();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("data: ")).collect();
        for l in lines.iter().skip(events.len()) {
            events.push((l["data: ".len()..].to_string(), sent.elapsed()));
        }
    }
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("content-type: text/event-stream"), "{text}");
    (events, text.ends_with("0\r\n\r\n"))
}

#[test]
fn the_demo_streams_tokens_then_done_as_asked() {
    let mut knobs = Knobs::default();
    knobs.endpoints.insert(
        "/api/v1/completions".into(),
        Knob {
            latency: Duration::from_millis(150),
            ..Knob::default()
        },
    );
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let (events, whole) = stream(
        &demo,
        r#"{"prompt":"hi","stream":true,"max_tokens":5,"token_ms":40}"#,
    );
    assert!(whole);
    let data: Vec<&str> = events.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(data.len(), 6, "{data:?}");
    assert_eq!(data[5], "[DONE]");
    assert!(data[0].contains("\"index\":0"), "{data:?}");
    // The first token waits for the knob's latency; the others come token_ms apart.
    let first = events[0].1;
    assert!(first >= Duration::from_millis(150), "{first:?}");
    for pair in events[..5].windows(2) {
        let gap = pair[1].1 - pair[0].1;
        assert!(gap >= Duration::from_millis(35), "{gap:?}");
    }
    assert_eq!(demo.tokens_sent(), 5);

    // A stall before token 2, then a cut before token 3: no [DONE], no clean end.
    let ask =
        r#"{"stream":true,"max_tokens":6,"token_ms":10,"stall_at":2,"stall_ms":300,"cut_at":3}"#;
    let (events, whole) = stream(&demo, ask);
    assert!(!whole, "the connection was cut mid-stream");
    let data: Vec<&str> = events.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(data.len(), 3, "{data:?}");
    assert!(!data.contains(&"[DONE]"));
    let stalled = events[2].1 - events[1].1;
    assert!(stalled >= Duration::from_millis(300), "{stalled:?}");
    assert_eq!(demo.tokens_sent(), 5 + 3);
    assert_eq!(demo.served_on("/api/v1/completions"), 2);
}
