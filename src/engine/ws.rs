//! WebSocket sessions of a task, with `tokio-tungstenite` over the engine's own
//! connection (TCP, TLS offering only HTTP/1.1, the proxy's tunnel): opened by a step
//! `ws = "/path"`, used by steps that `send` and wait to `receive`, closed by `close =
//! true` or at the end of the task.

use std::time::{Duration, Instant};

use minijinja::Value;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::WebSocketStream;

use super::connect::{io_failure, Dialer, Stream};
use super::record::{failed, unsent};
use super::request::{body_meets, extract};
use super::response::Response;
use super::user::Sent;
use super::worker::Worker;
use crate::config::{PlannedStep, Target, Text, WsStep};
use crate::metrics::Failure;

/// An open session (boxed where it is kept: it is large, and most users have none).
pub type Session = WebSocketStream<Stream>;

/// Says whether a message is the one waited for.
pub type Wanted<'a> = dyn Fn(&[u8]) -> bool + 'a;

/// Messages a step sent and received.
#[derive(Default)]
pub struct Counts {
    pub sent: u64,
    pub received: u64,
}

/// A new connection and the upgrade on `path`, `headers` sent with it; the session and
/// the connection's own time (TCP and TLS), µs.
pub async fn open(
    dialer: &Dialer,
    target: &Target,
    path: &str,
    headers: &[(String, String)],
) -> Result<(Box<Session>, u64), Failure> {
    let t0 = std::time::Instant::now();
    let stream = dialer.connect_http1().await?;
    let connect_us = t0.elapsed().as_micros() as u64;
    let scheme = if target.tls { "wss" } else { "ws" };
    let mut request = format!("{scheme}://{}{path}", target.authority)
        .into_client_request()
        .map_err(failure)?;
    // The proxy's credentials went in the tunnel's CONNECT: never to the target.
    let to_target = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("proxy-authorization"));
    for (name, value) in to_target {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Failure::Template(format!("header {name:?}: {e}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|e| Failure::Template(format!("header {name}: {e}")))?;
        request.headers_mut().insert(name, value);
    }
    let (session, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(failure)?;
    Ok((Box::new(session), connect_us))
}

/// Sends `text`, if any; then, with `receive`, reads messages until one it wants (kept
/// in `got`). Pings are answered as they come.
pub async fn exchange(
    session: &mut Session,
    text: Option<&str>,
    receive: Option<&Wanted<'_>>,
    got: &mut Vec<u8>,
    counts: &mut Counts,
) -> Result<(), Failure> {
    if let Some(text) = text {
        session.send(Message::text(text)).await.map_err(failure)?;
        counts.sent += 1;
    }
    let Some(want) = receive else {
        return Ok(());
    };
    loop {
        let bytes = match session.next().await {
            None => return Err(Failure::WebSocket("closed".into())),
            Some(Err(e)) => return Err(failure(e)),
            Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(Message::Close(frame))) => {
                return Err(Failure::WebSocket(match frame {
                    Some(f) => format!("closed by the server: {} {}", u16::from(f.code), f.reason),
                    None => "closed by the server".into(),
                }))
            }
            Some(Ok(_)) => continue, // ping, pong
        };
        counts.received += 1;
        if want(&bytes) {
            got.clear();
            got.extend_from_slice(&bytes);
            return Ok(());
        }
    }
}

/// Closes the session: a Close frame, then what the server still sends until its own
/// Close, for at most a second.
pub async fn close(mut session: Box<Session>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        if WebSocketStream::close(&mut *session, None).await.is_ok() {
            while let Some(Ok(_)) = session.next().await {}
        }
    })
    .await;
}

fn failure(e: Error) -> Failure {
    match e {
        Error::Io(io) => io_failure(io),
        Error::Http(response) => Failure::Status(response.status().as_u16()),
        Error::ConnectionClosed | Error::AlreadyClosed => Failure::WebSocket("closed".into()),
        e => Failure::WebSocket(e.to_string()),
    }
}

impl super::User {
    /// Runs WebSocket step `req` on this user's session; `start` is when its latency
    /// counts from. Says, as a request's record does, whether `repeat = { until }`
    /// wants it again (on the `last` send, an `until` still false fails it).
    pub(super) async fn ws_step(
        &mut self,
        w: &Worker,
        req: &PlannedStep,
        step: &WsStep,
        data: &Value,
        start: Instant,
        last: bool,
    ) -> Result<Sent, Failure> {
        let ctx = self.context(data);
        let render = |t: &Text| {
            let mut out = String::new();
            w.plan.templates.render(t, &ctx, &mut out).map(|()| out)
        };
        let endpoint = req.endpoint;
        let unsent_here = |f: Failure| {
            let f = w.redact(f);
            unsent(w, endpoint, &f);
            f
        };
        match step {
            WsStep::Close => {
                self.ws_close().await;
                Ok(Sent::Done)
            }
            WsStep::Open => {
                let mut headers = w.plan.headers.clone();
                let mut path = w.plan.target.base_path.clone();
                let rendered = render(&req.path).map(|p| path.push_str(&p)).and_then(|()| {
                    for (name, value) in &req.headers {
                        headers.push((name.clone(), render(value)?));
                    }
                    Ok(())
                });
                rendered.map_err(|e| unsent_here(Failure::Template(e)))?;
                self.ws_connect(w, endpoint, &path, &headers, start).await?;
                Ok(Sent::Done)
            }
            WsStep::Exchange { receive } => {
                let text = match &req.body {
                    Some(t) => Some(render(t).map_err(|e| unsent_here(Failure::Template(e)))?),
                    None => None,
                };
                let meets = receive
                    .as_ref()
                    .map(|e| move |message: &[u8]| body_meets(e, message).is_ok());
                let wanted = meets.as_ref().map(|f| f as &Wanted<'_>);
                let again = self
                    .ws_converse(w, endpoint, text.as_deref(), wanted, start, |u| {
                        u.received(w, req, data, last)
                    })
                    .await?;
                Ok(if again { Sent::Again } else { Sent::Done })
            }
        }
    }

    /// Opens the user's session on `path` (closing one open before), recorded on
    /// `endpoint` from `start`: connect and upgrade time, or the failure.
    pub(super) async fn ws_connect(
        &mut self,
        w: &Worker,
        endpoint: usize,
        path: &str,
        headers: &[(String, String)],
        start: Instant,
    ) -> Result<(), Failure> {
        self.ws_close().await;
        // Its own timer: sharing the user's (`Timeout`) made the compiler stop inlining
        // it on the HTTP/1.1 path (callgrind).
        let due = tokio::time::Instant::from_std(start) + w.plan.timeout;
        let in_flight = w.take_off(endpoint);
        let result = tokio::select! {
            biased;
            r = open(&w.connector.dialer, &w.plan.target, path, headers) => Some(r),
            () = tokio::time::sleep_until(due) => None,
        };
        in_flight.land();
        let latency_us = start.elapsed().as_micros() as u64;
        let mut rec = w.recorder.borrow_mut();
        let f = match result {
            Some(Ok((session, connect_us))) => {
                rec.connected(endpoint, connect_us);
                rec.status(endpoint, 101);
                rec.success(endpoint, latency_us, latency_us);
                self.ws = Some(session);
                return Ok(());
            }
            Some(Err(f)) => f,
            None => Failure::Timeout,
        };
        let status = if let Failure::Status(s) = f { s } else { 0 };
        rec.status(endpoint, status);
        Err(failed(w, &mut rec, endpoint, latency_us, status > 0, f))
    }

    /// Sends `text` (if any) on the open session, then waits for a message `wanted`
    /// (if any; left in `self.body`), recorded on `endpoint` from `start` with the
    /// messages each way; `then` reads the message (what `repeat` says next). A session
    /// that failed is not used again.
    pub(super) async fn ws_converse(
        &mut self,
        w: &Worker,
        endpoint: usize,
        text: Option<&str>,
        wanted: Option<&Wanted<'_>>,
        start: Instant,
        then: impl FnOnce(&mut Self) -> Result<bool, Failure>,
    ) -> Result<bool, Failure> {
        let Some(session) = self.ws.as_mut() else {
            let f = Failure::WebSocket("no session open (opening it was skipped or failed)".into());
            unsent(w, endpoint, &f);
            return Err(f);
        };
        let due = tokio::time::Instant::from_std(start) + w.plan.timeout;
        let mut counts = Counts::default();
        let in_flight = w.take_off(endpoint);
        let result = tokio::select! {
            biased;
            r = exchange(session, text, wanted, &mut self.body, &mut counts) => Some(r),
            () = tokio::time::sleep_until(due) => None,
        };
        in_flight.land();
        let latency_us = start.elapsed().as_micros() as u64;
        w.recorder
            .borrow_mut()
            .messages(endpoint, counts.sent, counts.received);
        let outcome = match result {
            Some(Ok(())) => then(self),
            Some(Err(f)) => Err(f),
            None => Err(Failure::Timeout),
        };
        let mut rec = w.recorder.borrow_mut();
        match outcome {
            Ok(again) => {
                rec.success(endpoint, latency_us, latency_us);
                Ok(again)
            }
            Err(f) => {
                self.ws = None;
                Err(failed(w, &mut rec, endpoint, latency_us, true, f))
            }
        }
    }

    /// Closes this user's WebSocket session, if one is open (a Close frame, then what
    /// the server still sends until its own, for at most a second).
    pub async fn ws_close(&mut self) {
        if let Some(session) = self.ws.take() {
            close(session).await;
        }
    }

    /// After the awaited message came: its values extracted, and whether `until`
    /// wants the step again.
    fn received(
        &mut self,
        w: &Worker,
        req: &PlannedStep,
        data: &Value,
        last: bool,
    ) -> Result<bool, Failure> {
        if !req.extract.is_empty() {
            let message = Response {
                status: 101,
                body_bytes: self.body.len() as u64,
                first_byte: Instant::now(),
                extra: None,
                body_cut: false,
            };
            extract(req, &message, &self.body, &mut self.vars)?;
        }
        self.until(w, req, data, last)
    }
}
