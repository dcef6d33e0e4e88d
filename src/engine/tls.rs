//! The TLS client configuration: which server certificates are trusted (the public roots
//! and `[target] ca_file`, where a self-signed certificate made as most people make it, a
//! CA:TRUE one, is trusted as itself), or none checked (`insecure`), and the client
//! certificate to present (`client_cert`, `client_key`). A TLS failure becomes a reason
//! that says what to do.

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

use crate::config::{HttpVersion, Plan};
use crate::metrics::Failure;

/// The client configuration for `plan`'s https target.
pub fn client_config(plan: &Plan) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Checked when the plan was built: each parses as a certificate.
    let (_added, _ignored) = roots.add_parsable_certificates(plan.tls.ca_certs.iter().cloned());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("the roots include the public ones");
    let verifier = Verifier {
        webpki,
        pinned: plan.tls.ca_certs.clone(),
        insecure: plan.tls.insecure,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match &plan.tls.client {
        // Checked when the plan was built: the key matches a certificate rustls takes.
        Some((certs, key)) => builder
            .with_client_auth_cert(certs.clone(), key.clone_key())
            .expect("the client certificate was checked when planning"),
        None => builder.with_no_client_auth(),
    };
    // HTTP/2 when the server offers it (`http = "auto"`), or only it (`"2"`); through a
    // proxy's plain-HTTP forwarding nothing is negotiated.
    config.alpn_protocols = match plan.http {
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersion::H2 => vec![b"h2".to_vec()],
        HttpVersion::H1 => Vec::new(),
    };
    config
}

/// The public roots and `ca_file` as webpki checks them, and two departures: a
/// certificate of `ca_file` presented as the server's own is trusted even when it says
/// CA:TRUE (as OpenSSL and browsers do for a certificate trusted as itself: `openssl req
/// -x509 -newkey ...` makes such certificates); `insecure` trusts any certificate (the
/// handshake's signatures are still checked, so the session is still encrypted).
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    insecure: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        match self
            .webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            // webpki checks a certificate's validity period before its basic
            // constraints: a CA:TRUE certificate here has been found in date. What is left
            // to check of one trusted as itself is the name it names, if it names any: a
            // certificate made with only a subject CN has no subjectAltName, and webpki
            // reads no CN; the exact certificate the user trusts is the identity then.
            Err(Error::InvalidCertificate(CertificateError::Other(e)))
                if ca_used_as_end_entity(&e) && self.pinned.iter().any(|p| p == end_entity) =>
            {
                if has_subject_alt_name(end_entity) {
                    let cert = webpki::EndEntityCert::try_from(end_entity)
                        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
                    cert.verify_is_valid_for_subject_name(server_name)
                        .map_err(|_| {
                            Error::InvalidCertificate(CertificateError::NotValidForName)
                        })?;
                }
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Whether a certificate carries the subjectAltName extension (OID 2.5.29.17, DER
/// `06 03 55 1d 11`).
fn has_subject_alt_name(cert: &[u8]) -> bool {
    cert.windows(5).any(|w| w == [0x06, 0x03, 0x55, 0x1d, 0x11])
}

fn ca_used_as_end_entity(e: &rustls::OtherError) -> bool {
    e.0.downcast_ref::<webpki::Error>() == Some(&webpki::Error::CaUsedAsEndEntity)
}

/// Whether an I/O error is TLS's.
pub fn is_tls(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Error>())
}

/// A TLS failure, as a reason that says what to do.
pub fn failure(e: io::Error) -> Failure {
    let reason = match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(tls) => describe(tls),
        None => e.to_string(),
    };
    Failure::Connect(format!("TLS: {reason}"))
}

const TRUST: &str =
    "trust it with [target] ca_file = \"cert.pem\" (its CA, or the certificate itself), or skip verification with insecure = true (--insecure)";

/// A rustls error in words.
fn describe(e: &Error) -> String {
    use CertificateError as C;
    match e {
        Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                format!("the server's certificate is not signed by a trusted authority; {TRUST}")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server's certificate is not valid for this host name; use the name it was issued for in --host, or skip verification with insecure = true (--insecure)".into()
            }
            C::Expired | C::ExpiredContext { .. } => {
                "the server's certificate has expired; renew it, or skip verification with insecure = true (--insecure)".into()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clocks); or skip verification with insecure = true (--insecure)".into()
            }
            C::Other(o) if ca_used_as_end_entity(o) => format!(
                "the server's certificate is a CA certificate (CA:TRUE) not in ca_file; {TRUST}"
            ),
            other => format!("the server's certificate was refused ({other:?}); {TRUST}"),
        },
        Error::AlertReceived(rustls::AlertDescription::CertificateRequired) => {
            "the server requires a client certificate: set [target] client_cert and client_key".into()
        }
        Error::AlertReceived(alert) => format!(
            "the server ended the handshake ({alert:?}); if it asks for a client certificate, set [target] client_cert and client_key"
        ),
        Error::InconsistentKeys(_) => {
            "client_key is not the key of client_cert".into()
        }
        other => other.to_string(),
    }
}
