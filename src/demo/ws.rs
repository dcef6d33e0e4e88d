//! The demo's WebSocket endpoint, `/ws`: each text or binary message is echoed back;
//! a JSON text message with `"notify": {"count": K, "every_ms": N}` is also followed by
//! K notifications `{"event":"notify","n":I}`, N ms apart. The knobs of `/ws` apply to
//! the upgrade and to each echo (its latency before it; its error rate closes the session
//! with 1011). Messages are counted both ways.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;

use super::Shared;

pub const PATH: &str = "/ws";

pub async fn upgrade(s: Arc<Shared>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(socket, s))
}

async fn session(mut socket: WebSocket, s: Arc<Shared>) {
    while let Some(Ok(message)) = socket.recv().await {
        let notify = match &message {
            Message::Text(text) => notifications(text.as_str()),
            Message::Binary(_) => None,
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        s.ws_received.fetch_add(1, Ordering::Relaxed);
        let (delay, fail) = {
            let knobs = s.knobs.read().expect("knobs lock");
            knobs.decide(PATH, s.start.elapsed())
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if fail {
            let close = CloseFrame {
                code: 1011,
                reason: "injected failure (demo knob)".into(),
            };
            let _ = socket.send(Message::Close(Some(close))).await;
            return;
        }
        if socket.send(message).await.is_err() {
            return;
        }
        s.ws_sent.fetch_add(1, Ordering::Relaxed);
        if let Some((count, every)) = notify {
            for n in 0..count {
                tokio::time::sleep(every).await;
                let text = format!(r#"{{"event":"notify","n":{n}}}"#);
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
                s.ws_sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// `{"notify": {"count": K, "every_ms": N}}` in a message: K notifications N ms apart
/// (at most 1,000 of them, at least 1 ms apart).
fn notifications(text: &str) -> Option<(u64, Duration)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let n = v.get("notify")?;
    let count = n.get("count")?.as_u64()?.min(1000);
    let every = n
        .get("every_ms")
        .and_then(|m| m.as_u64())
        .unwrap_or(10)
        .max(1);
    Some((count, Duration::from_millis(every)))
}
