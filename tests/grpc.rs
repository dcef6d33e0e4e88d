//! gRPC against real gRPC servers: the demo's `perfgate.demo.Proofs` (served by
//! tonic) over h2c, with its knobs failing calls on purpose; a gRPC answer over TLS from
//! a server made here with the `h2` crate; and the config's mistakes, each refused with
//! its position before any load.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::temp_dir;
use perfgate::demo::{DemoServer, Knob, Knobs};

const VERIFY: &str = "/perfgate.demo.Proofs/Verify";
const BATCH: &str = "/perfgate.demo.Proofs/VerifyBatch";

fn proto() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grpc/proofs.proto")
}

/// The bundled example (unary calls with templated, signed proofs, metadata, a
/// server-streaming batch) against the demo: every call succeeds, the demo's count per
/// method equals perfgate's, each streamed message is timed, and the budget on it holds.
#[test]
fn the_example_calls_the_demo_and_counts_match() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let config = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grpc/perfgate.toml"),
    )
    .unwrap()
    .replace(
        "\"proofs.proto\"",
        &format!("{:?}", proto().display().to_string()),
    );
    let (r, said) = common::run_config(
        "grpc-example",
        &config,
        &["--host", &demo.url(), "--users", "4", "--duration", "3s"],
    );
    assert_eq!(r.total.failures, 0, "{said}");
    assert!(r.total.requests > 30, "{said}");
    for e in &r.endpoints {
        assert_eq!(e.method, "GRPC");
        assert_eq!(
            e.requests,
            demo.served_on(&e.name),
            "{} as the demo counted",
            e.name
        );
    }
    let served = demo.served();
    assert!(
        served.values().flat_map(|m| m.keys()).all(|s| *s == 200),
        "{served:?}"
    );
    let batch = r.endpoints.iter().find(|e| e.name == BATCH).unwrap();
    let gaps = &batch.metrics["message_ms"];
    assert_eq!(
        gaps.count(),
        5 * batch.requests,
        "five messages a batch, each timed"
    );
    // The demo sends them 5 ms apart: the median gap is about that, not the whole call.
    let p50_ms = gaps.percentile_us(50.0) as f64 / 1000.0;
    assert!((4.0..15.0).contains(&p50_ms), "median gap {p50_ms} ms");
    assert!(said.contains("PASSED"), "{said}");
}

fn verify_config(host: &str, message: &str) -> String {
    format!(
        "[target]\nhost = \"{host}\"\n[grpc]\nprotos = [{:?}]\n[[users]]\nname = \"U\"\nwait = {{ constant = \"2ms\" }}\n  [[users.tasks]]\n  grpc = \"perfgate.demo.Proofs/Verify\"\n  message = '''{message}'''\n",
        proto().display().to_string()
    )
}

const SIGNED: &str = r#"{%- set ts = now_ms() -%}{"type":"login","user_id":"u","nonce":"n","timestamp":{{ ts }},"signature":"{{ hmac_sha256("perfgate-demo-key", "login|u|n|" ~ ts) }}"}"#;

/// A call fails with its status's name: the demo's injected errors are UNAVAILABLE (as
/// many as it injected), a proof that does not verify is UNAUTHENTICATED.
#[test]
fn calls_fail_with_their_grpc_status() {
    let mut knobs = Knobs::default();
    knobs.endpoints.insert(
        VERIFY.into(),
        Knob {
            error_rate: 0.3,
            ..Knob::default()
        },
    );
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let (r, said) = common::run_config(
        "grpc-unavailable",
        &verify_config(&demo.url(), SIGNED),
        &["--users", "2", "--duration", "2s"],
    );
    let e = &r.endpoints[0];
    let unavailable = e
        .failure_reasons
        .get("gRPC UNAVAILABLE")
        .copied()
        .unwrap_or(0);
    assert!(unavailable > 10, "{said}\n{:?}", e.failure_reasons);
    assert_eq!(e.failures, unavailable, "{:?}", e.failure_reasons);
    assert_eq!(e.requests, demo.served_on(VERIFY));
    let injected = demo.served()[VERIFY][&200];
    assert_eq!(injected, e.requests, "gRPC answers HTTP 200 either way");

    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let unsigned = r#"{"type":"login","user_id":"u","nonce":"n","timestamp":1,"signature":"x"}"#;
    let (r, _) = common::run_config(
        "grpc-unauthenticated",
        &verify_config(&demo.url(), unsigned),
        &["--users", "1", "--duration", "1s"],
    );
    let e = &r.endpoints[0];
    assert!(e.requests > 10);
    assert_eq!(
        e.failure_reasons.get("gRPC UNAUTHENTICATED"),
        Some(&e.requests)
    );
}

/// In the open model, calls go out at the rate asked (each from its scheduled time),
/// every one answered and counted as the demo counted it.
#[test]
fn grpc_in_the_open_model() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let (r, said) = common::run_config(
        "grpc-open",
        &verify_config(&demo.url(), SIGNED),
        &["--rate", "100/s", "--users", "20", "--duration", "2s"],
    );
    assert_eq!(r.total.failures, 0, "{said}");
    assert!((190..=202).contains(&r.total.requests), "{said}");
    assert_eq!(r.total.requests, demo.served_on(VERIFY));
    assert_eq!(r.total.dropped, 0);
}

/// REST and gRPC in one task under `http = "auto"` in cleartext: the REST request stays
/// HTTP/1.1 (a server without h2c would still answer it), the call goes over HTTP/2 on
/// a connection of its own — one of each a user.
#[test]
fn rest_and_grpc_share_a_task_each_on_its_protocol() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let config = verify_config(&demo.url(), SIGNED).replace(
        "  [[users.tasks]]\n  grpc",
        "  [[users.tasks]]\n    [[users.tasks.steps]]\n    path = \"/health\"\n    [[users.tasks.steps]]\n  grpc",
    );
    let (r, said) = common::run_config(
        "grpc-rest",
        &config,
        &["--users", "2", "--spawn-rate", "100", "--duration", "1s"],
    );
    assert_eq!(r.total.failures, 0, "{said}");
    let e = |name: &str| r.endpoints.iter().find(|e| e.name == name).unwrap();
    let (health, verify) = (e("/health"), e(VERIFY));
    assert!(health.requests > 20, "{said}");
    assert_eq!(health.requests, demo.served_on("/health"));
    assert_eq!(verify.requests, demo.served_on(VERIFY));
    assert_eq!((health.connect.count(), health.http2_connections), (2, 0));
    assert_eq!((verify.connect.count(), verify.http2_connections), (2, 2));
}

/// Mistakes in a gRPC step are refused before any load, with where they are and what
/// to write instead (exit 2).
#[test]
fn grpc_mistakes_are_refused_with_their_position() {
    let cases: [(&str, String, &str); 5] = [
        (
            "unknown method",
            verify_config("http://127.0.0.1:9", "{}").replace("/Verify", "/Verfy"),
            "has no method \"Verfy\" (it has: Verify, VerifyBiometric, VerifyBatch)",
        ),
        (
            "a field the message has not",
            verify_config("http://127.0.0.1:9", r#"{"amount": 3}"#),
            "message is not a perfgate.demo.Proof",
        ),
        (
            "HTTP/1.1 forced",
            verify_config("http://127.0.0.1:9", "{}").replace("[grpc]", "http = \"1.1\"\n[grpc]"),
            "gRPC steps need HTTP/2",
        ),
        (
            "no protos",
            verify_config("http://127.0.0.1:9", "{}")
                .lines()
                .filter(|l| !l.starts_with("[grpc]") && !l.starts_with("protos"))
                .collect::<Vec<_>>()
                .join("\n"),
            "add [grpc] protos",
        ),
        (
            "a path besides",
            verify_config("http://127.0.0.1:9", "{}")
                .replace("  message", "  path = \"/x\"\n  message"),
            "a gRPC step has no `path`",
        ),
    ];
    for (what, config, says) in cases {
        let err = common::refused(&config);
        assert!(err.contains(says), "{what}: {err}");
    }
}

/// A gRPC server over TLS, made here with the `h2` crate: every call answers one
/// `Verdict { valid: true }` and `grpc-status: 0` in the trailers; counts calls.
fn tls_grpc_server(cert: &str, key: &str) -> (u16, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    let port = common::tls::serve(cert, key, b"h2", move |tls| {
        let counted = counted.clone();
        async move {
            let Ok(mut conn) = h2::server::handshake(tls).await else {
                return;
            };
            while let Some(Ok((req, mut respond))) = conn.accept().await {
                let grpc = req.headers()["content-type"] == "application/grpc"
                    && req.headers()["te"] == "trailers";
                counted.fetch_add(1, Ordering::Relaxed);
                let resp = http::Response::builder()
                    .header("content-type", "application/grpc")
                    .body(())
                    .unwrap();
                let Ok(mut body) = respond.send_response(resp, false) else {
                    continue;
                };
                let verdict: &[u8] = if grpc {
                    &[0, 0, 0, 0, 2, 0x08, 0x01]
                } else {
                    &[]
                };
                let _ = body.send_data(bytes::Bytes::copy_from_slice(verdict), false);
                let mut trailers = http::HeaderMap::new();
                let status = if grpc { "0" } else { "3" };
                trailers.insert("grpc-status", status.parse().unwrap());
                let _ = body.send_trailers(trailers);
            }
        }
    });
    (port, calls)
}

/// Over TLS, the call goes by ALPN's h2; the answer's message is read back as JSON for
/// `expect`, and the status from the trailers. Counts equal the server's.
#[test]
fn grpc_over_tls() {
    let (cert, key) = common::tls::localhost_cert();
    let (port, calls) = tls_grpc_server(&cert, &key);
    let dir = temp_dir("grpc-tls");
    let ca = common::write(&dir, "cert.pem", &cert);
    let config = verify_config(&format!("https://localhost:{port}"), SIGNED)
        .replace(
            "[grpc]",
            &format!("ca_file = {:?}\n[grpc]", ca.display().to_string()),
        )
        .replace(
            "  message",
            "  expect = { json = { \"/valid\" = true } }\n  message",
        );
    let (r, said) = common::run_config(
        "grpc-tls-run",
        &config,
        &["--users", "2", "--duration", "1s"],
    );
    assert!(r.total.requests > 20, "{said}");
    assert_eq!(r.total.failures, 0, "{said}");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(r.total.requests, calls.load(Ordering::Relaxed));

    // The demo's tonic service over TLS, its certificate trusted through ca_file.
    let demo = DemoServer::start_tls("127.0.0.1:0", Knobs::default()).unwrap();
    let ca = common::write(&dir, "demo.pem", demo.certificate().unwrap());
    let config = verify_config(&demo.url(), SIGNED).replace(
        "[grpc]",
        &format!("ca_file = {:?}\n[grpc]", ca.display().to_string()),
    );
    let (r, said) = common::run_config(
        "grpc-tls-demo",
        &config,
        &["--users", "2", "--duration", "1s"],
    );
    assert!(r.total.requests > 20, "{said}");
    assert_eq!(r.total.failures, 0, "{said}");
    assert_eq!(r.total.requests, demo.served_on(VERIFY));
    assert_eq!(r.total.http2_connections, r.total.connect.count());
}
