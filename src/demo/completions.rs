//! The demo's streaming endpoint, shaped like an LLM gateway's completion API:
//! `POST /api/v1/completions` with `{"prompt": …, "stream": true}` answers with
//! Server-Sent Events (`text/event-stream`): a `data: {"index":I,"token":"…"}` event
//! every `token_ms` (default 20), `max_tokens` of them (default 16), then `data: [DONE]`.
//! Without `"stream": true`, one JSON answer with every token. The knobs of the path
//! apply before the first event (a slow first token: its latency; its error rate: a
//! 503), and the request may ask for a misbehaving stream: `stall_at` (a token index)
//! with `stall_ms` holds the stream there, `cut_at` closes the connection before that
//! token, without `[DONE]`. Tokens sent are counted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, Stream};
use serde::Deserialize;

use super::Shared;

pub const PATH: &str = "/api/v1/completions";

#[derive(Deserialize)]
pub struct Ask {
    #[serde(default)]
    stream: bool,
    #[serde(default = "sixteen")]
    max_tokens: u32,
    #[serde(default = "twenty")]
    token_ms: u64,
    stall_at: Option<u32>,
    #[serde(default)]
    stall_ms: u64,
    cut_at: Option<u32>,
}

fn sixteen() -> u32 {
    16
}

fn twenty() -> u64 {
    20
}

/// The most tokens one answer may ask for, and the longest wait between two: a stream
/// stays bounded whatever a request asks.
const MAX_TOKENS: u32 = 10_000;
const MAX_WAIT_MS: u64 = 60_000;

pub async fn complete(s: Arc<Shared>, Json(ask): Json<Ask>) -> Response {
    let tokens = ask.max_tokens.min(MAX_TOKENS);
    if !ask.stream {
        s.tokens_sent
            .fetch_add(u64::from(tokens), Ordering::Relaxed);
        let text: Vec<String> = (0..tokens).map(token).collect();
        return Json(serde_json::json!({ "tokens": tokens, "text": text.join(" ") }))
            .into_response();
    }
    Sse::new(events(s, ask, tokens)).into_response()
}

/// The stream's events: tokens, then `[DONE]`; or an error where the request asked the
/// stream to be cut (the connection closes mid-stream).
fn events(
    s: Arc<Shared>,
    ask: Ask,
    tokens: u32,
) -> impl Stream<Item = Result<Event, std::io::Error>> {
    stream::unfold(0u32, move |i| {
        let s = s.clone();
        let every = Duration::from_millis(ask.token_ms.min(MAX_WAIT_MS));
        let stall =
            (ask.stall_at == Some(i)).then(|| Duration::from_millis(ask.stall_ms.min(MAX_WAIT_MS)));
        let cut = ask.cut_at == Some(i);
        async move {
            if i > tokens {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(every).await;
            }
            if let Some(stall) = stall {
                tokio::time::sleep(stall).await;
            }
            if cut {
                return Some((Err(std::io::Error::other("cut as asked")), tokens + 1));
            }
            if i == tokens {
                return Some((Ok(Event::default().data("[DONE]")), i + 1));
            }
            s.tokens_sent.fetch_add(1, Ordering::Relaxed);
            let data = serde_json::json!({ "index": i, "token": token(i) }).to_string();
            Some((Ok(Event::default().data(data)), i + 1))
        }
    })
}

fn token(i: u32) -> String {
    ["proof", "verified", "for", "the", "messenger"][i as usize % 5].to_string()
}
