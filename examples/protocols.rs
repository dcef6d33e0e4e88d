//! A user written in Rust speaking the demo's gRPC and WebSocket: the methods come from
//! the config's `[grpc] protos` (examples/grpc/perfgate.toml, whose class this
//! replaces); the session is the demo's `/ws` (an echo, then notifications).
//! A signed proof verifies (a refused one would fail with `Failure::Grpc(16)`,
//! UNAUTHENTICATED); the batch streams its verdicts, each timed in `message_ms`.
//!
//! ```text
//! perfgate demo --serve 127.0.0.1:8000 &
//! cargo run --example protocols -- -c examples/grpc/perfgate.toml --duration 5s
//! ```

use perfgate::prelude::*;
use serde_json::json;

/// A login proof of `user`, signed as the demo wants, or forged.
fn proof(user: &str, signed: bool) -> serde_json::Value {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let message = format!("login|{user}|n-{ts}|{ts}");
    json!({
        "type": "login",
        "user_id": user,
        "nonce": format!("n-{ts}"),
        "timestamp": ts,
        "signature": if signed { perfgate::demo::sign(&message) } else { "forged".into() },
    })
}

async fn verify(u: &mut User) -> Outcome {
    let reply = u
        .grpc("perfgate.demo.Proofs/Verify", &proof("ann", true))
        .send()
        .await?;
    let verdict: serde_json::Value = reply.json()?;
    u.check("a signed proof is valid", verdict["valid"] == true);
    Ok(())
}

async fn batch(u: &mut User) -> Outcome {
    let proofs: Vec<_> = (0..3).map(|i| proof(&format!("u{i}"), true)).collect();
    let reply = u
        .grpc(
            "perfgate.demo.Proofs/VerifyBatch",
            &json!({ "proofs": proofs }),
        )
        .send()
        .await?;
    let verdicts: Vec<serde_json::Value> = reply.json()?;
    u.check("three verdicts streamed", verdicts.len() == 3);
    Ok(())
}

async fn live(u: &mut User) -> Outcome {
    u.ws_open("/ws").await?;
    let id = format!("{}-{}", u.id(), fastrand_id());
    let echo = u
        .ws_exchange("echo", Some(&json!({ "id": id }).to_string()), |m| {
            m.contains(&id)
        })
        .await?;
    u.check("the echo is ours", echo.contains(&id));
    let notify = json!({ "notify": { "count": 3, "every_ms": 5 } }).to_string();
    u.ws_exchange("third notification", Some(&notify), |m| {
        m.contains(r#""n":2"#)
    })
    .await?;
    u.ws_close().await;
    Ok(())
}

/// A number to tell this user's messages apart.
fn fastrand_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn main() -> std::process::ExitCode {
    Test::from_config("examples/grpc/perfgate.toml")
        .user("ProofClient", 1, |c| {
            c.task(3, verify)
                .task(1, batch)
                .task(1, live)
                .wait(constant(10.ms()))
        })
        .main()
}
