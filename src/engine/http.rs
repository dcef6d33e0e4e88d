//! A lean HTTP/1.1 client connection: one per virtual user, kept alive (or HTTP/2 on
//! it, through `h2.rs`, when the target speaks it).
//!
//! Request bytes are written from a buffer the caller reuses; responses are parsed
//! with httparse out of one read buffer (Content-Length, chunked, or read-to-close
//! bodies), which a connection holds only while a request is on it. Redirects are
//! followed and a cookie jar is kept per connection (one per virtual user). Nothing here
//! allocates per request in the steady state unless the caller keeps the body or
//! headers, or cookies or redirects are in play.

use std::io;
use std::mem::MaybeUninit;
use std::time::{Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::{io_failure, Stream};
use super::connector::Connector;
use super::cookies::{path_of, Jar};
use super::h2;
use super::response::{capture, chunk_span, framing, Framing, Response};
use crate::config::Target;
use crate::metrics::Failure;

impl Connector {
    /// A request on one of the shared HTTP/2 connections, in turn (streams wait for the
    /// server's SETTINGS_MAX_CONCURRENT_STREAMS); a connection made when its slot has
    /// none, and dropped when it fails.
    /// `counts`: the requesting user's retries and HTTP/2 connections made, counted on.
    async fn exchange_pooled(
        &self,
        request: &[u8],
        keep: Keep<'_>,
        body: &mut Vec<u8>,
        counts: (&mut u64, &mut u64),
    ) -> H2 {
        let (retries, http2_connects) = counts;
        let mut connect_us = None;
        for attempt in 0..H2_ATTEMPTS {
            let i = self.next.get();
            self.next.set((i + 1) % self.pool.len());
            let send = {
                let mut slot = self.pool[i].lock().await;
                match slot.as_ref() {
                    Some(send) => send.clone(),
                    None => {
                        let t0 = Instant::now();
                        let made = match self.dialer.connect().await {
                            Ok(stream) => h2::handshake(stream).await,
                            Err(f) => Err(f),
                        };
                        match made {
                            Ok(send) => {
                                connect_us = Some(t0.elapsed().as_micros() as u64);
                                *http2_connects += 1;
                                *slot = Some(send.clone());
                                send
                            }
                            Err(f) => return H2::Done(connect_us, Err(f)),
                        }
                    }
                }
            };
            match h2::exchange(send, &self.origin, request, keep, self.max_body, body).await {
                Ok(resp) => return H2::Done(connect_us, Ok(resp)),
                Err(e) => {
                    if e.reconnect {
                        *self.pool[i].lock().await = None;
                    }
                    if !(e.unprocessed && attempt + 1 < H2_ATTEMPTS) {
                        return H2::Done(connect_us, Err(e.failure));
                    }
                    *retries += 1;
                    body.clear();
                }
            }
        }
        unreachable!("the last attempt always returns")
    }
}

/// One keep-alive connection, and a read buffer while a request is on it.
#[derive(Default)]
pub struct Conn {
    stream: Option<Stream>,
    /// The user's cookies: they outlive the connection, as a browser session's do.
    jar: Jar,
    /// Empty between requests (see `Connector::buffers`).
    buf: Vec<u8>,
    /// Unconsumed bytes are buf[start..end].
    start: usize,
    end: usize,
    /// Requests sent a second time since `take_counts` (see `Stats::retries`).
    retries: u64,
    /// HTTP/2 connections made since `take_counts` (see `Stats::http2_connections`).
    http2_connects: u64,
    /// The user's HTTP/2 connection, when it has one (then `stream` is None, but for a
    /// user whose gRPC calls speak HTTP/2 beside its HTTP/1.1 requests).
    h2: Option<h2::Sender>,
}

const MAX_HEADERS: usize = 64;
/// Sends of one request over HTTP/2 while the server says it did not process it (a
/// GOAWAY, a REFUSED_STREAM): the second may meet the connection the GOAWAY ended,
/// the third goes on a new one.
const H2_ATTEMPTS: usize = 3;
const MAX_HEAD_BYTES: usize = 1 << 20;

impl Conn {
    pub fn close(&mut self) {
        self.stream = None;
        self.h2 = None;
        self.start = 0;
        self.end = 0;
    }

    /// The requests sent a second time, and the HTTP/2 connections made, since the
    /// last call.
    pub fn take_counts(&mut self) -> (u64, u64) {
        (
            std::mem::take(&mut self.retries),
            std::mem::take(&mut self.http2_connects),
        )
    }

    /// Forgets the user's cookies: a new visitor on the same connection.
    pub fn forget_cookies(&mut self) {
        self.jar = Jar::default();
    }

    /// Sends `request` and reads the whole response, following redirects (up to
    /// `[target] max_redirects`: the final response answers the request). The body is
    /// appended to `body` when `keep.body`; the headers named in `keep.headers` are kept
    /// in the response. Returns the connect time in µs when a new connection
    /// was made.
    pub async fn exchange(
        &mut self,
        connector: &Connector,
        request: &[u8],
        head_only: bool,
        keep: Keep<'_>,
        body: &mut Vec<u8>,
    ) -> (Option<u64>, Result<Response, Failure>) {
        if self.buf.is_empty() {
            self.buf = connector.take_buffer();
        }
        let mut connect = None;
        // The request that follows a redirect: nothing is allocated before one.
        let mut redirected = Vec::new();
        let mut hops = 0;
        let r = loop {
            // The request as the user wrote it; sent with the jar's cookies added.
            let own = if hops == 0 { request } else { &redirected };
            let with_cookies = if self.jar.is_empty() {
                None
            } else {
                self.jar.add_to(own, SystemTime::now())
            };
            let sending = with_cookies.as_deref().unwrap_or(own);
            let (c, r) = self
                .exchange_with_buffer(connector, sending, head_only, keep, body)
                .await;
            connect = connect.or(c);
            if let Ok(resp) = &r {
                if connector.cookies && !resp.set_cookies().is_empty() {
                    self.keep_cookies(own, resp.set_cookies(), &connector.target);
                }
            }
            match r {
                Ok(resp) if connector.follows(&resp) => {
                    // From the request without the jar's cookies: the next one gets the
                    // jar's cookies then, those this redirect set included.
                    match connector.redirect(own, &resp, hops) {
                        Ok(next) => redirected = next,
                        Err(f) => break Err(f),
                    }
                    body.clear();
                    hops += 1;
                }
                r => break r,
            }
        };
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            connector.give_buffer(std::mem::take(&mut self.buf));
        }
        (connect, r)
    }

    #[inline(never)]
    fn keep_cookies(&mut self, sent: &[u8], set_cookies: &[String], target: &Target) {
        let now = SystemTime::now();
        for value in set_cookies {
            self.jar.set(value, path_of(sent), target, now);
        }
    }

    async fn exchange_with_buffer(
        &mut self,
        connector: &Connector,
        request: &[u8],
        head_only: bool,
        keep: Keep<'_>,
        body: &mut Vec<u8>,
    ) -> (Option<u64>, Result<Response, Failure>) {
        let mut connect_us = None;
        let mut fresh = false;
        // HTTP/2, when the target may speak it: out of line (boxed), so the HTTP/1.1
        // path's future does not grow by it.
        // A gRPC call goes over HTTP/2 whatever the rest does (on a connection of its
        // own beside the user's HTTP/1.1 one, under `http = "auto"` in cleartext).
        if (connector.http2 && self.stream.is_none()) || keep.grpc {
            match Box::pin(self.exchange_h2(connector, request, keep, body)).await {
                H2::Done(c, r) => return (c, r),
                H2::Http1(c) => (connect_us, fresh) = (c, true),
            }
        }
        // A kept-alive connection the server already closed fails on first use: retry
        // once on a fresh one, since the server never saw that request.
        for attempt in 0..2 {
            let reused = self.stream.is_some() && !(fresh && attempt == 0);
            if self.stream.is_none() {
                let t0 = Instant::now();
                match connector.dialer.connect().await {
                    Ok(s) => self.stream = Some(s),
                    Err(f) => return (connect_us, Err(f)),
                }
                connect_us = Some(t0.elapsed().as_micros() as u64);
                self.start = 0;
                self.end = 0;
            }
            match self
                .send_and_read(request, head_only, keep, connector.max_body, body)
                .await
            {
                Ok(r) => {
                    if !connector.keep_alive {
                        self.close();
                    }
                    return (connect_us, Ok(r));
                }
                Err((f, got_bytes)) => {
                    self.close();
                    // As Go's net/http: only a request that may be repeated (an
                    // idempotent method), and only when nothing of an answer came.
                    let stale = reused && !got_bytes && f == Failure::Reset;
                    if !(stale && attempt == 0 && idempotent(request)) {
                        return (connect_us, Err(f));
                    }
                    self.retries += 1;
                    body.clear();
                }
            }
        }
        unreachable!("the second attempt always returns")
    }

    /// A request on the user's HTTP/2 connection, made first if need be; or, when the
    /// new connection did not negotiate HTTP/2, that connection kept for HTTP/1.1.
    async fn exchange_h2(
        &mut self,
        connector: &Connector,
        request: &[u8],
        keep: Keep<'_>,
        body: &mut Vec<u8>,
    ) -> H2 {
        if !connector.pool.is_empty() {
            let counts = (&mut self.retries, &mut self.http2_connects);
            return connector.exchange_pooled(request, keep, body, counts).await;
        }
        let mut connect_us = None;
        for attempt in 0..H2_ATTEMPTS {
            let send = match &self.h2 {
                Some(send) => send.clone(),
                None => {
                    let t0 = Instant::now();
                    let stream = match connector.dialer.connect().await {
                        Ok(s) => s,
                        Err(f) => return H2::Done(connect_us, Err(f)),
                    };
                    if !connector.dialer.speaks_h2(&stream, keep.grpc) {
                        self.stream = Some(stream);
                        self.start = 0;
                        self.end = 0;
                        return H2::Http1(Some(t0.elapsed().as_micros() as u64));
                    }
                    let send = match h2::handshake(stream).await {
                        Ok(send) => send,
                        Err(f) => return H2::Done(connect_us, Err(f)),
                    };
                    connect_us = Some(t0.elapsed().as_micros() as u64);
                    self.http2_connects += 1;
                    self.h2 = Some(send.clone());
                    send
                }
            };
            let r = h2::exchange(
                send,
                &connector.origin,
                request,
                keep,
                connector.max_body,
                body,
            )
            .await;
            match r {
                Ok(resp) => {
                    if !connector.keep_alive {
                        self.close();
                    }
                    return H2::Done(connect_us, Ok(resp));
                }
                Err(e) => {
                    if e.reconnect {
                        self.h2 = None;
                    }
                    // After a GOAWAY the server has not seen this request: once more,
                    // on a new connection.
                    if !(e.unprocessed && attempt + 1 < H2_ATTEMPTS) {
                        return H2::Done(connect_us, Err(e.failure));
                    }
                    self.retries += 1;
                    body.clear();
                }
            }
        }
        unreachable!("the last attempt always returns")
    }

    async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let stream = self.stream.as_mut().expect("connected");
        let n = stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// On error also says whether any response byte had arrived.
    async fn send_and_read(
        &mut self,
        request: &[u8],
        head_only: bool,
        keep: Keep<'_>,
        max_body: usize,
        body: &mut Vec<u8>,
    ) -> Result<Response, (Failure, bool)> {
        let stream = self.stream.as_mut().expect("connected");
        stream
            .write_all(request)
            .await
            .map_err(|e| (io_failure(e), false))?;
        stream.flush().await.map_err(|e| (io_failure(e), false))?;

        let mut first_byte = None;
        let (status, framing, close, head_len, extra) = loop {
            if self.start < self.end {
                // Uninitialised: zeroing 64 headers cost more than parsing a small head.
                let mut headers = [const { MaybeUninit::uninit() }; MAX_HEADERS];
                let mut resp = httparse::Response::new(&mut []);
                match httparse::ParserConfig::default().parse_response_with_uninit_headers(
                    &mut resp,
                    &self.buf[self.start..self.end],
                    &mut headers,
                ) {
                    Ok(httparse::Status::Complete(n)) => {
                        let status = resp.code.unwrap_or(0);
                        // An interim response (103 Early Hints, 100 Continue) comes
                        // before the final one, which answers the request.
                        if (100..200).contains(&status) && status != 101 {
                            self.start += n;
                            continue;
                        }
                        let (framing, close, mut extra) =
                            framing(&resp, head_only).map_err(|f| (f, true))?;
                        if !keep.headers.is_empty() {
                            capture(&resp, keep.headers, &mut extra);
                        }
                        break (status, framing, close, n, extra);
                    }
                    Ok(httparse::Status::Partial) if self.end - self.start > MAX_HEAD_BYTES => {
                        return Err((Failure::Protocol("response head over 1 MiB".into()), true));
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => return Err((Failure::Protocol(e.to_string()), true)),
                }
            }
            let n = self
                .fill()
                .await
                .map_err(|e| (io_failure(e), first_byte.is_some()))?;
            if n == 0 {
                return Err((Failure::Reset, first_byte.is_some()));
            }
            first_byte.get_or_insert_with(Instant::now);
        };
        let first_byte = first_byte.unwrap_or_else(Instant::now);
        self.start += head_len;
        let cap = if keep.body { max_body } else { 0 };
        let body_bytes = self
            .read_body(framing, cap, body)
            .await
            .map_err(|f| (f, true))?;
        if close {
            self.close();
        }
        Ok(Response {
            status,
            body_bytes,
            first_byte,
            extra,
            body_cut: keep.body && body_bytes > body.len() as u64,
        })
    }

    /// Reads the body, keeping up to `cap` bytes of it; says how many bytes it had.
    async fn read_body(
        &mut self,
        framing: Framing,
        cap: usize,
        body: &mut Vec<u8>,
    ) -> Result<u64, Failure> {
        // Most requests keep nothing: then nothing is called per read.
        let keep = |body: &mut Vec<u8>, bytes: &[u8]| {
            if cap > 0 {
                let room = cap.saturating_sub(body.len());
                body.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        };
        let mut read = 0u64;
        match framing {
            Framing::Length(mut left) => {
                read = left;
                while left > 0 {
                    if self.start == self.end && self.fill().await.map_err(io_failure)? == 0 {
                        return Err(Failure::Reset);
                    }
                    let take = left.min((self.end - self.start) as u64) as usize;
                    keep(body, &self.buf[self.start..self.start + take]);
                    self.start += take;
                    left -= take as u64;
                }
            }
            Framing::Chunked => loop {
                let size = loop {
                    match httparse::parse_chunk_size(&self.buf[self.start..self.end]) {
                        Ok(httparse::Status::Complete((n, size))) => {
                            self.start += n;
                            break size;
                        }
                        Ok(httparse::Status::Partial) => {
                            if self.fill().await.map_err(io_failure)? == 0 {
                                return Err(Failure::Reset);
                            }
                        }
                        Err(_) => return Err(Failure::Protocol("bad chunk size".into())),
                    }
                };
                // Chunk data then CRLF; the last chunk (size 0) is followed by
                // optional trailers and a blank line.
                if size == 0 {
                    return self.skip_trailers().await.map(|()| read);
                }
                let mut left = chunk_span(size)?;
                read = read.saturating_add(size);
                while left > 0 {
                    if self.start == self.end && self.fill().await.map_err(io_failure)? == 0 {
                        return Err(Failure::Reset);
                    }
                    let take = left.min((self.end - self.start) as u64) as usize;
                    let data_end = take.min((left.saturating_sub(2)) as usize);
                    keep(body, &self.buf[self.start..self.start + data_end]);
                    self.start += take;
                    left -= take as u64;
                }
            },
            Framing::UntilClose => loop {
                if self.start < self.end {
                    keep(body, &self.buf[self.start..self.end]);
                    read += (self.end - self.start) as u64;
                    self.start = self.end;
                }
                if self.fill().await.map_err(io_failure)? == 0 {
                    return Ok(read);
                }
            },
        }
        Ok(read)
    }

    async fn skip_trailers(&mut self) -> Result<(), Failure> {
        loop {
            let pending = &self.buf[self.start..self.end];
            if let Some(i) = pending.windows(2).position(|w| w == b"\r\n") {
                self.start += i + 2;
                if i == 0 {
                    return Ok(());
                }
                continue;
            }
            if self.fill().await.map_err(io_failure)? == 0 {
                return Err(Failure::Reset);
            }
        }
    }
}

/// How a request on HTTP/2 went: done (its connect time and outcome), or the new
/// connection speaks HTTP/1.1 (its connect time), kept in `Conn::stream`.
enum H2 {
    Done(Option<u64>, Result<Response, Failure>),
    Http1(Option<u64>),
}

/// What of a response the caller keeps besides its status.
#[derive(Clone, Copy)]
pub struct Keep<'a> {
    /// The body (for checks and extraction).
    pub body: bool,
    /// Headers by lowercase name (for extraction).
    pub headers: &'a [String],
    /// A gRPC call: its `grpc-status` read (from the trailers), and with `messages` the
    /// time each message of the answer arrived.
    pub grpc: bool,
    pub messages: bool,
}

/// Whether a request may be sent twice without changing what it does (RFC 9110 9.2.2).
fn idempotent(request: &[u8]) -> bool {
    [
        &b"GET "[..],
        b"HEAD ",
        b"OPTIONS ",
        b"TRACE ",
        b"PUT ",
        b"DELETE ",
    ]
    .iter()
    .any(|m| request.starts_with(m))
}
