//! The seed's three user classes written in Rust: the same tasks, weights and waits as
//! `examples/perfgate.toml`'s `[[users]]`, which these replace by name. Against the
//! embedded demo service, with the bundled scenarios and budgets:
//!
//! ```text
//! cargo run --release --example seed_users -- demo --scenario smoke
//! ```
//!
//! Or against your service with your config: `cargo run --example seed_users -- -c
//! perfgate.toml --env staging` (the `perfgate run` flags; `run` is the default).

use std::time::{SystemTime, UNIX_EPOCH};

use perfgate::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;

#[derive(Deserialize)]
struct Verdict {
    valid: Value,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn random_hex() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// A login proof, signed as the demo service checks it.
fn login_proof() -> Value {
    let (uid, nonce, ts) = (random_hex(), random_hex(), now_ms());
    let signature = perfgate::demo::sign(&format!("login|{uid}|{nonce}|{ts}"));
    json!({"type": "login", "user_id": uid, "nonce": nonce, "timestamp": ts, "signature": signature})
}

/// Sends a proof to `path` and counts whether the service found it valid.
async fn verify(u: &mut User, path: &str, proof: &Value, valid: Value) -> Outcome {
    let r = u.post(path).json(proof).send().await?;
    let verdict: Verdict = r.json()?;
    u.check("proof valid", verdict.valid == valid);
    Ok(())
}

async fn verify_login_proof(u: &mut User) -> Outcome {
    verify(u, "/api/verify-proof", &login_proof(), json!(true)).await
}

async fn verify_transaction_proof(u: &mut User) -> Outcome {
    let (uid, nonce, ts) = (random_hex(), random_hex(), now_ms());
    let signature = perfgate::demo::sign(&format!("transaction|{uid}|{nonce}|{ts}"));
    let proof = json!({"type": "transaction", "user_id": uid, "nonce": nonce, "timestamp": ts,
                       "amount": fastrand::u32(1..=5000), "signature": signature});
    verify(u, "/api/verify-proof", &proof, json!(true)).await
}

async fn verify_biometric_proof(u: &mut User) -> Outcome {
    let (uid, ts) = (random_hex(), now_ms());
    let bio = hex::encode(sha2::Sha256::digest(uid.as_bytes()));
    let signature = perfgate::demo::sign(&format!("biometric|{uid}|{bio}|{ts}"));
    let proof =
        json!({"user_id": uid, "biometric_hash": bio, "timestamp": ts, "signature": signature});
    u.post("/api/verify-biometric-proof")
        .json(&proof)
        .send()
        .await?;
    Ok(())
}

async fn health_check(u: &mut User) -> Outcome {
    let r = u.get("/health").send().await?;
    u.check("says ok", r.text()?.contains("ok"));
    Ok(())
}

async fn batch_verify_proofs(u: &mut User) -> Outcome {
    let proofs: Vec<Value> = (0..10).map(|_| login_proof()).collect();
    let batch = json!({ "proofs": proofs });
    verify(u, "/api/batch-verify-proofs", &batch, json!(10)).await
}

/// The ProofMessengerUser's tasks, shared with the PeakHourUser.
fn proof_messenger(c: perfgate::Class) -> perfgate::Class {
    c.task(50, verify_login_proof)
        .task(30, verify_transaction_proof)
        .task(15, verify_biometric_proof)
        .task(5, health_check)
}

fn main() -> std::process::ExitCode {
    Test::new()
        .user("ProofMessengerUser", 1, |c| {
            proof_messenger(c).wait(between(500.ms(), 2500.ms()))
        })
        .user("HighVolumeUser", 1, |c| {
            c.task(1, batch_verify_proofs)
                .wait(between(100.ms(), 500.ms()))
        })
        .user("PeakHourUser", 3, |c| {
            proof_messenger(c).wait(between(200.ms(), 1.s()))
        })
        .main()
}
