//! Proof verification: HMAC-SHA256 over the proof's fields, and timestamp freshness.
//!
//! A proof `{type, user_id, nonce, timestamp, signature}` is valid when `signature` is
//! `hmac_sha256(DEMO_KEY, "{type}|{user_id}|{nonce}|{timestamp}")` in hex and `timestamp`
//! (unix milliseconds) is within five minutes of now. Biometric proofs sign
//! `"biometric|{user_id}|{biometric_hash}|{timestamp}"` and cost more: the server derives
//! its key by iterating HMAC, as a real biometric template check is costlier.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::template::hmac_hex;

/// The key demo proofs are signed with. Public on purpose: this is a demo.
pub const DEMO_KEY: &str = "perfgate-demo-key";

const FRESH_MS: i64 = 5 * 60 * 1000;
const BIOMETRIC_ROUNDS: usize = 64;

/// Signs `message` as the demo service expects.
pub fn sign(message: &str) -> String {
    hmac_hex(DEMO_KEY, message)
}

// Each is a JSON body of the HTTP endpoints and a protobuf message of the gRPC service
// (examples/grpc/proofs.proto, whose tags these are).
#[derive(Clone, PartialEq, Deserialize, prost::Message)]
pub struct Proof {
    #[serde(rename = "type")]
    #[prost(string, tag = "1")]
    pub kind: String,
    #[prost(string, tag = "2")]
    pub user_id: String,
    #[prost(string, tag = "3")]
    pub nonce: String,
    #[prost(int64, tag = "4")]
    pub timestamp: i64,
    #[prost(string, tag = "5")]
    pub signature: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
pub struct BiometricProof {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(string, tag = "2")]
    pub biometric_hash: String,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
    #[prost(string, tag = "4")]
    pub signature: String,
}

#[derive(Clone, PartialEq, Deserialize, prost::Message)]
pub struct Batch {
    #[prost(message, repeated, tag = "1")]
    pub proofs: Vec<Proof>,
    /// gRPC only: the pause before each streamed verdict after the first.
    #[serde(default)]
    #[prost(uint32, tag = "2")]
    pub every_ms: u32,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(super) fn check(p: &Proof) -> Result<(), &'static str> {
    if p.kind != "login" && p.kind != "transaction" {
        return Err("unknown proof type");
    }
    if (now_ms() - p.timestamp).abs() > FRESH_MS {
        return Err("stale timestamp");
    }
    let expected = sign(&format!(
        "{}|{}|{}|{}",
        p.kind, p.user_id, p.nonce, p.timestamp
    ));
    if !constant_time_eq(expected.as_bytes(), p.signature.as_bytes()) {
        return Err("bad signature");
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn verdict(r: Result<(), &'static str>) -> (StatusCode, Json<Value>) {
    match r {
        Ok(()) => (StatusCode::OK, Json(json!({ "valid": true }))),
        Err(why) => (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "valid": false, "error": why })),
        ),
    }
}

pub async fn verify_proof(Json(p): Json<Proof>) -> (StatusCode, Json<Value>) {
    verdict(check(&p))
}

pub async fn verify_biometric(Json(p): Json<BiometricProof>) -> (StatusCode, Json<Value>) {
    verdict(check_biometric(&p))
}

pub(super) fn check_biometric(p: &BiometricProof) -> Result<(), &'static str> {
    if (now_ms() - p.timestamp).abs() > FRESH_MS {
        return Err("stale timestamp");
    }
    let message = format!(
        "biometric|{}|{}|{}",
        p.user_id, p.biometric_hash, p.timestamp
    );
    // The costly part: a derived template key, as a real matcher would spend time.
    let mut derived = p.biometric_hash.clone();
    for _ in 0..BIOMETRIC_ROUNDS {
        derived = hmac_hex(&derived, &p.user_id);
    }
    std::hint::black_box(&derived);
    if !constant_time_eq(sign(&message).as_bytes(), p.signature.as_bytes()) {
        return Err("bad signature");
    }
    Ok(())
}

pub async fn verify_batch(Json(b): Json<Batch>) -> (StatusCode, Json<Value>) {
    if b.proofs.is_empty() || b.proofs.len() > 100 {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "send 1 to 100 proofs" })),
        );
    }
    let results: Vec<bool> = b.proofs.iter().map(|p| check(p).is_ok()).collect();
    let valid = results.iter().filter(|v| **v).count();
    let status = if valid == results.len() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    (status, Json(json!({ "valid": valid, "results": results })))
}
