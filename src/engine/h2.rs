//! HTTP/2 on a user's connection, with the `h2` crate (hyper's HTTP/2): when TLS
//! negotiated `h2` by ALPN, or in cleartext by prior knowledge (`[target] http = "2"`).
//! The request the engine wrote as HTTP/1.1 bytes (once, for a static request) is read
//! back into an HTTP/2 request, so templates, cookies and redirects stay one code path;
//! the response comes back in the same `Response` the HTTP/1.1 reader makes.

use std::time::Instant;

use bytes::Bytes;
use h2::client::SendRequest;

use super::connect::{io_failure, Stream};
use super::http::Keep;
use super::response::{Extra, Response};
use crate::config::Target;
use crate::metrics::Failure;

/// A user's HTTP/2 connection: where its requests go. The connection itself is driven
/// by a task of the worker's own.
pub type Sender = SendRequest<Bytes>;

/// The HTTP/2 handshake on a new connection.
pub async fn handshake(stream: Stream) -> Result<Sender, Failure> {
    let (send, connection) = h2::client::handshake(stream).await.map_err(failure)?;
    tokio::task::spawn_local(async move {
        // Ends with the connection: closed by the server, GOAWAY, or every sender gone.
        let _ = connection.await;
    });
    Ok(send)
}

/// How an exchange failed, and whether the connection is done for.
pub struct Failed {
    pub failure: Failure,
    /// Not a single stream's reset: open a new connection for the next request.
    pub reconnect: bool,
    /// The server said (GOAWAY, REFUSED_STREAM) it did not process this request: safe
    /// to send again.
    pub unprocessed: bool,
}

/// Sends the HTTP/1.1-encoded `request` as an HTTP/2 request on `send` and reads the
/// whole response, keeping what `keep` asks (the body into `body`, up to `max_body`).
pub async fn exchange(
    send: Sender,
    origin: &Result<Origin, String>,
    request: &[u8],
    keep: Keep<'_>,
    max_body: usize,
    body: &mut Vec<u8>,
) -> Result<Response, Failed> {
    let origin = origin.as_ref().map_err(|e| Failed {
        failure: Failure::Protocol(format!("cannot send as HTTP/2: bad authority: {e}")),
        reconnect: false,
        unprocessed: false,
    })?;
    let (req, payload) = to_http2(origin, request).map_err(|f| Failed {
        failure: f,
        reconnect: false,
        unprocessed: false,
    })?;
    let mut send = send.ready().await.map_err(failed)?;
    let (response, mut stream) = send.send_request(req, payload.is_empty()).map_err(failed)?;
    if !payload.is_empty() {
        stream
            .send_data(Bytes::copy_from_slice(payload), true)
            .map_err(failed)?;
    }
    let response = response.await.map_err(failed)?;
    let first_byte = Instant::now();
    let status = response.status().as_u16();
    let headers = response.headers();
    let mut extra = None::<Box<Extra>>;
    if let Some(location) = headers.get("location").and_then(|v| v.to_str().ok()) {
        extra.get_or_insert_default().location = Some(location.to_string());
    }
    for cookie in headers.get_all("set-cookie") {
        let value = String::from_utf8_lossy(cookie.as_bytes()).into_owned();
        extra.get_or_insert_default().set_cookies.push(value);
    }
    for (i, name) in keep.headers.iter().enumerate() {
        if let Some(v) = headers.get(name.as_str()) {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            extra.get_or_insert_default().captured.push((i, value));
        }
    }
    let grpc_status = |h: &http::HeaderMap| {
        let v = h.get("grpc-status")?.to_str().ok()?;
        Some(v.trim().parse::<u32>().unwrap_or(2)) // unreadable: UNKNOWN
    };
    if keep.grpc {
        // An answer of headers only (an error at once) carries its status there.
        if let Some(code) = grpc_status(headers) {
            extra.get_or_insert_default().grpc_status = Some(code);
        }
    }
    let cap = if keep.body { max_body } else { 0 };
    let mut recv = response.into_body();
    let (mut body_bytes, mut body_cut) = (0u64, false);
    let mut frames = super::grpc::Frames::default();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.map_err(failed)?;
        if keep.messages {
            let times = &mut extra.get_or_insert_default().messages;
            frames.feed(&chunk, Instant::now(), times);
        }
        body_bytes += chunk.len() as u64;
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        body_cut |= keep.body && chunk.len() > room;
        // Read: the server may send as much again.
        let _ = recv.flow_control().release_capacity(chunk.len());
    }
    if keep.grpc {
        if let Some(code) = recv
            .trailers()
            .await
            .map_err(failed)?
            .as_ref()
            .and_then(grpc_status)
        {
            extra.get_or_insert_default().grpc_status = Some(code);
        }
    }
    Ok(Response {
        status,
        body_bytes,
        first_byte,
        extra,
        body_cut,
    })
}

/// The scheme and authority of a target's HTTP/2 requests, parsed once.
#[derive(Clone)]
pub struct Origin {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Origin {
    pub fn of(target: &Target) -> Result<Origin, String> {
        let scheme = match target.tls {
            true => http::uri::Scheme::HTTPS,
            false => http::uri::Scheme::HTTP,
        };
        let authority = target.authority.parse().map_err(|e| format!("{e}"))?;
        Ok(Origin { scheme, authority })
    }
}

/// The HTTP/2 request for an HTTP/1.1-encoded one, and its body. Headers HTTP/2 does
/// not carry (Host, which becomes :authority, and the connection's own) are left out.
/// Built part by part: a request's own cost here showed in profiles (a formatted URI,
/// a lowercased copy of each header name).
fn to_http2<'r>(
    origin: &Origin,
    request: &'r [u8],
) -> Result<(http::Request<()>, &'r [u8]), Failure> {
    let bad = |why: String| Failure::Protocol(format!("cannot send as HTTP/2: {why}"));
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    let head = match parsed.parse(request) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(bad("incomplete request".into())),
        Err(e) => return Err(bad(e.to_string())),
    };
    let method = parsed.method.unwrap_or("GET").as_bytes();
    let path = parsed.path.unwrap_or("/");
    let mut uri = http::uri::Parts::default();
    uri.scheme = Some(origin.scheme.clone());
    uri.authority = Some(origin.authority.clone());
    uri.path_and_query = Some(path.parse().map_err(|e| bad(format!("{e}")))?);
    let mut req = http::Request::new(());
    *req.method_mut() = http::Method::from_bytes(method).map_err(|e| bad(e.to_string()))?;
    *req.uri_mut() = http::Uri::from_parts(uri).map_err(|e| bad(e.to_string()))?;
    let into = req.headers_mut();
    into.reserve(parsed.headers.len());
    for h in parsed.headers.iter() {
        // `te: trailers` is the one TE HTTP/2 carries (gRPC sends it).
        let te_trailers = h.name.eq_ignore_ascii_case("te") && h.value == b"trailers";
        let connection_specific = ["host", "connection", "keep-alive", "proxy-connection"]
            .into_iter()
            .chain(["transfer-encoding", "upgrade", "te"])
            .any(|n| h.name.eq_ignore_ascii_case(n))
            && !te_trailers;
        if !connection_specific {
            // Names are lowercased as they are parsed (HTTP/2 wants them so).
            let name = http::HeaderName::from_bytes(h.name.as_bytes());
            let value = http::HeaderValue::from_bytes(h.value);
            match (name, value) {
                (Ok(name), Ok(value)) => into.append(name, value),
                _ => return Err(bad(format!("header {:?}", h.name))),
            };
        }
    }
    Ok((req, &request[head..]))
}

fn failed(e: h2::Error) -> Failed {
    // A GOAWAY, or REFUSED_STREAM, from the server: the request was not processed
    // (RFC 9113, 8.7), so it may be sent again.
    let refused = e.reason() == Some(h2::Reason::REFUSED_STREAM);
    let unprocessed = e.is_remote() && (e.is_go_away() || refused);
    Failed {
        reconnect: !e.is_reset() || e.is_go_away(),
        unprocessed,
        failure: failure(e),
    }
}

/// The failure an HTTP/2 error is: a reset stream or a GOAWAY with its reason
/// (`RST_STREAM: REFUSED_STREAM`), or the connection's own error.
fn failure(e: h2::Error) -> Failure {
    if let Some(reason) = e.reason() {
        let what = if e.is_go_away() {
            "GOAWAY"
        } else {
            "RST_STREAM"
        };
        return Failure::Protocol(format!("{what}: {reason:?}"));
    }
    if e.is_io() {
        if let Some(io) = e.into_io() {
            return io_failure(io);
        }
        return Failure::Reset;
    }
    Failure::Protocol(e.to_string())
}
