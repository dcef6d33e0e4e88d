//! `--dashboard ADDR`: a live page served by perfgate itself while it runs a load. The
//! page (embedded: no CDN, works offline) draws what it is sent once a second over
//! Server-Sent Events; a page opened mid-run gets every second so far first. `POST
//! /stop` ends the run gracefully (results and reports written); `POST /steer` changes
//! its users or rate while it runs. Loopback by default; any other address needs a
//! token, which stopping and steering then need too.

mod frame;

pub use frame::Frames;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{broadcast, mpsc};

use crate::engine::Steer;
use crate::metrics::LoadModel;

const PAGE: &str = include_str!("page.html");

struct Shared {
    /// Every frame pushed so far, for a page opened mid-run.
    frames: Mutex<Vec<String>>,
    /// Sent first to every page: the budget's limits, whether stopping needs a token.
    setup: String,
    tx: broadcast::Sender<String>,
    token: Option<String>,
    stop: AtomicBool,
    steering: Result<Steering, String>,
}

/// What the page may change while the run goes on: the users of a closed model or the
/// rate of an open one, up to `max`; changes go to the engine through `tx`.
pub struct Steering {
    pub model: LoadModel,
    pub max: f64,
    pub tx: mpsc::UnboundedSender<Steer>,
}

/// The running dashboard; stops serving when dropped.
pub struct Dashboard {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dashboard {
    /// Serves on `addr`; an address other than loopback needs a `token`. `steering` says
    /// what the page may change, or why it may not.
    pub fn start(
        addr: &str,
        token: Option<String>,
        setup: String,
        steering: Result<Steering, String>,
    ) -> Result<Dashboard, String> {
        use std::net::ToSocketAddrs as _;
        let wanted: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| {
                format!(
                    "--dashboard {addr}: not an address to listen on ({e}); e.g. 127.0.0.1:8089"
                )
            })?
            .collect();
        if wanted.iter().any(|a| !a.ip().is_loopback()) && token.is_none() {
            return Err(format!(
                "--dashboard {addr}: a page anyone on the network can open and stop the run from needs --dashboard-token (or bind 127.0.0.1)"
            ));
        }
        let listener = std::net::TcpListener::bind(&wanted[..])
            .map_err(|e| format!("--dashboard {addr}: cannot listen there: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let (tx, _) = broadcast::channel(64);
        let shared = Arc::new(Shared {
            frames: Mutex::new(Vec::new()),
            setup,
            tx,
            token,
            stop: AtomicBool::new(false),
            steering,
        });
        let app = Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route("/events", get(events))
            .route("/stop", post(stop))
            .route("/steer", post(steer))
            .with_state(shared.clone());
        let (done, thread) =
            crate::demo::serve_on_thread("perfgate-dashboard", 1, listener, app, None)
                .map_err(|e| e.to_string())?;
        Ok(Dashboard {
            addr: bound,
            shared,
            shutdown: Some(done),
            thread: Some(thread),
        })
    }

    /// Sends a frame to every page open, and keeps it for pages opened later.
    pub fn push(&self, frame: String) {
        let _ = self.shared.tx.send(frame.clone());
        self.shared.frames.lock().expect("frames lock").push(frame);
    }

    /// The last frame again, with the verdict ("passed", "failed", "inconclusive"), its
    /// words, and the full HTML report.
    pub fn finish(&self, status: &str, verdict: &str, report: &str) {
        let last = self
            .shared
            .frames
            .lock()
            .expect("frames lock")
            .last()
            .cloned();
        let mut f: serde_json::Value = last
            .and_then(|l| serde_json::from_str(&l).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        f["done"] = serde_json::json!({"status": status, "verdict": verdict, "report": report});
        self.push(f.to_string());
    }

    /// Whether a page asked the run to stop.
    pub fn stop_requested(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// After the last frame: a moment for the pages to read it, then stop serving.
    pub fn close(mut self) {
        std::thread::sleep(Duration::from_millis(300));
        self.end();
    }

    fn end(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        // Pages still connected keep their event stream open: do not wait for them.
        drop(self.thread.take());
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.end();
    }
}

/// The event stream: the setup, every frame so far, then each new one.
async fn events(State(s): State<Arc<Shared>>) -> Response {
    let rx = s.tx.subscribe();
    let mut first = vec![format!("event: setup\ndata: {}\n\n", s.setup)];
    first.extend(
        s.frames
            .lock()
            .expect("frames lock")
            .iter()
            .map(|f| format!("data: {f}\n\n")),
    );
    let first = futures_util::stream::iter(first.into_iter().map(Ok::<_, std::io::Error>));
    let live = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(f) => return Some((Ok(format!("data: {f}\n\n")), rx)),
                // A page too slow to keep up skips frames; the next one has the totals.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(first, live));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Whether the request carries the dashboard's token (`Authorization: Bearer TOKEN`),
/// when it has one.
fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = &s.token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    given == Some(token.as_str())
}

/// `POST /stop`, with the token when the dashboard has one.
async fn stop(State(s): State<Arc<Shared>>, headers: HeaderMap) -> impl IntoResponse {
    if !authorized(&s, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            "the dashboard's token is needed to stop the run".to_string(),
        );
    }
    s.stop.store(true, Ordering::Relaxed);
    (
        StatusCode::ACCEPTED,
        "stopping: results and reports are being written".to_string(),
    )
}

/// `POST /steer` with `{"users": N}` (closed model) or `{"rate": R}` (open model, per
/// second), with the token when the dashboard has one.
async fn steer(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    if !authorized(&s, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            "the dashboard's token is needed to steer the run".to_string(),
        );
    }
    match steering(&s, &body) {
        Ok(said) => {
            errln!("\nthe dashboard set {said}");
            (StatusCode::ACCEPTED, said)
        }
        Err((status, why)) => (status, why),
    }
}

/// Checks a steering request and hands it to the engine; what was set, in words.
fn steering(s: &Shared, body: &[u8]) -> Result<String, (StatusCode, String)> {
    let bad = |why: String| (StatusCode::BAD_REQUEST, why);
    let to = s.steering.as_ref().map_err(|why| {
        (
            StatusCode::CONFLICT,
            format!("this run cannot be steered: {why}"),
        )
    })?;
    let (key, unit) = match to.model {
        LoadModel::Open => ("rate", "arrivals/s"),
        _ => ("users", "users"),
    };
    let asked: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("send JSON such as {{\"{key}\": 20}}: {e}")))?;
    let value = asked
        .get(key)
        .and_then(serde_json::Value::as_f64)
        .ok_or_else(|| {
            bad(format!(
                "this run's load is set by {key}: send {{\"{key}\": 20}}"
            ))
        })?;
    let whole = key == "users";
    if !(0.0..=to.max).contains(&value) || (whole && value.fract() != 0.0) {
        let kind = if whole { "a whole number" } else { "a number" };
        return Err(bad(format!("{key} must be {kind} from 0 to {}", to.max)));
    }
    to.tx
        .send(Steer {
            value,
            by: "the dashboard".into(),
        })
        .map_err(|_| (StatusCode::CONFLICT, "the run is over".to_string()))?;
    let unit = if value == 1.0 && whole { "user" } else { unit };
    Ok(format!("{value} {unit}"))
}
