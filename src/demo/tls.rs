//! The demo over TLS (`perfgate demo --tls`): a certificate made at start for localhost
//! and 127.0.0.1 with `rcgen`, and a listener whose connections are TLS, offering HTTP/2
//! and HTTP/1.1 by ALPN (hyper serves whichever the client starts speaking).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A self-signed certificate (PEM, to trust) and the acceptor serving it.
pub struct Identity {
    pub certificate: String,
    pub acceptor: TlsAcceptor,
}

impl Identity {
    pub fn new() -> io::Result<Identity> {
        let other = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
        let key = rcgen::KeyPair::generate().map_err(|e| other(&e))?;
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let cert = rcgen::CertificateParams::new(names)
            .and_then(|p| p.self_signed(&key))
            .map_err(|e| other(&e))?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| other(&e))?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert.der().to_vec())], der)
            .map_err(|e| other(&e))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Identity {
            certificate: cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// TCP connections accepted and their TLS handshakes done, for `axum::serve`. A client
/// that does not finish its handshake within five seconds is let go.
pub struct Listener {
    pub tcp: TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for Listener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                // Out of file descriptors, say: wait rather than spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let handshake = self.acceptor.accept(tcp);
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), handshake).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
