//! `--dashboard ADDR`: a live page served by perfgate itself while it runs a load. The
//! page (embedded: no CDN, works offline) draws what it is sent once a second over
//! Server-Sent Events; a page opened mid-run gets every second so far first. `POST
//! /stop` ends the run gracefully (results and reports written). Loopback by default;
//! any other address needs a token, which stopping then needs too.

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
use tokio::sync::broadcast;

const PAGE: &str = include_str!("page.html");

struct Shared {
    /// Every frame pushed so far, for a page opened mid-run.
    frames: Mutex<Vec<String>>,
    /// Sent first to every page: the budget's limits, whether stopping needs a token.
    setup: String,
    tx: broadcast::Sender<String>,
    token: Option<String>,
    stop: AtomicBool,
}

/// The running dashboard; stops serving when dropped.
pub struct Dashboard {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Dashboard {
    /// Serves on `addr`; an address other than loopback needs a `token`.
    pub fn start(addr: &str, token: Option<String>, setup: String) -> Result<Dashboard, String> {
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
        });
        let app = Router::new()
            .route("/", get(|| async { Html(PAGE) }))
            .route("/events", get(events))
            .route("/stop", post(stop))
            .with_state(shared.clone());
        let (done, thread) = crate::demo::serve_on_thread("perfgate-dashboard", 1, listener, app)
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

/// `POST /stop`, with `Authorization: Bearer TOKEN` when the dashboard has a token.
async fn stop(State(s): State<Arc<Shared>>, headers: HeaderMap) -> impl IntoResponse {
    if let Some(token) = &s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                "the dashboard's token is needed to stop the run",
            );
        }
    }
    s.stop.store(true, Ordering::Relaxed);
    (
        StatusCode::ACCEPTED,
        "stopping: results and reports are being written",
    )
}
