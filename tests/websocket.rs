//! WebSocket sessions against real servers: the demo's `/ws` (axum's WebSocket, echo
//! and notifications, its knobs failing upgrades and sessions on purpose), and an echo
//! server over TLS made here with tokio-tungstenite; the config's mistakes refused with
//! their position.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::temp_dir;
use perfgate::demo::{DemoServer, Knob, Knobs};

/// A session: open, an echo, three notifications waited for, close.
fn session_config(host: &str, target_extra: &str) -> String {
    format!(
        r#"[target]
host = "{host}"
{target_extra}
[[users]]
name = "U"
  [[users.tasks]]
  name = "live"
    [[users.tasks.steps]]
    ws = "/ws"
    [[users.tasks.steps]]
    endpoint = "echo"
    send = '{{"id":"{{{{ uuid() }}}}"}}'
    receive = {{ contains = "id" }}
    extract = {{ echoed = "/id" }}
    [[users.tasks.steps]]
    endpoint = "notify"
    send = '{{"after":"{{{{ vars.echoed }}}}","notify":{{"count":3,"every_ms":8}}}}'
    receive = {{ json = {{ "/n" = 2 }} }}
    [[users.tasks.steps]]
    close = true
"#
    )
}

/// Each iteration opens a session, round-trips an echo (its id extracted and sent on)
/// and waits for the third of three notifications 8 ms apart; the demo's counts of
/// upgrades and of messages each way equal perfgate's.
#[test]
fn sessions_against_the_demo_count_what_the_server_counted() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let (r, said) = common::run_config(
        "ws-demo",
        &session_config(&demo.url(), ""),
        &["--users", "2", "--iterations", "20"],
    );
    assert_eq!(r.total.failures, 0, "{said}");
    let e = |name: &str| r.endpoints.iter().find(|e| e.name == name).unwrap();
    let (open, echo, notify) = (e("/ws"), e("echo"), e("notify"));
    assert_eq!((open.method.as_str(), echo.method.as_str()), ("WS", "WS"));
    assert_eq!(open.requests, 20);
    assert_eq!(
        open.requests,
        demo.served_on("/ws"),
        "upgrades, as the demo counted"
    );
    assert_eq!(open.connect.count(), 20, "a connection a session");
    assert_eq!((echo.requests, notify.requests), (20, 20));
    let (server_got, server_sent) = demo.ws_messages();
    let sent: u64 = r.endpoints.iter().map(|e| e.messages_sent).sum();
    let received: u64 = r.endpoints.iter().map(|e| e.messages_received).sum();
    assert_eq!(sent, 40, "two messages an iteration");
    assert_eq!(sent, server_got);
    assert_eq!(
        received, 100,
        "the echo, then the notify's echo and three notifications"
    );
    assert_eq!(received, server_sent);
    // The third notification comes at least 2 × 8 ms after the first.
    let notify_ms = notify.latency.percentile_us(50.0) as f64 / 1000.0;
    let echo_ms = echo.latency.percentile_us(50.0) as f64 / 1000.0;
    assert!(notify_ms >= 16.0, "notify round trip {notify_ms} ms");
    assert!(echo_ms < notify_ms, "echo {echo_ms} ms");
}

/// The demo's knobs on /ws refuse some upgrades (503) and close some sessions with 1011:
/// both are failures with their reason, and the run goes on.
#[test]
fn refused_upgrades_and_closed_sessions_are_failures_with_their_reason() {
    let mut knobs = Knobs::default();
    knobs.endpoints.insert(
        "/ws".into(),
        Knob {
            error_rate: 0.3,
            ..Knob::default()
        },
    );
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let (r, said) = common::run_config(
        "ws-faults",
        &session_config(&demo.url(), ""),
        &["--users", "2", "--iterations", "60"],
    );
    let reasons = &r.total.failure_reasons;
    assert!(
        reasons.get("HTTP 503").copied().unwrap_or(0) > 0,
        "{said}\n{reasons:?}"
    );
    let closed = "WebSocket: closed by the server: 1011 injected failure (demo knob)";
    assert!(reasons.get(closed).copied().unwrap_or(0) > 0, "{reasons:?}");
    let open = r.endpoints.iter().find(|e| e.name == "/ws").unwrap();
    assert_eq!(open.requests, demo.served_on("/ws"));
    assert_eq!(open.failures, reasons["HTTP 503"]);
}

/// An echo server over TLS (tokio-tungstenite's server side), offering only HTTP/1.1
/// by ALPN as WebSocket needs: counts the messages it echoed.
fn tls_echo_server(cert: &str, key: &str) -> (u16, Arc<AtomicU64>) {
    use futures_util::{SinkExt as _, StreamExt as _};
    let echoed = Arc::new(AtomicU64::new(0));
    let counted = echoed.clone();
    let port = common::tls::serve(cert, key, b"http/1.1", move |tls| {
        let counted = counted.clone();
        async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                if m.is_text() {
                    counted.fetch_add(1, Ordering::Relaxed);
                    if ws.send(m).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (port, echoed)
}

#[test]
fn wss_sessions_over_tls() {
    let (cert, key) = common::tls::localhost_cert();
    let (port, echoed) = tls_echo_server(&cert, &key);
    let dir = temp_dir("ws-tls-cert");
    let ca = common::write(&dir, "cert.pem", &cert);
    let config = format!(
        r#"[target]
host = "https://localhost:{port}"
ca_file = {:?}
[[users]]
name = "U"
  [[users.tasks]]
    [[users.tasks.steps]]
    ws = "/echo"
    [[users.tasks.steps]]
    send = "ping {{{{ user }}}}"
    receive = {{ contains = "ping" }}
    repeat = {{ times = 3 }}
"#,
        ca.display().to_string()
    );
    let (r, said) = common::run_config("ws-tls", &config, &["--users", "2", "--iterations", "10"]);
    assert_eq!(r.total.failures, 0, "{said}");
    let exchange = r.endpoints.iter().find(|e| e.name == "/echo send").unwrap();
    assert_eq!(exchange.requests, 30, "{said}");
    assert_eq!(exchange.messages_sent, 30);
    assert_eq!(exchange.messages_received, 30);
    assert_eq!(echoed.load(Ordering::Relaxed), 30, "as the server echoed");
}

/// Mistakes are refused before any load with their position (exit 2).
#[test]
fn websocket_mistakes_are_refused_with_their_position() {
    let task = |steps: &str| {
        format!("[target]\nhost = \"http://127.0.0.1:9\"\n[[users]]\nname = \"U\"\n  [[users.tasks]]\n{steps}")
    };
    let cases = [
        (
            task("    [[users.tasks.steps]]\n    send = \"hi\"\n"),
            "no WebSocket session is open here: a step with ws = \"/path\" comes first",
        ),
        (
            task("    [[users.tasks.steps]]\n    ws = \"/ws\"\n    method = \"POST\"\n"),
            "a WebSocket step has no `method`",
        ),
        (
            task("    [[users.tasks.steps]]\n    ws = \"ws\"\n"),
            "must start with '/'",
        ),
        (
            task("    [[users.tasks.steps]]\n    ws = \"/ws\"\n    [[users.tasks.steps]]\n    receive = { jsn = {} }\n"),
            "unknown field `jsn`",
        ),
    ];
    for (config, says) in cases {
        let err = common::refused(&config);
        assert!(err.contains(says), "{config}: {err}");
    }
}

/// A `receive` that never matches is not a pass on no samples: the run stops on time
/// (not after `[target] timeout`), the terminal says how many steps were in flight and
/// on which endpoint, and a budget naming that endpoint fails with no data, saying why.
#[test]
fn a_receive_that_never_matches_is_no_data_said_with_what_was_in_flight() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("ws-never");
    let cfg = dir.join("perfgate.toml");
    let text = format!(
        r#"[target]
host = "{}"
timeout = "30s"

[[users]]
name = "live"
wait = {{ constant = "100ms" }}
  [[users.tasks]]
  name = "live"
    [[users.tasks.steps]]
    ws = "/ws"
    [[users.tasks.steps]]
    endpoint = "never"
    send = '{{"hello":1}}'
    receive = {{ contains = "no such text" }}

[budgets.default]
error_rate = "1%"
[budgets.default.endpoints.never]
p95 = "100ms"
"#,
        demo.url()
    );
    std::fs::write(&cfg, text).unwrap();
    let began = std::time::Instant::now();
    let out = common::perfgate()
        .args(["run", "--users", "2", "--duration", "2s", "-c"])
        .arg(&cfg)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert!(began.elapsed().as_secs() < 15, "{:?}", began.elapsed());
    let said = String::from_utf8_lossy(&out);
    assert!(
        said.contains("2 in flight at the stop (not counted: 2 on never)"),
        "{said}"
    );
    assert!(
        said.contains("p95 latency: no data on never")
            && said.contains("2 in flight at the stop never completed"),
        "{said}"
    );
}
