//! HTTP/2 against real HTTP/2 servers: one made here with the `h2` crate that counts
//! connections and streams and misbehaves on purpose (a stream refused, GOAWAY after a
//! few requests), over cleartext (prior knowledge) and over TLS (ALPN); and the demo
//! service, which serves HTTP/2 too.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::temp_dir;
use perfgate::metrics::RunResult;

/// What the server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// An HTTP/2 server on 127.0.0.1: 200 "ok" for every path but `/refuse`, whose stream
/// it resets with REFUSED_STREAM; with `goaway_after`, each connection says GOAWAY
/// after that many requests. With `tls` (certificate, key), it speaks TLS offering h2.
fn h2_server(goaway_after: Option<u64>, tls: Option<(String, String)>) -> (u16, Arc<Seen>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    let acceptor = tls.map(|(cert, key)| common::tls::acceptor(&cert, &key, b"h2"));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                counts.connections.fetch_add(1, Ordering::Relaxed);
                let (counts, acceptor) = (counts.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        None => serve(tcp, goaway_after, &counts).await,
                        Some(a) => {
                            if let Ok(tls) = a.accept(tcp).await {
                                serve(tls, goaway_after, &counts).await
                            }
                        }
                    }
                });
            }
        });
    });
    (port, seen)
}

async fn serve<S>(io: S, goaway_after: Option<u64>, seen: &Seen)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // At most 8 streams at once on a connection: users sharing one wait for a turn.
    let Ok(mut conn) = h2::server::Builder::new()
        .max_concurrent_streams(8)
        .handshake(io)
        .await
    else {
        return;
    };
    let mut n = 0;
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        n += 1;
        seen.requests.fetch_add(1, Ordering::Relaxed);
        if req.uri().path() == "/refuse" {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            continue;
        }
        let resp = http::Response::builder().status(200).body(()).unwrap();
        if let Ok(mut body) = respond.send_response(resp, false) {
            let _ = body.send_data(Bytes::from_static(b"ok\n"), true);
        }
        if goaway_after == Some(n) {
            conn.graceful_shutdown();
        }
    }
}

/// Runs perfgate against `host` with `paths`, `users` users for `duration`; the result.
fn run(name: &str, host: &str, target_extra: &str, paths: &[&str], args: &[&str]) -> RunResult {
    let dir = temp_dir(name);
    let mut cfg = format!("[target]\nhost = \"{host}\"\n{target_extra}\n[[users]]\nname = \"U\"\nwait = {{ constant = \"5ms\" }}\n");
    for p in paths {
        cfg.push_str(&format!("  [[users.tasks]]\n  path = \"{p}\"\n"));
    }
    std::fs::write(dir.join("perfgate.toml"), cfg).unwrap();
    let out = dir.join("r.json");
    let done = common::perfgate()
        .arg("run")
        .arg("-c")
        .arg(dir.join("perfgate.toml"))
        .args(args)
        .args(["--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(out.is_file(), "{}", String::from_utf8_lossy(&done.stderr));
    RunResult::load(&out).unwrap()
}

/// Cleartext HTTP/2 by prior knowledge: one connection a user, every request a stream
/// on it, counted as the server counted them.
#[test]
fn h2c_sends_every_request_as_a_stream_on_one_connection_a_user() {
    let (port, seen) = h2_server(None, None);
    let host = format!("http://127.0.0.1:{port}");
    let r = run(
        "h2c",
        &host,
        "http = \"2\"",
        &["/ok"],
        &["--users", "4", "--duration", "2s"],
    );
    assert!(r.total.requests > 100, "{}", r.total.requests);
    assert_eq!(r.total.failures, 0, "{:?}", r.endpoints[0].failure_reasons);
    assert_eq!(r.total.requests, seen.requests.load(Ordering::Relaxed));
    // One a user, and the connection perfgate tries before any load (HTTP/2's preface
    // only: no stream).
    assert_eq!(
        seen.connections.load(Ordering::Relaxed),
        4 + 1,
        "one connection a user"
    );
    assert_eq!(r.total.connect.count(), 4);
    assert_eq!(r.total.http2_connections, 4, "each spoke HTTP/2");
}

/// `[target] connections = 2`: forty users share two connections, their requests
/// multiplexed as streams within the server's limit of 8 at once; nothing fails and
/// the counts agree.
#[test]
fn users_can_share_a_few_multiplexed_connections() {
    let (port, seen) = h2_server(None, None);
    let host = format!("http://127.0.0.1:{port}");
    let extra = "http = \"2\"\nconnections = 2";
    let r = run(
        "h2-pool",
        &host,
        extra,
        &["/ok"],
        &["--users", "40", "--duration", "2s", "--threads", "2"],
    );
    assert!(r.total.requests > 200, "{}", r.total.requests);
    assert_eq!(r.total.failures, 0, "{:?}", r.endpoints[0].failure_reasons);
    assert_eq!(r.total.requests, seen.requests.load(Ordering::Relaxed));
    assert_eq!(
        seen.connections.load(Ordering::Relaxed),
        2 + 1,
        "two, and the probe"
    );
    assert_eq!(r.total.http2_connections, 2);
    // Sharing needs HTTP/2 said plainly.
    let dir = temp_dir("h2-pool-bad");
    let cfg = dir.join("perfgate.toml");
    std::fs::write(&cfg, format!("[target]\nhost = \"{host}\"\nconnections = 2\n[[users]]\nname = \"U\"\n  [[users.tasks]]\n  path = \"/\"\n")).unwrap();
    let out = common::perfgate()
        .arg("run")
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains(
            "perfgate.toml:3:15: [target] connections shares HTTP/2 connections: set http = \"2\""
        ),
        "{err}"
    );
}

/// A stream the server resets is a failure with its reason, and the connection goes on;
/// GOAWAY makes the user reconnect, and nothing is lost or counted twice.
#[test]
fn resets_are_failures_with_their_reason_and_goaway_reconnects() {
    let (port, seen) = h2_server(None, None);
    let host = format!("http://127.0.0.1:{port}");
    let r = run(
        "h2-reset",
        &host,
        "http = \"2\"",
        &["/ok", "/refuse"],
        &["--users", "2", "--duration", "2s"],
    );
    let refused = r.endpoints.iter().find(|e| e.name == "/refuse").unwrap();
    assert!(refused.requests > 10 && refused.failures == refused.requests);
    assert_eq!(
        refused.failure_reasons.keys().collect::<Vec<_>>(),
        ["bad response: RST_STREAM: REFUSED_STREAM"]
    );
    let ok = r.endpoints.iter().find(|e| e.name == "/ok").unwrap();
    assert_eq!(ok.failures, 0);
    assert_eq!(
        seen.connections.load(Ordering::Relaxed),
        2 + 1,
        "a reset stream keeps its connection"
    );

    let (port, seen) = h2_server(Some(5), None);
    let host = format!("http://127.0.0.1:{port}");
    let r = run(
        "h2-goaway",
        &host,
        "http = \"2\"",
        &["/ok"],
        &["--users", "2", "--duration", "2s"],
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.endpoints[0].failure_reasons);
    assert_eq!(r.total.requests, seen.requests.load(Ordering::Relaxed));
    let connections = seen.connections.load(Ordering::Relaxed);
    assert!(
        connections >= r.total.requests / 5,
        "{connections} connections for {} requests",
        r.total.requests
    );
    assert_eq!(
        r.total.http2_connections,
        connections - 1,
        "all but the probe"
    );

    // Shared connections: a request the GOAWAY turned back is sent again on a new one,
    // and counted as a retry.
    let (port, seen) = h2_server(Some(5), None);
    let host = format!("http://127.0.0.1:{port}");
    let r = run(
        "h2-goaway-pool",
        &host,
        "http = \"2\"\nconnections = 1",
        &["/ok"],
        &["--users", "10", "--duration", "2s", "--threads", "1"],
    );
    assert_eq!(r.total.failures, 0, "{:?}", r.endpoints[0].failure_reasons);
    assert_eq!(r.total.requests, seen.requests.load(Ordering::Relaxed));
    assert!(
        r.total.retries > 0,
        "{} requests, no retry",
        r.total.requests
    );
    assert_eq!(
        r.total.http2_connections,
        seen.connections.load(Ordering::Relaxed) - 1
    );
}

/// Over TLS, `http = "auto"` (the default) speaks HTTP/2 when the server offers it by
/// ALPN; `http = "1.1"` offers nothing and would not (this server speaks only h2).
#[test]
fn tls_negotiates_h2_by_alpn() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (port, seen) = h2_server(None, Some((cert.pem(), key.serialize_pem())));
    let dir = temp_dir("h2-tls-cert");
    let ca = dir.join("cert.pem");
    std::fs::write(&ca, cert.pem()).unwrap();
    let host = format!("https://localhost:{port}");
    let extra = format!("ca_file = \"{}\"", ca.display());
    let r = run(
        "h2-tls",
        &host,
        &extra,
        &["/ok"],
        &["--users", "2", "--duration", "1s"],
    );
    assert!(r.total.requests > 20);
    assert_eq!(r.total.failures, 0, "{:?}", r.endpoints[0].failure_reasons);
    assert_eq!(r.total.requests, seen.requests.load(Ordering::Relaxed));
    assert_eq!(
        r.total.http2_connections,
        r.total.connect.count(),
        "ALPN chose h2"
    );
    let r = run(
        "h2-tls-11",
        &host,
        &format!("{extra}\nhttp = \"1.1\""),
        &["/ok"],
        &["--users", "1", "--duration", "1s"],
    );
    assert_eq!(
        r.total.failures, r.total.requests,
        "an h2-only server refuses HTTP/1.1"
    );
}

/// The embedded demo serves HTTP/2 too: its whole scenario runs over h2c (by prior
/// knowledge: a server speaking only HTTP/1.1 would fail every request), and with
/// `--tls` over TLS with a certificate of its own, which the run trusts, ALPN picking
/// HTTP/2 (HTTP/1.1 when asked). Nothing fails, and the demo's count equals perfgate's.
#[test]
fn the_demo_serves_http2_in_cleartext_and_over_tls() {
    let cases: [(&[&str], &str, bool); 3] = [
        (&["--http", "2"], "http://", true),
        (&["--tls"], "https://", true),
        (&["--tls", "--http", "1.1"], "https://", false),
    ];
    for (args, scheme, h2) in cases {
        let out = temp_dir("h2-demo").join("r.json");
        let done = common::perfgate()
            .args(["demo", "--scenario", "smoke", "--duration", "2s"])
            .args(args)
            .args(["--quiet", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&done.stdout);
        let r = RunResult::load(&out).unwrap();
        assert_eq!(r.total.failures, 0, "{args:?}: {said}");
        assert!(r.target.starts_with(scheme), "{}", r.target);
        assert_eq!(r.total.requests, common::demo_count(&said));
        let connections = r.total.connect.count();
        assert!(connections >= 10, "{connections}");
        let expected = if h2 { connections } else { 0 };
        assert_eq!(r.total.http2_connections, expected, "{args:?}");
    }
}

/// A server that does not speak the HTTP asked for is named before any load, exit 2:
/// `--http 1.1` against an h2c-only server (which answers the start of an HTTP/1.1
/// request with its SETTINGS), `--http 2` against an HTTP/1.1-only one (which answers
/// HTTP/2's preface in HTTP/1.1). Nothing is counted, no request reaches either.
#[test]
fn a_server_speaking_the_other_http_is_named_before_any_load() {
    let dir = temp_dir("wrong-http");
    let cfg = |host: &str| {
        let path = dir.join(format!("{}.toml", host.len()));
        std::fs::write(
            &path,
            format!("[target]\nhost = \"{host}\"\n[[users]]\nname = \"U\"\n  [[users.tasks]]\n  path = \"/ok\"\n"),
        )
        .unwrap();
        path
    };
    let refused = |host: &str, http: &str| {
        let done = common::perfgate()
            .args([
                "run",
                "--users",
                "2",
                "--duration",
                "2s",
                "--http",
                http,
                "-c",
            ])
            .arg(cfg(host))
            .output()
            .unwrap();
        assert_eq!(done.status.code(), Some(2));
        String::from_utf8_lossy(&done.stderr).into_owned()
    };
    let (port, seen) = h2_server(None, None);
    let err = refused(&format!("http://127.0.0.1:{port}"), "1.1");
    assert!(
        err.contains("speaks only HTTP/2 in cleartext (h2c)") && err.contains("http = \"2\""),
        "{err}"
    );
    assert_eq!(seen.requests.load(Ordering::Relaxed), 0);

    let http1 = common::flow::FlowServer::start();
    let err = refused(&http1.url, "2");
    assert!(
        err.contains("does not speak HTTP/2 in cleartext (h2c): it answered HTTP/1.1")
            && err.contains("--http 1.1"),
        "{err}"
    );
    assert_eq!(http1.count("/ok"), 0);
}
