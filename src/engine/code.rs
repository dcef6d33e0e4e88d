//! What a task written in Rust does with its user: requests on the user's own
//! connection (keep-alive, cookies, redirects, TLS, timeouts, named for per-endpoint
//! budgets, timed from the scheduled arrival in the open model), soft checks, numbers
//! recorded into histograms, feeders, variables and state of its own.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::http::Keep;
use super::request::{framing_safe, message_gaps, resolve};
use super::user::User;
use super::worker::Worker;
use crate::config::grpc::GrpcMethod;
use crate::metrics::Failure;

/// How a task written in Rust ends: `Err` fails it (the failure is counted against the
/// task, `task:NAME`, with its reason); `?` works on any error.
pub type Outcome = Result<(), Failure>;

/// A failure of user code, in its own words: `return Err(fail("no proof id"))`.
pub fn fail(why: impl std::fmt::Display) -> Failure {
    Failure::Code(why.to_string())
}

impl User {
    /// A GET of `path` (on the target: "/api/x", or a URL of the target's own).
    ///
    /// ```
    /// use perfgate::prelude::*;
    ///
    /// async fn poll(u: &mut User) -> Outcome {
    ///     let r = u.post("/api/jobs").json(&serde_json::json!({"n": 1}))
    ///         .keep_header("location").send().await?;
    ///     if r.status() == 202 {
    ///         // A header of the response: a borrowed path is fine.
    ///         u.get(r.header("location")?).name("job").send().await?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn get<'p>(&mut self, path: impl Into<Cow<'p, str>>) -> Request<'_, 'p> {
        Request::new(self, "GET".into(), path.into())
    }

    /// A gRPC call of `method` ("package.Service/Method" of the config's `[grpc]
    /// protos`), `message` its request: anything that serialises to the method's input
    /// message in protobuf's JSON mapping. It goes over HTTP/2 and is judged by its
    /// `grpc-status` (`Err(Failure::Grpc(code))` otherwise); the reply's body is the
    /// answer as JSON (`Reply::json`), a server stream's messages as an array. Its
    /// endpoint is the method's path (`/package.Service/Method`, method `GRPC`).
    pub fn grpc<T: Serialize + ?Sized>(&mut self, method: &str, message: &T) -> Request<'_, '_> {
        let call = self.w.grpc_method(method).and_then(|m| {
            let json = serde_json::to_string(message).map_err(|e| Failure::Code(e.to_string()))?;
            let message = super::grpc::message(&m, &json).map_err(Failure::Code)?;
            let mut body = Vec::new();
            super::grpc::frame(&message, &mut body);
            Ok((m, body))
        });
        let path = match &call {
            Ok((m, _)) => m.path.clone(),
            Err(_) => format!("/{}", method.trim_start_matches('/')),
        };
        let mut r = Request::new(self, "POST".into(), Cow::Owned(path));
        match call {
            Ok((m, body)) => {
                r.body = Some((body, Some("application/grpc")));
                r.headers.push(("te".into(), "trailers".into()));
                r.grpc = Some(Ok(m));
            }
            Err(f) => r.grpc = Some(Err(f)),
        }
        r
    }

    /// Opens a WebSocket session on `path` of the target (closing one this user had
    /// open): a connection of its own, then the upgrade with `[target] headers`. Timed
    /// on the endpoint `path` (method `WS`); a refused upgrade is `Err(Failure::Status)`.
    /// The session closes when the task ends, or with `ws_close`.
    pub async fn ws_open(&mut self, path: &str) -> Result<(), Failure> {
        let w = self.w.clone();
        let endpoint = self.ws_endpoint(&w, path)?;
        let start = self.due.take().unwrap_or_else(Instant::now);
        let full = format!("{}{path}", w.plan.target.base_path);
        self.ws_connect(&w, endpoint, &full, &w.plan.headers, start)
            .await
    }

    /// Sends `text` (when given) on the open session, then reads messages until one
    /// `wanted` says yes to, and returns it: the round trip timed on the endpoint
    /// `name` (method `WS`), the messages each way counted. A session closed by the
    /// server, or a timeout (`[target] timeout`), is `Err`, and the session is gone.
    pub async fn ws_exchange(
        &mut self,
        name: &str,
        text: Option<&str>,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<String, Failure> {
        let w = self.w.clone();
        let endpoint = self.ws_endpoint(&w, name)?;
        let start = self.due.take().unwrap_or_else(Instant::now);
        let wanted = |message: &[u8]| std::str::from_utf8(message).is_ok_and(&wanted);
        self.ws_converse(&w, endpoint, text, Some(&wanted), start, |_| Ok(false))
            .await?;
        Ok(String::from_utf8_lossy(&self.body).into_owned())
    }

    /// The endpoint a WebSocket call records on, while the run goes on.
    fn ws_endpoint(&mut self, w: &Worker, name: &str) -> Result<usize, Failure> {
        if !self.stopping && !w.running() {
            return Err(Failure::Code("the run is stopping".into()));
        }
        let endpoint = w.endpoint_id(name, "WS");
        self.last = Some(endpoint);
        Ok(endpoint)
    }

    pub fn post<'p>(&mut self, path: impl Into<Cow<'p, str>>) -> Request<'_, 'p> {
        Request::new(self, "POST".into(), path.into())
    }

    pub fn put<'p>(&mut self, path: impl Into<Cow<'p, str>>) -> Request<'_, 'p> {
        Request::new(self, "PUT".into(), path.into())
    }

    pub fn delete<'p>(&mut self, path: impl Into<Cow<'p, str>>) -> Request<'_, 'p> {
        Request::new(self, "DELETE".into(), path.into())
    }

    /// A request with any method.
    pub fn request<'p>(
        &mut self,
        method: impl Into<Cow<'p, str>>,
        path: impl Into<Cow<'p, str>>,
    ) -> Request<'_, 'p> {
        Request::new(self, method.into(), path.into())
    }

    /// This user's number (0, 1, 2, … across the run).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Counts a soft check on the last response (or on the task, before any): its pass
    /// rate is reported and a budget can require it (`checks = "99.9%"`); it never fails
    /// the request.
    pub fn check(&mut self, name: &str, held: bool) -> bool {
        let endpoint = self.measured();
        let id = self.w.check_id(endpoint, name);
        let mut rec = self.w.recorder.borrow_mut();
        rec.grow(0, id + 1);
        rec.checked(endpoint, id, held);
        held
    }

    /// Records `value` into the histogram `name` (on the last response's endpoint, or the
    /// task's): budgets bound it as `NAME_p95`, `NAME_p99`, … Values below 0 are not
    /// recorded.
    pub fn record(&mut self, name: &str, value: f64) {
        if !(value >= 0.0 && value.is_finite()) {
            return;
        }
        let endpoint = self.measured();
        let id = self.w.metric_id(name);
        self.w.recorder.borrow_mut().read(endpoint, id, value);
    }

    /// The next row of the feeder `name` (`[data.NAME]` in the config), as JSON.
    pub fn feed(&mut self, name: &str) -> Result<serde_json::Value, Failure> {
        let f = self
            .w
            .plan
            .feeders
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| fail(format!("no feeder called {name:?} in the config")))?;
        let row = f.next_row().ok_or_else(|| {
            Failure::Data(format!(
                "feeder {name} ran dry: each of its {} rows is used once (unique = true)",
                f.len()
            ))
        })?;
        serde_json::to_value(&row).map_err(fail)
    }

    /// A variable this user keeps (as `extract` sets them for the config's templates).
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.to_string())
    }

    /// Sets a variable, seen by this user's config tasks as `{{ vars.NAME }}` too.
    pub fn set_var(&mut self, name: &str, value: impl Serialize) {
        self.vars.insert(
            name.to_string(),
            minijinja::Value::from(minijinja::value::Serde(value)),
        );
    }

    /// State of this user's own, of any type: made with `Default` on first use and kept
    /// across its tasks (a session, a cart, a counter).
    ///
    /// ```
    /// use perfgate::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Cart { items: u32 }
    ///
    /// async fn add(u: &mut User) -> Outcome {
    ///     u.post("/cart/items").send().await?;
    ///     u.state::<Cart>().items += 1;
    ///     let full = u.state::<Cart>().items >= 10;
    ///     u.check("cart below 10 items", !full);
    ///     Ok(())
    /// }
    /// ```
    pub fn state<T: Default + 'static>(&mut self) -> &mut T {
        let fresh = !self.state.as_ref().is_some_and(|s| s.is::<T>());
        if fresh {
            self.state = Some(Box::new(T::default()));
        }
        let state: &mut Box<dyn Any> = self.state.as_mut().expect("set above");
        state.downcast_mut().expect("checked above")
    }

    /// Times `block` as one named metric, `task:NAME` (budgetable like any endpoint):
    /// its failure is the block's error.
    ///
    /// ```
    /// use perfgate::prelude::*;
    ///
    /// async fn checkout(u: &mut User) -> Outcome {
    ///     let items = u
    ///         .transaction("checkout", async |u: &mut User| {
    ///             u.post("/cart").send().await?;
    ///             let r = u.post("/pay").send().await?;
    ///             Ok(r.json::<serde_json::Value>()?["items"].as_u64().unwrap_or(0))
    ///         })
    ///         .await?;
    ///     u.record("items", items as f64); // budget: items_p50 = 3
    ///     Ok(())
    /// }
    /// ```
    pub async fn transaction<T>(
        &mut self,
        name: &str,
        block: impl AsyncFnOnce(&mut User) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let endpoint = self
            .w
            .endpoint_id(&format!("{}{name}", crate::config::TRANSACTION), "TASK");
        let began = Instant::now();
        let r = block(self).await;
        let us = began.elapsed().as_micros() as u64;
        let mut rec = self.w.recorder.borrow_mut();
        match &r {
            Ok(_) => rec.answered(endpoint, us),
            Err(f) => rec.failure(endpoint, us, f.clone()),
        }
        r
    }

    /// Where checks and numbers go: the last response's endpoint, else the task's.
    fn measured(&self) -> usize {
        self.last.or(self.task_endpoint).unwrap_or(0)
    }
}

/// A request being written; `send` it. (`'p`: what its path and name borrow.)
#[must_use = "a request does nothing until it is sent"]
pub struct Request<'u, 'p> {
    user: &'u mut User,
    method: Cow<'p, str>,
    path: Cow<'p, str>,
    name: Option<Cow<'p, str>>,
    headers: Vec<(String, String)>,
    body: Option<(Vec<u8>, Option<&'static str>)>,
    keep: Vec<String>,
    /// A gRPC call: its method, or why it cannot be made.
    grpc: Option<Result<Arc<GrpcMethod>, Failure>>,
}

impl<'u, 'p> Request<'u, 'p> {
    fn new(user: &'u mut User, method: Cow<'p, str>, path: Cow<'p, str>) -> Request<'u, 'p> {
        Request {
            user,
            method,
            path,
            name: None,
            headers: Vec::new(),
            body: None,
            keep: Vec::new(),
            grpc: None,
        }
    }

    /// The endpoint name metrics and budgets use (default: the path as written).
    pub fn name(mut self, name: impl Into<Cow<'p, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// A JSON body (and `content-type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        // Serialising plain data cannot fail; a map with non-string keys sends `null`.
        let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec());
        self.body = Some((bytes, Some("application/json")));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((body.into(), None));
        self
    }

    /// Keeps the response header `name` for `Reply::header` (headers are read only when
    /// asked for: it keeps the common case lean).
    pub fn keep_header(mut self, name: &str) -> Self {
        self.keep.push(name.to_ascii_lowercase());
        self
    }

    /// Sends it and waits for the whole response. Recorded whatever happens: a status
    /// of 400 or more, a timeout or a refused connection is a failed request, and `Err`.
    pub async fn send(self) -> Result<Reply, Failure> {
        let Request {
            user: u,
            method,
            path,
            name,
            headers,
            body,
            keep,
            grpc,
        } = self;
        let w = u.w.clone();
        // Once the run stops, only a leaving user's on_stop still sends.
        if !u.stopping && !w.running() {
            return Err(Failure::Code("the run is stopping".into()));
        }
        let shown = if grpc.is_some() { "GRPC" } else { &method };
        let endpoint = w.endpoint_id(name.as_deref().unwrap_or(&path), shown);
        let grpc = match grpc {
            Some(Err(f)) => return Err(u.unsent(&w, endpoint, f)),
            Some(Ok(m)) => Some(m),
            None => None,
        };
        u.last = Some(endpoint);
        if let Err(f) = head_safe(&method, &path, &headers) {
            return Err(u.unsent(&w, endpoint, f));
        }
        let target = &w.plan.target;
        let resolved;
        let path = if path.starts_with('/') {
            &path[..]
        } else {
            match resolve(target, "/", &path) {
                Ok(p) => {
                    resolved = p;
                    resolved
                        .strip_prefix(&target.base_path[..])
                        .unwrap_or(&resolved)
                }
                Err(f) => return Err(u.unsent(&w, endpoint, f)),
            }
        };
        write_head(u, &w.plan, &method, path, &headers, body.as_ref());
        let keep_body = Keep {
            body: true,
            headers: &keep,
            grpc: grpc.is_some(),
            messages: grpc.as_ref().is_some_and(|m| m.server_streaming),
        };
        let sent = Instant::now();
        // Latency counts from the scheduled arrival for the task's first request.
        let start = u.due.take().unwrap_or(sent);
        let head = method == "HEAD";
        let result = u
            .timed_exchange(&w, endpoint, None, head, keep_body, sent)
            .await;
        let resp = u.account(&w, endpoint, start, result, grpc.as_deref())?;
        if !resp.messages().is_empty() {
            // A gRPC server stream: each message timed, as for the config's calls.
            let id = w.metric_id(crate::config::grpc::MESSAGE_MS);
            let mut rec = w.recorder.borrow_mut();
            for ms in message_gaps(&resp) {
                rec.read(endpoint, id, ms);
            }
        }
        let headers = keep
            .iter()
            .enumerate()
            .filter_map(|(i, name)| Some((name.clone(), resp.captured(i)?.to_string())))
            .collect();
        // The reply takes the body; the user reads the next into a buffer a dropped
        // reply gave back (an allocation and a free a request, saved).
        let body = std::mem::replace(&mut u.body, w.spare_body());
        Ok(Reply {
            status: resp.status,
            headers,
            body,
            w,
        })
    }
}

/// Refuses a method, path or header that would change the request on the wire (see
/// `request::framing_safe`), and a method or header name that is not a token.
fn head_safe(method: &str, path: &str, headers: &[(String, String)]) -> Result<(), Failure> {
    use crate::config::wire::is_token as token;
    if !token(method) {
        return Err(fail(format!(
            "method {method:?} is not an HTTP token: not sent"
        )));
    }
    framing_safe(path, true, || "the path".into())?;
    for (name, value) in headers {
        if !token(name) {
            return Err(fail(format!(
                "header name {name:?} is not an HTTP token: not sent"
            )));
        }
        framing_safe(value, false, || format!("header {name:?}"))?;
    }
    Ok(())
}

/// Writes the request into the user's buffer: the line, host, the config's headers,
/// the request's own, and its body. (Byte by byte: `write!` cost a tenth of a request.)
fn write_head(
    u: &mut User,
    plan: &crate::config::Plan,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&(Vec<u8>, Option<&'static str>)>,
) {
    let out = &mut u.out;
    out.clear();
    let t = &plan.target;
    for part in [method, " "] {
        out.extend_from_slice(part.as_bytes());
    }
    if t.absolute_form {
        out.extend_from_slice(b"http://");
        out.extend_from_slice(t.authority.as_bytes());
    }
    for part in [
        &t.base_path[..],
        path,
        " HTTP/1.1\r\nhost: ",
        &t.authority,
        "\r\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
    for (name, value) in plan.headers.iter().chain(headers) {
        for part in [&name[..], ": ", value, "\r\n"] {
            out.extend_from_slice(part.as_bytes());
        }
    }
    match body {
        Some((bytes, kind)) => {
            if let Some(kind) = kind {
                for part in ["content-type: ", kind, "\r\n"] {
                    out.extend_from_slice(part.as_bytes());
                }
            }
            let length = bytes.len().to_string();
            for part in ["content-length: ", &length, "\r\n\r\n"] {
                out.extend_from_slice(part.as_bytes());
            }
            out.extend_from_slice(bytes);
        }
        None if matches!(method, "POST" | "PUT" | "PATCH") => {
            out.extend_from_slice(b"content-length: 0\r\n\r\n")
        }
        None => out.extend_from_slice(b"\r\n"),
    }
}

/// A response: its status, the headers asked for, and its body.
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    w: std::rc::Rc<super::worker::Worker>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.w.give_body(std::mem::take(&mut self.body));
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Reply {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// A header the request kept (`keep_header`); a failure when it was not there.
    pub fn header(&self, name: &str) -> Result<&str, Failure> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                fail(format!(
                    "no {name} header in the response (was it kept with .keep_header({name:?})?)"
                ))
            })
    }

    /// The body (at most `[target] max_body` of it).
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    pub fn text(&self) -> Result<&str, Failure> {
        std::str::from_utf8(&self.body).map_err(|e| fail(format!("body is not UTF-8: {e}")))
    }

    /// The body read as JSON into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_slice(&self.body)
            .map_err(|e| fail(format!("body is not the JSON expected: {e}")))
    }
}
