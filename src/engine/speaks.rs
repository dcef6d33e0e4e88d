//! Before any load, on a cleartext target reached directly: does the server speak the
//! HTTP the plan will? HTTP/1.1 against a server that speaks only HTTP/2 (h2c), or h2c
//! against one that speaks only HTTP/1.1, would fail every request with a reason that
//! names a symptom (`invalid HTTP version`, `GOAWAY: FRAME_SIZE_ERROR`), not the cause.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::config::{HttpVersion, Plan};

/// HTTP/2's connection preface and an empty SETTINGS frame: what an h2c client sends first.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// The start of an HTTP/1.1 request, never finished: longer than HTTP/2's preface, so an
/// h2c-only server knows it is not one, while an HTTP/1.1 server waits for the rest.
const HEAD: &[u8] = b"GET / HTTP/1.1\r\nuser-agent: perfgate-protocol-probe\r\n";

/// Checks the server on `tcp` (just connected, in `rtt`) against the plan's HTTP, on
/// this one connection before any load. For HTTP/1.1 the start of a request is sent: an
/// h2c-only server answers with its SETTINGS (and a GOAWAY), an HTTP/1.1 one waits for
/// the rest, which never comes (nginx logs it as a 400). For h2c the preface is sent: an
/// HTTP/1.1 server answers it with an HTTP/1.1 error. Anything else (silence, a close)
/// is left to the run to count.
pub fn check(plan: &Plan, mut tcp: TcpStream, rtt: Duration) -> Result<(), String> {
    if plan.target.tls || plan.proxy.is_some() {
        return Ok(());
    }
    let wait = (rtt * 4).max(Duration::from_millis(50));
    let h2c = plan.http == HttpVersion::H2;
    if tcp.write_all(if h2c { PREFACE } else { HEAD }).is_err() {
        return Ok(());
    }
    let first = read_some(&mut tcp, wait);
    let url = plan.target.url();
    match (h2c, first.as_slice()) {
        (true, answer) if answer.starts_with(b"HTTP/1.") => Err(format!(
            "the server at {url} does not speak HTTP/2 in cleartext (h2c): it answered HTTP/1.1 to HTTP/2's preface; set [target] http = \"1.1\" (or --http 1.1)"
        )),
        (false, answer) if is_h2_frame(answer) => Err(format!(
            "the server at {url} speaks only HTTP/2 in cleartext (h2c): it answered HTTP/1.1 with HTTP/2's SETTINGS; set [target] http = \"2\" (or --http 2)"
        )),
        _ => Ok(()),
    }
}

/// What the server sends within `wait` (at most 64 bytes; nothing on a timeout or close).
fn read_some(tcp: &mut TcpStream, wait: Duration) -> Vec<u8> {
    let mut buf = [0u8; 64];
    if tcp.set_read_timeout(Some(wait)).is_err() {
        return Vec::new();
    }
    match tcp.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

/// An HTTP/2 frame header on stream 0 of type SETTINGS (a server's first words) or
/// GOAWAY (its last, to a client that did not send the preface).
fn is_h2_frame(b: &[u8]) -> bool {
    let on_stream_0 = b.len() >= 9 && b[5..9] == [0, 0, 0, 0];
    on_stream_0 && matches!((b[3], b[4]), (0x04, 0 | 1) | (0x07, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http2_frame_is_told_from_an_http1_answer() {
        assert!(is_h2_frame(b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x03"));
        assert!(is_h2_frame(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"));
        assert!(is_h2_frame(b"\x00\x00\x08\x07\x00\x00\x00\x00\x00"));
        assert!(!is_h2_frame(b"HTTP/1.1 400 Bad Request\r\n"));
        assert!(!is_h2_frame(b"\x00\x00\x00\x04"));
        // Another type, or a frame on a stream, is not what a server says first.
        assert!(!is_h2_frame(b"\x00\x00\x08\x01\x00\x00\x00\x00\x00"));
        assert!(!is_h2_frame(b"\x00\x00\x00\x04\x00\x00\x00\x00\x01"));
    }
}
