//! TLS and networks as staging environments have them, each against a real local server:
//! the self-signed certificate people make (CA:TRUE), one signed by a private CA, expired,
//! for another host, untrusted (`insecure`), a server that requires a client certificate,
//! an HTTP proxy that counts what it forwarded (CONNECT for https, absolute-form for
//! http, from `[target] proxy` or HTTP(S)_PROXY less NO_PROXY), and IPv6.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{config, run, temp_dir};
use perfgate::config::Overrides;
use perfgate::metrics::RunResult;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate and its key.
struct Cert {
    params: CertificateParams,
    der: CertificateDer<'static>,
    pem: String,
    key: KeyPair,
}

impl Cert {
    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key.serialize_der().into())
    }
}

/// A certificate for `names`, CA:TRUE or not, self-signed or signed by `issuer`.
fn cert(
    names: &[&str],
    ca: bool,
    issuer: Option<&Cert>,
    tweak: impl FnOnce(&mut CertificateParams),
) -> Cert {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    tweak(&mut params);
    let key = KeyPair::generate().unwrap();
    let c = match issuer {
        None => params.self_signed(&key).unwrap(),
        Some(i) => {
            let issuer = Issuer::from_params(&i.params, &i.key);
            params.signed_by(&key, &issuer).unwrap()
        }
    };
    Cert {
        params,
        der: c.der().clone(),
        pem: c.pem(),
        key,
    }
}

/// A TLS server on `bind` that answers every request "ok" and counts them; with
/// `client_ca`, it requires a client certificate that CA signed.
fn tls_server(bind: &str, server: &Cert, client_ca: Option<&Cert>) -> (u16, Arc<AtomicU64>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.der.clone()).unwrap();
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(v)
        }
    };
    let config = builder
        .with_single_cert(vec![server.der.clone()], server.key_der())
        .unwrap();
    serve(bind, config)
}

/// Serves TLS with `config` on `bind`, answering every request "ok" and counting them.
fn serve(bind: &str, config: rustls::ServerConfig) -> (u16, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(bind).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicU64::new(0));
    let count = served.clone();
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
                let (acceptor, count) = (acceptor.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = tls.read(&mut chunk).await {
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            count.fetch_add(1, Ordering::Relaxed);
                            let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if tls.write_all(ok).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
    });
    (port, served)
}

/// 100 requests from 2 users to `url` with `target` lines added to [target].
fn load(url: &str, target: &str, vars: &[(&str, &str)]) -> RunResult {
    let text = config(url, "{ constant = \"0ms\" }", &[("h", "/", 1)]).replacen(
        "[target]\n",
        &format!("[target]\n{target}\n"),
        1,
    );
    run(
        &text,
        Overrides {
            iterations: Some(100),
            users: Some(2),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        },
    )
}

fn write_pem(dir: &std::path::Path, name: &str, pem: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path.display().to_string()
}

/// Every one of the `n` requests was answered as expected.
fn all_answered(r: &RunResult, n: u64) {
    assert_eq!(
        (r.total.requests, r.total.failures),
        (n, 0),
        "{}",
        reasons(r)
    );
}

/// Every request failed, saying `words`.
fn all_failed(r: &RunResult, words: &str) {
    assert_eq!(r.total.failures, r.total.requests, "{}", reasons(r));
    assert!(r.total.requests > 0);
    assert!(reasons(r).contains(words), "{}", reasons(r));
}

/// The failure reasons of a run, as one string.
fn reasons(r: &RunResult) -> String {
    format!("{:?}", r.total.failure_reasons)
}

#[test]
fn a_self_signed_certificate_is_trusted_through_ca_file_over_kept_connections() {
    let dir = temp_dir("tls-ca-false");
    let server = cert(&["localhost"], false, None, |_| {});
    let (port, served) = tls_server("127.0.0.1:0", &server, None);
    let ca = format!("ca_file = \"{}\"", write_pem(&dir, "cert.pem", &server.pem));
    let r = load(&format!("https://localhost:{port}"), &ca, &[]);
    all_answered(&r, 100);
    assert_eq!(served.load(Ordering::Relaxed), 100);
    // Keep-alive: a connection (a handshake) per user, not per request.
    assert!(
        r.total.connect.count() <= 2,
        "{} connections",
        r.total.connect.count()
    );
}

#[test]
fn a_self_signed_ca_true_certificate_is_trusted_through_ca_file() {
    let dir = temp_dir("tls-ca-true");
    // As `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext
    // subjectAltName=DNS:localhost` makes it: self-signed and CA:TRUE.
    let server = cert(&["localhost"], true, None, |_| {});
    let (port, served) = tls_server("127.0.0.1:0", &server, None);
    let url = format!("https://localhost:{port}");
    let untrusted = load(&url, "", &[]);
    all_failed(&untrusted, "ca_file");
    let why = reasons(&untrusted);
    assert!(why.contains("insecure"), "{why}");
    assert!(!why.contains("OtherError"), "a rustls debug value: {why}");
    let served_before = served.load(Ordering::Relaxed);
    let ca = write_pem(&dir, "cert.pem", &server.pem);
    let r = load(&url, &format!("ca_file = \"{ca}\""), &[]);
    all_answered(&r, 100);
    assert_eq!(served.load(Ordering::Relaxed) - served_before, 100);
    assert!(!r.tls_insecure);
    // Trusted as itself, it still has to name the host it is asked for.
    let other = cert(&["other.test"], true, None, |_| {});
    let (port, _) = tls_server("127.0.0.1:0", &other, None);
    let ca = write_pem(&dir, "other.pem", &other.pem);
    let r = load(
        &format!("https://localhost:{port}"),
        &format!("ca_file = \"{ca}\""),
        &[],
    );
    all_failed(&r, "not valid for this host name");
}

#[test]
fn a_certificate_made_with_openssl_the_usual_way_is_trusted_through_ca_file() {
    let dir = temp_dir("tls-openssl");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key_path)
        .arg("-out")
        .arg(&cert_path)
        .output()
        .expect("openssl runs (Debian's openssl package, which ca-certificates depends on)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(&cert_path).unwrap();
    let key = PrivateKeyDer::from_pem_file(&key_path).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der], key)
    .unwrap();
    let (port, _) = serve("127.0.0.1:0", config);
    let r = load(
        &format!("https://localhost:{port}"),
        &format!("ca_file = \"{}\"", cert_path.display()),
        &[],
    );
    all_answered(&r, 100);
}

#[test]
fn a_private_ca_is_trusted_and_expired_or_unknown_certificates_say_what_to_do() {
    let dir = temp_dir("tls-ca");
    let ca = cert(&[], true, None, |p| {
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "perfgate test CA");
    });
    let ca_file = format!("ca_file = \"{}\"", write_pem(&dir, "ca.pem", &ca.pem));
    let leaf = cert(&["localhost"], false, Some(&ca), |_| {});
    let (port, served) = tls_server("127.0.0.1:0", &leaf, None);
    let r = load(&format!("https://localhost:{port}"), &ca_file, &[]);
    all_answered(&r, 100);
    assert_eq!(served.load(Ordering::Relaxed), 100);

    let expired = cert(&["localhost"], false, Some(&ca), |p| {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 1, 1);
    });
    let (port, _) = tls_server("127.0.0.1:0", &expired, None);
    let r = load(&format!("https://localhost:{port}"), &ca_file, &[]);
    all_failed(&r, "has expired");

    // The wrong host: the certificate names localhost, the target 127.0.0.1.
    let r = load(&format!("https://127.0.0.1:{port}"), &ca_file, &[]);
    assert!(reasons(&r).contains("TLS:"), "{}", reasons(&r));
    let (port, _) = tls_server("127.0.0.1:0", &leaf, None);
    let r = load(&format!("https://127.0.0.1:{port}"), &ca_file, &[]);
    all_failed(&r, "not valid for this host name");
}

#[test]
fn insecure_trusts_any_certificate_and_every_report_says_so() {
    let dir = temp_dir("tls-insecure");
    let stranger = cert(&["nobody.test"], true, None, |_| {});
    let (port, served) = tls_server("127.0.0.1:0", &stranger, None);
    let url = format!("https://localhost:{port}");
    let r = load(&url, "insecure = true", &[]);
    all_answered(&r, 100);
    assert_eq!(served.load(Ordering::Relaxed), 100);
    assert!(r.tls_insecure);

    // From the command line, with every report.
    let cfg = common::write(
        &dir,
        "perfgate.toml",
        &config(&url, "{ constant = \"0ms\" }", &[("h", "/", 1)]),
    );
    let out = common::perfgate()
        .args(["run", "-c"])
        .arg(&cfg)
        .args(["--insecure", "--iterations", "20", "--users", "1", "--out"])
        .arg(dir.join("result.json"))
        .arg("--report")
        .arg(format!("markdown={}", dir.join("pr.md").display()))
        .arg("--report")
        .arg(format!("html={}", dir.join("r.html").display()))
        .arg("--report")
        .arg(format!("junit={}", dir.join("j.xml").display()))
        .arg("--report")
        .arg(format!("json={}", dir.join("v.json").display()))
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARNING: TLS certificates were NOT verified"),
        "{stderr}"
    );
    assert!(
        stdout.contains("WARNING: TLS certificates were NOT verified"),
        "{stdout}"
    );
    assert!(
        stdout.contains("::warning title=TLS not verified::"),
        "{stdout}"
    );
    for file in ["pr.md", "r.html", "j.xml", "v.json"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(text.contains("NOT verified"), "{file}: {text}");
    }
    let saved = std::fs::read_to_string(dir.join("result.json")).unwrap();
    assert!(saved.contains("\"tls_insecure\": true"), "{saved}");
}

#[test]
fn a_client_certificate_is_presented_when_the_server_requires_one() {
    let dir = temp_dir("tls-mtls");
    let ca = cert(&[], true, None, |_| {});
    let server = cert(&["localhost"], false, Some(&ca), |_| {});
    let client_ca = cert(&[], true, None, |_| {});
    let client = cert(&["perfgate-client"], false, Some(&client_ca), |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    let (port, served) = tls_server("127.0.0.1:0", &server, Some(&client_ca));
    let url = format!("https://localhost:{port}");
    let ca_file = format!("ca_file = \"{}\"", write_pem(&dir, "ca.pem", &ca.pem));
    let without = load(&url, &ca_file, &[]);
    all_failed(&without, "client_cert");
    let before = served.load(Ordering::Relaxed);
    assert_eq!(before, 0);
    let cert_file = write_pem(&dir, "client.pem", &client.pem);
    let key_file = write_pem(&dir, "client.key", &client.key.serialize_pem());
    let with = load(
        &url,
        &format!("{ca_file}\nclient_cert = \"{cert_file}\"\nclient_key = \"{key_file}\""),
        &[],
    );
    all_answered(&with, 100);
    assert_eq!(served.load(Ordering::Relaxed), 100);
    // A key that is not the certificate's is a config error, before any load.
    let other_key = write_pem(
        &dir,
        "other.key",
        &KeyPair::generate().unwrap().serialize_pem(),
    );
    let text = config(&url, "{ constant = \"0ms\" }", &[("h", "/", 1)]).replacen(
        "[target]\n",
        &format!("[target]\nclient_cert = \"{cert_file}\"\nclient_key = \"{other_key}\"\n"),
        1,
    );
    let (config, source) = perfgate::config::Config::parse("t.toml", &text).unwrap();
    let e = perfgate::config::Plan::build(&config, &source, &Overrides::default())
        .err()
        .unwrap();
    assert!(
        e.message.contains("client_key") && e.message.contains("cannot be used"),
        "{e}"
    );
}

/// The proxy's port, its CONNECT tunnels, the plain requests it forwarded, and each
/// connection's first head.
type Proxy = (
    u16,
    Arc<AtomicU64>,
    Arc<AtomicU64>,
    Arc<std::sync::Mutex<Vec<String>>>,
);

/// A forward proxy on 127.0.0.1 that counts CONNECT tunnels and the plain-HTTP requests
/// it forwarded (absolute-form `GET http://host:port/path`, rewritten to origin form).
fn proxy() -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tunnels, forwarded) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (t, f, h) = (tunnels.clone(), forwarded.clone(), heads.clone());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let (t, f, h) = (t.clone(), f.clone(), h.clone());
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut b).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                h.lock().unwrap().push(text.clone());
                let line: Vec<&str> = text.split_whitespace().take(2).collect();
                let (method, target) = (line[0], line[1]);
                if method == "CONNECT" {
                    t.fetch_add(1, Ordering::Relaxed);
                    let upstream = TcpStream::connect(target).unwrap();
                    client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    pipe(client, upstream, None);
                } else {
                    let rest = target.strip_prefix("http://").unwrap();
                    let authority = &rest[..rest.find('/').unwrap()];
                    let mut upstream = TcpStream::connect(authority).unwrap();
                    let prefix = format!(" http://{authority}");
                    let first = text.replacen(&prefix, " ", 1).replacen("  /", " /", 1);
                    f.fetch_add(1, Ordering::Relaxed);
                    upstream.write_all(first.as_bytes()).unwrap();
                    pipe(client, upstream, Some((prefix, f)));
                }
            });
        }
    });
    (port, tunnels, forwarded, heads)
}

/// Copies bytes both ways; client-to-server, with `rewrite`, turns each absolute-form
/// request line into origin form and counts it.
fn pipe(client: TcpStream, upstream: TcpStream, rewrite: Option<(String, Arc<AtomicU64>)>) {
    let (mut c_read, mut u_write) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (mut u_read, mut c_write) = (upstream, client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut u_read, &mut c_write);
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
    let mut chunk = [0u8; 8192];
    while let Ok(n) = c_read.read(&mut chunk) {
        if n == 0 {
            break;
        }
        let mut bytes = chunk[..n].to_vec();
        if let Some((prefix, count)) = &rewrite {
            let text = String::from_utf8_lossy(&bytes).to_string();
            count.fetch_add(
                text.matches(prefix.as_str()).count() as u64,
                Ordering::Relaxed,
            );
            bytes = text
                .replace(prefix.as_str(), " ")
                .replace("  /", " /")
                .into_bytes();
        }
        if u_write.write_all(&bytes).is_err() {
            break;
        }
    }
    let _ = u_write.shutdown(std::net::Shutdown::Both);
}

#[test]
fn https_goes_through_a_proxy_with_connect_from_the_config_or_the_environment() {
    let dir = temp_dir("tls-proxy");
    let server = cert(&["localhost"], true, None, |_| {});
    let (port, served) = tls_server("127.0.0.1:0", &server, None);
    let ca = format!("ca_file = \"{}\"", write_pem(&dir, "cert.pem", &server.pem));
    let url = format!("https://localhost:{port}");
    let (pport, tunnels, _, heads) = proxy();
    let r = load(
        &url,
        &format!("{ca}\nproxy = \"http://u:pw@127.0.0.1:{pport}\""),
        &[],
    );
    all_answered(&r, 100);
    assert_eq!(served.load(Ordering::Relaxed), 100);
    // Keep-alive: a tunnel for each user that got to run (the first may run all 100).
    let first_run = tunnels.load(Ordering::Relaxed);
    assert!((1..=2).contains(&first_run), "{first_run}");
    let first = heads.lock().unwrap()[0].clone();
    assert!(
        first.starts_with(&format!("CONNECT localhost:{port} HTTP/1.1")),
        "{first}"
    );
    assert!(
        first.contains("proxy-authorization: Basic dTpwdw=="),
        "{first}"
    );

    let proxy_url = format!("http://127.0.0.1:{pport}");
    let r = load(&url, &ca, &[("HTTPS_PROXY", &proxy_url)]);
    assert_eq!(r.total.failures, 0, "{}", reasons(&r));
    let through_env = tunnels.load(Ordering::Relaxed);
    assert!(through_env > first_run, "{through_env}");
    // NO_PROXY leaves the target alone, and so does proxy = "" in the config.
    let r = load(
        &url,
        &ca,
        &[("HTTPS_PROXY", &proxy_url), ("NO_PROXY", "localhost")],
    );
    assert_eq!(r.total.failures, 0, "{}", reasons(&r));
    let r = load(
        &url,
        &format!("{ca}\nproxy = \"\""),
        &[("HTTPS_PROXY", &proxy_url)],
    );
    assert_eq!(r.total.failures, 0, "{}", reasons(&r));
    assert_eq!(tunnels.load(Ordering::Relaxed), through_env);
    assert_eq!(served.load(Ordering::Relaxed), 400);
}

#[test]
fn plain_http_goes_through_a_proxy_in_absolute_form_and_the_counts_agree() {
    let demo = perfgate::DemoServer::start("127.0.0.1:0", perfgate::Knobs::default()).unwrap();
    let (pport, tunnels, forwarded, heads) = proxy();
    let text = common::health_only(&demo.url());
    let o = |vars: &[(&str, &str)]| Overrides {
        iterations: Some(100),
        users: Some(2),
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    let r = run(
        &text,
        o(&[("HTTP_PROXY", &format!("http://127.0.0.1:{pport}"))]),
    );
    all_answered(&r, 100);
    assert_eq!(forwarded.load(Ordering::Relaxed), 100);
    assert_eq!(tunnels.load(Ordering::Relaxed), 0);
    assert_eq!(demo.served_on("/health"), 100);
    let first = heads.lock().unwrap()[0].clone();
    assert!(
        first.starts_with(&format!("GET {}/health HTTP/1.1", demo.url())),
        "{first}"
    );
}

/// (A name resolving to both families, whichever one the service listens on, is a unit
/// test of the dialer, engine::connect: this machine's localhost is 127.0.0.1 alone.)
#[test]
fn ipv6_literals_and_localhost() {
    let server = cert(&["localhost", "::1"], false, None, |_| {});
    let dir = temp_dir("tls-ipv6");
    let ca = format!("ca_file = \"{}\"", write_pem(&dir, "cert.pem", &server.pem));
    // A service on ::1 only, reached by its literal.
    let (port, served) = tls_server("[::1]:0", &server, None);
    let r = load(&format!("https://[::1]:{port}"), &ca, &[]);
    all_answered(&r, 100);
    assert_eq!(r.target, format!("https://[::1]:{port}"));
    assert_eq!(served.load(Ordering::Relaxed), 100);
    let demo = perfgate::DemoServer::start("[::1]:0", perfgate::Knobs::default()).unwrap();
    let r = run(
        &common::health_only(&demo.url()),
        Overrides {
            iterations: Some(50),
            users: Some(1),
            ..Default::default()
        },
    );
    all_answered(&r, 50);
    assert_eq!(demo.served_on("/health"), 50);
    // A service on 127.0.0.1, reached by localhost.
    let (port, served) = tls_server("127.0.0.1:0", &server, None);
    let r = load(&format!("https://localhost:{port}"), &ca, &[]);
    all_answered(&r, 100);
    assert_eq!(served.load(Ordering::Relaxed), 100);
}

/// A client certificate made the old way (`openssl x509 -req` without extensions: X.509
/// v1), which rustls will not present, is refused before any load saying it is v1 and how
/// to make a v3 one — not that the key is wrong. The same request signed with v3
/// extensions is taken.
#[test]
fn an_x509_v1_client_certificate_is_named_as_such() {
    let dir = temp_dir("tls-v1-client");
    let openssl = |args: &[&str]| {
        let done = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl runs");
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    };
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=client",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]);
    // The request signed by its own key: as it is (v1), or with v3 extensions.
    let sign = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-signkey",
            "client.key",
            "-days",
            "2",
        ];
        args.extend_from_slice(extra);
        args.extend(["-out", out]);
        openssl(&args);
    };
    sign("v1.pem", &[]);
    std::fs::write(dir.join("v3.ext"), "basicConstraints=CA:FALSE\n").unwrap();
    sign("v3.pem", &["-extfile", "v3.ext"]);
    let plan = |cert: &str| {
        let text = config(
            "https://localhost:9",
            "{ constant = \"0ms\" }",
            &[("h", "/", 1)],
        )
        .replacen(
            "[target]\n",
            &format!(
                "[target]\nclient_cert = \"{}\"\nclient_key = \"{}\"\n",
                dir.join(cert).display(),
                dir.join("client.key").display()
            ),
            1,
        );
        let (config, source) = perfgate::config::Config::parse("t.toml", &text).unwrap();
        perfgate::config::Plan::build(&config, &source, &Overrides::default()).map(|_| ())
    };
    let e = plan("v1.pem").unwrap_err();
    assert!(
        e.message.contains("an X.509 v1 certificate") && e.message.contains("make a v3 one"),
        "{e}"
    );
    assert!(!e.message.contains("cannot be used"), "{e}");
    plan("v3.pem").unwrap();
}
