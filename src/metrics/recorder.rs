//! Per-thread recording on the hot path: plain counters and histograms, no locks.
//! Each worker owns one `Recorder` and hands it to the collector once per interval.

use std::fmt;

use super::Latency;

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The TCP connection was refused.
    Refused,
    /// No connection, or no full response, within the timeout.
    Timeout,
    /// The peer reset or closed the connection mid-request.
    Reset,
    /// Connecting failed for another reason (DNS, TLS, ...).
    Connect(String),
    /// The response could not be parsed as HTTP/1.1.
    Protocol(String),
    /// The status was not an expected one.
    Status(u16),
    /// A response expectation did not hold.
    Expect(String),
    /// A template failed to render.
    Template(String),
    /// A feeder had no row to give (`unique = true`, every row used).
    Data(String),
    /// A redirect could not be followed.
    Redirect(String),
    /// A task written in Rust returned an error, or panicked.
    Code(String),
    /// A gRPC call ended with this `grpc-status` (not 0).
    Grpc(u32),
    /// A WebSocket session failed: closed (by the server, with its code and reason), or
    /// a protocol error.
    WebSocket(String),
}

/// `?` in a task written in Rust: any error fails the task with its words.
impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::Code(e.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused => write!(f, "connection refused"),
            Failure::Timeout => write!(f, "timeout"),
            Failure::Reset => write!(f, "connection reset"),
            Failure::Connect(e) => write!(f, "connect: {e}"),
            Failure::Protocol(e) => write!(f, "bad response: {e}"),
            Failure::Status(s) => write!(f, "HTTP {s}"),
            Failure::WebSocket(e) => write!(f, "WebSocket: {e}"),
            Failure::Grpc(code) => write!(f, "gRPC {}", grpc_status_name(*code)),
            Failure::Expect(e) => write!(f, "expectation: {e}"),
            Failure::Template(e) => write!(f, "template: {e}"),
            Failure::Data(e) => write!(f, "data: {e}"),
            Failure::Redirect(e) => write!(f, "redirect: {e}"),
            Failure::Code(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Default)]
pub struct EndpointRecorder {
    pub requests: u64,
    pub failures: u64,
    pub interrupted: u64,
    pub reasons: Vec<(Failure, u64)>,
    /// Responses by status class: [no response, 1xx, 2xx, 3xx, 4xx, 5xx].
    pub status: [u64; 6],
    /// Response body bytes received.
    pub body_bytes: u64,
    /// Requests sent again after a kept-alive connection turned out closed.
    pub retries: u64,
    /// Of the connections made (`connect`), those speaking HTTP/2.
    pub http2_connections: u64,
    /// Soft checks that held, and that did not.
    pub checks_passed: u64,
    pub checks_failed: u64,
    /// WebSocket messages sent and received.
    pub messages_sent: u64,
    pub messages_received: u64,
    pub latency: Latency,
    pub ttfb: Latency,
    pub connect: Latency,
    /// Numbers read from responses, by the plan's metric index (grown when first read).
    pub metrics: Vec<Latency>,
}

impl EndpointRecorder {
    /// `n` failures for `failure` (requests are counted apart).
    pub fn count_failures(&mut self, failure: Failure, n: u64) {
        self.failures += n;
        match self.reasons.iter_mut().find(|(f, _)| *f == failure) {
            Some((_, count)) => *count += n,
            None => self.reasons.push((failure, n)),
        }
    }
}

/// Everything one worker thread measured during one interval.
pub struct Recorder {
    pub endpoints: Vec<EndpointRecorder>,
    /// Per task, indexed like the plan's flattened task list: [iterations, those that
    /// failed in the task's own code].
    pub tasks: Vec<[u64; 2]>,
    pub dropped: u64,
    /// Users this thread has running right now.
    pub users: u64,
    /// Per soft check (the plan's order): [held, did not].
    pub checks: Vec<[u64; 2]>,
}

impl Recorder {
    pub fn new(endpoints: usize, tasks: usize) -> Recorder {
        Recorder {
            endpoints: (0..endpoints)
                .map(|_| EndpointRecorder::default())
                .collect(),
            tasks: vec![[0; 2]; tasks],
            dropped: 0,
            users: 0,
            checks: Vec::new(),
        }
    }

    /// With `n` soft checks to count.
    pub fn with_checks(mut self, n: usize) -> Recorder {
        self.checks = vec![[0; 2]; n];
        self
    }

    /// Makes room for endpoints and soft checks that user code named while running
    /// (`Names`): at least `endpoints` and `checks` of them.
    pub fn grow(&mut self, endpoints: usize, checks: usize) {
        if self.endpoints.len() < endpoints {
            self.endpoints
                .resize_with(endpoints, EndpointRecorder::default);
        }
        if self.checks.len() < checks {
            self.checks.resize(checks, [0; 2]);
        }
    }

    /// A number read from a response of `endpoint` into metric `id` (kept in thousandths).
    pub fn read(&mut self, endpoint: usize, id: usize, value: f64) {
        let m = &mut self.endpoints[endpoint].metrics;
        if m.len() <= id {
            m.resize(id + 1, Latency::default());
        }
        m[id].record_us((value * 1000.0).round() as u64);
    }

    /// WebSocket messages a step of `endpoint` sent and received.
    pub fn messages(&mut self, endpoint: usize, sent: u64, received: u64) {
        let e = &mut self.endpoints[endpoint];
        e.messages_sent += sent;
        e.messages_received += received;
    }

    /// Soft check `id` on a response of `endpoint` held, or not.
    pub fn checked(&mut self, endpoint: usize, id: usize, held: bool) {
        let e = &mut self.endpoints[endpoint];
        if held {
            e.checks_passed += 1;
        } else {
            e.checks_failed += 1;
        }
        self.checks[id][usize::from(!held)] += 1;
    }

    pub fn success(&mut self, endpoint: usize, latency_us: u64, ttfb_us: u64) {
        let e = &mut self.endpoints[endpoint];
        e.requests += 1;
        e.latency.record_us(latency_us);
        e.ttfb.record_us(ttfb_us);
    }

    /// A success whose time to first byte is not known (an imported log without it).
    pub fn answered(&mut self, endpoint: usize, latency_us: u64) {
        let e = &mut self.endpoints[endpoint];
        e.requests += 1;
        e.latency.record_us(latency_us);
    }

    /// A request answered, but failed (a status or an expectation): it has a latency,
    /// how long the user waited for that answer.
    pub fn failure(&mut self, endpoint: usize, latency_us: u64, failure: Failure) {
        self.endpoints[endpoint].latency.record_us(latency_us);
        self.unanswered(endpoint, failure);
    }

    /// A request that got no answer (refused, reset, timed out, garbage, or never sent
    /// because its template did not render): it counts as failed, but has no latency to
    /// pull the percentiles toward zero (a refusal takes 0.1 ms).
    pub fn unanswered(&mut self, endpoint: usize, failure: Failure) {
        let e = &mut self.endpoints[endpoint];
        e.requests += 1;
        e.count_failures(failure, 1);
    }

    /// Requests sent a second time on a new connection (see `Stats::retries`).
    pub fn retried(&mut self, endpoint: usize, n: u64) {
        self.endpoints[endpoint].retries += n;
    }

    /// New connections for `endpoint`'s requests that speak HTTP/2.
    pub fn http2_connected(&mut self, endpoint: usize, n: u64) {
        self.endpoints[endpoint].http2_connections += n;
    }

    /// The body bytes of a response.
    pub fn received(&mut self, endpoint: usize, bytes: u64) {
        self.endpoints[endpoint].body_bytes += bytes;
    }

    /// The status of a completed request (0: no response), counted by class.
    pub fn status(&mut self, endpoint: usize, status: u16) {
        let class = (status / 100) as usize;
        self.endpoints[endpoint].status[if class <= 5 { class } else { 0 }] += 1;
    }

    pub fn interrupted(&mut self, endpoint: usize) {
        self.endpoints[endpoint].interrupted += 1;
    }

    pub fn connected(&mut self, endpoint: usize, us: u64) {
        self.endpoints[endpoint].connect.record_us(us);
    }

    /// Hands over what was recorded so far and starts afresh (users carry over).
    pub fn take(&mut self) -> Recorder {
        let fresh = Recorder {
            users: self.users,
            ..Recorder::new(self.endpoints.len(), self.tasks.len()).with_checks(self.checks.len())
        };
        std::mem::replace(self, fresh)
    }
}

/// The name of a gRPC status code, as failure reasons show it.
pub fn grpc_status_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    NAMES.get(code as usize).copied().unwrap_or("UNKNOWN_CODE")
}
