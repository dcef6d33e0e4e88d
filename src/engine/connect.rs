//! Opening a connection to the target: TCP to the target's addresses (resolved once, the
//! one that answered tried first), or to the proxy and, for https, a CONNECT tunnel
//! through it; then TLS when the target is https (`tls.rs`). All within the connect
//! timeout.

use std::cell::Cell;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::tls;
use crate::config::{HttpVersion, Plan, Proxy, Target};
use crate::metrics::Failure;

/// Opens connections to one target.
pub struct Dialer {
    target: Target,
    proxy: Option<Proxy>,
    connect_timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
    /// TLS offering only HTTP/1.1, for WebSocket's upgrade.
    tls_http1: Option<tokio_rustls::TlsConnector>,
    /// Where TCP goes (the target, or the proxy), resolved once; or why it could not be.
    addrs: Result<Vec<SocketAddr>, String>,
    /// The address that answered last, tried first (`localhost` may resolve to ::1
    /// and 127.0.0.1 while the service listens on one of them).
    preferred: Cell<usize>,
    http: HttpVersion,
}

impl Dialer {
    pub fn new(plan: &Plan) -> Dialer {
        let connector = |http1: bool| {
            let mut config = tls::client_config(plan);
            if http1 {
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
            }
            tokio_rustls::TlsConnector::from(Arc::new(config))
        };
        let tls = plan.target.tls.then(|| connector(false));
        let tls_http1 = plan.target.tls.then(|| connector(true));
        let (host, port) = first_hop(plan);
        let addrs = (host, port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
            .map_err(|e| format!("cannot resolve {host}: {e}"));
        Dialer {
            target: plan.target.clone(),
            proxy: plan.proxy.clone(),
            connect_timeout: plan.connect_timeout,
            tls,
            tls_http1,
            addrs,
            preferred: Cell::new(0),
            http: plan.http,
        }
    }

    /// Whether HTTP/2 goes over this new connection: negotiated by ALPN over TLS, by
    /// prior knowledge in cleartext (`http = "2"`, or `prior_knowledge`: a gRPC call).
    pub fn speaks_h2(&self, stream: &Stream, prior_knowledge: bool) -> bool {
        match stream {
            Stream::Plain(_) => self.http == HttpVersion::H2 || prior_knowledge,
            Stream::Tls(s) => s.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }

    pub async fn connect(&self) -> Result<Stream, Failure> {
        self.connect_with(&self.tls, self.target.tls).await
    }

    /// A connection for HTTP/1.1 alone (WebSocket's upgrade): over TLS, ALPN offers
    /// only `http/1.1`; through a proxy, always its tunnel.
    pub async fn connect_http1(&self) -> Result<Stream, Failure> {
        self.connect_with(&self.tls_http1, true).await
    }

    async fn connect_with(
        &self,
        tls: &Option<tokio_rustls::TlsConnector>,
        tunnelled: bool,
    ) -> Result<Stream, Failure> {
        let connect = async {
            let mut tcp = self.tcp().await?;
            if let (Some(proxy), true) = (&self.proxy, tunnelled) {
                tunnel(&mut tcp, &self.target, proxy).await?;
            }
            match tls {
                None => Ok(Stream::Plain(tcp)),
                Some(tls) => {
                    let name = rustls::pki_types::ServerName::try_from(self.target.host.clone())
                        .map_err(|e| Failure::Connect(format!("bad TLS server name: {e}")))?;
                    let s = tls.connect(name, tcp).await.map_err(tls::failure)?;
                    Ok(Stream::Tls(Box::new(s)))
                }
            }
        };
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| Failure::Timeout)?
    }

    /// A TCP connection to the first address that takes it, the last good one first.
    async fn tcp(&self) -> Result<TcpStream, Failure> {
        let addrs = self
            .addrs
            .as_ref()
            .map_err(|e| Failure::Connect(e.clone()))?;
        let first = self.preferred.get();
        let mut last = Failure::Connect("no address to connect to".into());
        for i in (0..addrs.len()).map(|k| (first + k) % addrs.len()) {
            match TcpStream::connect(addrs[i]).await {
                Ok(tcp) => {
                    self.preferred.set(i);
                    tcp.set_nodelay(true).map_err(io_failure)?;
                    return Ok(tcp);
                }
                Err(e) => last = io_failure(e),
            }
        }
        Err(last)
    }
}

/// Tries one TCP connection to the target (or its proxy) before any load: a name that
/// does not resolve, an address where every connection is refused, or a server that does
/// not speak the plan's HTTP (`speaks.rs`) is an error that says so. Anything else (a
/// slow or filtered port) is left to the run to count.
pub fn probe(plan: &Plan) -> Result<(), String> {
    let (host, port) = first_hop(plan);
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}; check --host"))?
        .collect();
    let mut refused = 0;
    for addr in &addrs {
        let began = std::time::Instant::now();
        match std::net::TcpStream::connect_timeout(addr, plan.connect_timeout) {
            Ok(tcp) => return super::speaks::check(plan, tcp, began.elapsed()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => refused += 1,
            Err(_) => return Ok(()),
        }
    }
    if refused == 0 {
        return Ok(());
    }
    Err(match plan.proxy {
        None => format!(
            "nothing is listening at {} (connection refused); start the service or check --host",
            plan.target.url()
        ),
        Some(_) => format!(
            "the proxy {host}:{port} refused the connection; check [target] proxy or HTTP(S)_PROXY"
        ),
    })
}

/// Where TCP goes: the proxy when there is one, else the target.
fn first_hop(plan: &Plan) -> (&str, u16) {
    match &plan.proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (plan.target.host.as_str(), plan.target.port),
    }
}

/// Asks `proxy` for a tunnel to the target (`CONNECT host:port`) and reads its answer.
async fn tunnel(tcp: &mut TcpStream, target: &Target, proxy: &Proxy) -> Result<(), Failure> {
    let authority = match target.host.contains(':') {
        true => format!("[{}]:{}", target.host, target.port),
        false => format!("{}:{}", target.host, target.port),
    };
    let mut ask = format!("CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n");
    if let Some(auth) = &proxy.authorization {
        ask.push_str(&format!("proxy-authorization: {auth}\r\n"));
    }
    ask.push_str("\r\n");
    tcp.write_all(ask.as_bytes()).await.map_err(io_failure)?;
    // The answer's head, read byte by byte: nothing of the tunnel may be read past it.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err(Failure::Connect("proxy: answer to CONNECT too long".into()));
        }
        let mut b = [0u8];
        if tcp.read(&mut b).await.map_err(io_failure)? == 0 {
            return Err(Failure::Connect(
                "proxy closed the connection on CONNECT".into(),
            ));
        }
        head.push(b[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(()),
        Some(s) => Err(Failure::Connect(format!(
            "proxy refused CONNECT {authority} with HTTP {s}"
        ))),
        None => Err(Failure::Connect("proxy: bad answer to CONNECT".into())),
    }
}

/// Maps an I/O error to the failure reason users see.
pub fn io_failure(e: io::Error) -> Failure {
    // TLS 1.3 refuses a missing client certificate after the handshake, on the first read.
    if tls::is_tls(&e) {
        return tls::failure(e);
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => Failure::Reset,
        io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Connect(e.to_string()),
    }
}

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

// Inlined by hand: with HTTP/2's codec a second caller, the compiler stopped inlining
// them into the HTTP/1.1 exchange (+4% instructions a GET, callgrind).
impl AsyncRead for Stream {
    #[inline(always)]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    #[inline(always)]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    #[inline(always)]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name that resolves to both families (localhost on most machines) connects
    /// whichever one the service listens on, and tries the one that answered first after.
    #[test]
    fn each_resolved_address_is_tried_and_the_one_that_answered_is_remembered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // ::1 first, where nothing listens on this port (as when a service binds 127.0.0.1).
        let closed = std::net::TcpListener::bind("[::1]:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let dialer = Dialer {
            target: Target::parse(&format!("http://localhost:{port}")).unwrap(),
            proxy: None,
            connect_timeout: Duration::from_secs(2),
            tls: None,
            tls_http1: None,
            addrs: Ok(vec![
                SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], closed_port)),
                SocketAddr::from(([127, 0, 0, 1], port)),
            ]),
            preferred: Cell::new(0),
            http: HttpVersion::H1,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(dialer.connect().await.is_ok());
            assert_eq!(dialer.preferred.get(), 1);
            assert!(dialer.connect().await.is_ok());
        });
        let unresolved = Dialer {
            addrs: Err("cannot resolve nowhere.invalid".into()),
            ..dialer
        };
        let e = rt.block_on(unresolved.connect()).err().unwrap();
        assert_eq!(e.to_string(), "connect: cannot resolve nowhere.invalid");
    }
}
