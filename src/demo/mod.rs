//! The embedded system under test: the Locust setup's "Proof Messenger" verification API.
//!
//! Proofs are really verified (HMAC-SHA256 over their fields with [`DEMO_KEY`], and a
//! timestamp no more than five minutes off), so load generated against it does real work.
//! Knobs add latency, jitter, errors and periodic stalls per endpoint, so a budget can be
//! made to fail on purpose. It counts what it served per endpoint and status.

mod completions;
mod grpc;
mod knobs;
mod proofs;
mod tls;
mod ws;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub use knobs::{Knob, Knobs};
pub use proofs::{sign, DEMO_KEY};

/// Requests served, by endpoint path and then status code.
pub type Served = BTreeMap<String, BTreeMap<u16, u64>>;

struct Shared {
    knobs: RwLock<Knobs>,
    served: Mutex<Served>,
    start: Instant,
    /// With a capacity knob: when the one server is free to start the next request.
    free_at: Mutex<Instant>,
    /// WebSocket messages received and sent on `/ws`.
    ws_received: std::sync::atomic::AtomicU64,
    ws_sent: std::sync::atomic::AtomicU64,
    /// Tokens `/api/v1/completions` sent, streamed or not.
    tokens_sent: std::sync::atomic::AtomicU64,
}

/// A running demo service; stops when dropped.
pub struct DemoServer {
    pub addr: SocketAddr,
    /// Its self-signed certificate (PEM), when it serves TLS.
    certificate: Option<String>,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DemoServer {
    /// Binds `addr` (use "127.0.0.1:0" for an ephemeral port) and serves on its own thread.
    pub fn start(addr: &str, knobs: Knobs) -> std::io::Result<DemoServer> {
        Self::serve(addr, knobs, None)
    }

    /// As `start`, over TLS with a certificate made now for localhost and 127.0.0.1
    /// (`certificate()`), offering HTTP/2 and HTTP/1.1 by ALPN.
    pub fn start_tls(addr: &str, knobs: Knobs) -> std::io::Result<DemoServer> {
        Self::serve(addr, knobs, Some(tls::Identity::new()?))
    }

    fn serve(addr: &str, knobs: Knobs, tls: Option<tls::Identity>) -> std::io::Result<DemoServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            knobs: RwLock::new(knobs),
            served: Mutex::new(Served::new()),
            start: Instant::now(),
            free_at: Mutex::new(Instant::now()),
            ws_received: Default::default(),
            ws_sent: Default::default(),
            tokens_sent: Default::default(),
        });
        let certificate = tls.as_ref().map(|t| t.certificate.clone());
        let acceptor = tls.map(|t| t.acceptor);
        let (tx, thread) = serve_on_thread(
            "perfgate-demo",
            2,
            listener,
            router(shared.clone()),
            acceptor,
        )?;
        Ok(DemoServer {
            addr,
            certificate,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The certificate it serves TLS with (PEM), to trust as `[target] ca_file`.
    pub fn certificate(&self) -> Option<&str> {
        self.certificate.as_deref()
    }

    pub fn url(&self) -> String {
        let scheme = if self.certificate.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// What the service has served so far, per endpoint and status.
    pub fn served(&self) -> Served {
        self.shared.served.lock().expect("served lock").clone()
    }

    /// Requests served on `path`, any status.
    pub fn served_on(&self, path: &str) -> u64 {
        self.served().get(path).map_or(0, |m| m.values().sum())
    }

    /// WebSocket messages `/ws` received and sent.
    pub fn ws_messages(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let s = &self.shared;
        (s.ws_received.load(Relaxed), s.ws_sent.load(Relaxed))
    }

    /// Tokens `/api/v1/completions` sent (`[DONE]` not counted).
    pub fn tokens_sent(&self) -> u64 {
        self.shared
            .tokens_sent
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_knobs(&self, knobs: Knobs) {
        *self.shared.knobs.write().expect("knobs lock") = knobs;
    }

    /// Blocks until the process is stopped (for `perfgate demo --serve`).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `app` on `listener` (non-blocking) from a thread of its own, with a runtime of
/// `workers` threads (1: the thread itself), until the sender is used or dropped; over
/// TLS with `tls`.
pub(crate) fn serve_on_thread(
    name: &str,
    workers: usize,
    listener: std::net::TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<(
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
)> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let rt = match workers {
                1 => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build(),
                n => tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(n)
                    .enable_all()
                    .build(),
            }
            .expect("a tokio runtime");
            rt.block_on(async move {
                use axum::serve::ListenerExt as _;
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                // As servers in production do: an answer written in parts (HTTP/2's
                // headers, data and trailers) is not held back by Nagle's algorithm.
                let stop = async {
                    let _ = rx.await;
                };
                let _ = match tls {
                    Some(acceptor) => {
                        let listener = tls::Listener {
                            tcp: listener,
                            acceptor,
                        };
                        axum::serve(listener, app)
                            .with_graceful_shutdown(stop)
                            .await
                    }
                    None => {
                        let listener = listener.tap_io(|tcp| {
                            let _ = tcp.set_nodelay(true);
                        });
                        axum::serve(listener, app)
                            .with_graceful_shutdown(stop)
                            .await
                    }
                };
            });
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
        })?;
    Ok((tx, thread))
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/verify-proof", post(proofs::verify_proof))
        .route(
            "/api/verify-biometric-proof",
            post(proofs::verify_biometric),
        )
        .route("/api/batch-verify-proofs", post(proofs::verify_batch))
        .merge(grpc::routes())
        .route(completions::PATH, {
            let s = shared.clone();
            post(move |ask| completions::complete(s.clone(), ask))
        })
        .route(ws::PATH, {
            let s = shared.clone();
            get(move |up| ws::upgrade(s.clone(), up))
        })
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            apply_knobs,
        ));
    Router::new()
        .route("/stats", get(stats))
        .with_state(shared)
        .merge(api)
}

async fn stats(State(s): State<Arc<Shared>>) -> Json<Served> {
    Json(s.served.lock().expect("served lock").clone())
}

/// Delays, stalls or fails a request as the knobs say, then counts the response.
async fn apply_knobs(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let (delay, fail, capacity) = {
        let knobs = s.knobs.read().expect("knobs lock");
        let (delay, fail) = knobs.decide(&path, s.start.elapsed());
        (delay, fail, knobs.capacity)
    };
    // A capacity: one server taking 1/capacity a request, first come first served;
    // beyond it requests queue and wait longer and longer.
    if let Some(per_second) = capacity.filter(|_| path != "/stats") {
        let done = {
            let mut free_at = s.free_at.lock().expect("queue lock");
            *free_at = (*free_at).max(Instant::now()) + Duration::from_secs_f64(1.0 / per_second);
            *free_at
        };
        tokio::time::sleep_until(done.into()).await;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = if fail && grpc::is_grpc(&req) {
        grpc::unavailable()
    } else if fail {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "injected failure (demo knob)",
        )
            .into_response()
    } else {
        next.run(req).await
    };
    let status = response.status().as_u16();
    *s.served
        .lock()
        .expect("served lock")
        .entry(path)
        .or_default()
        .entry(status)
        .or_default() += 1;
    response
}
