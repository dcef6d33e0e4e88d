//! Opening a connection to the target: TCP (with the connect timeout), then TLS when the
//! target is https (rustls, trusting the public roots and `[target] ca_file`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::{Plan, Target};
use crate::metrics::Failure;

/// Opens connections to one target.
pub struct Dialer {
    target: Target,
    connect_timeout: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl Dialer {
    pub fn new(plan: &Plan) -> Dialer {
        let tls = plan.target.tls.then(|| {
            let mut roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            // Checked when the plan was built: each parses as a certificate.
            let (_added, _ignored) = roots.add_parsable_certificates(plan.ca_certs.iter().cloned());
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            tokio_rustls::TlsConnector::from(Arc::new(config))
        });
        Dialer {
            target: plan.target.clone(),
            connect_timeout: plan.connect_timeout,
            tls,
        }
    }

    pub async fn connect(&self) -> Result<Stream, Failure> {
        let t = &self.target;
        let connect = async {
            let tcp = TcpStream::connect((t.host.as_str(), t.port))
                .await
                .map_err(io_failure)?;
            tcp.set_nodelay(true).map_err(io_failure)?;
            match &self.tls {
                None => Ok(Stream::Plain(tcp)),
                Some(tls) => {
                    let name = rustls::pki_types::ServerName::try_from(t.host.clone())
                        .map_err(|e| Failure::Connect(format!("bad TLS server name: {e}")))?;
                    let s = tls
                        .connect(name, tcp)
                        .await
                        .map_err(|e| Failure::Connect(format!("TLS: {e}")))?;
                    Ok(Stream::Tls(Box::new(s)))
                }
            }
        };
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| Failure::Timeout)?
    }
}

/// Maps an I/O error to the failure reason users see.
pub fn io_failure(e: io::Error) -> Failure {
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

impl AsyncRead for Stream {
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
