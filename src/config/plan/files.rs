//! The files a config names: PEM certificates for `[target] ca_file` and the client
//! certificate and key (and, in `feeder.rs`, the feeders' data), each found beside the
//! config file.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Tls;
use crate::config::{Config, ConfigError, Source};

/// `[target]`'s TLS settings, their files read and checked.
pub(super) fn tls(
    config: &Config,
    source: &Source,
    o: &super::Overrides,
) -> Result<Tls, ConfigError> {
    let t = &config.target;
    let whole = |e: String| source.whole(e);
    let mut ca_certs = match &t.ca_file {
        Some(f) => read_certs(&beside_config(source, f)).map_err(whole)?,
        None => Vec::new(),
    };
    for pem in &o.trust {
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| whole(format!("a certificate to trust: {e}")))?;
        ca_certs.extend(certs);
    }
    let insecure = o.insecure;
    let client = match (&t.client_cert, &t.client_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(
            read_client(&beside_config(source, cert), &beside_config(source, key))
                .map_err(whole)?,
        ),
        _ => {
            return Err(whole(
                "[target] client_cert and client_key go together: set both (PEM files)".into(),
            ))
        }
    };
    Ok(Tls {
        ca_certs,
        insecure: insecure || t.insecure,
        client,
    })
}

/// A client certificate chain and its key, checked to be a pair rustls can present.
fn read_client(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("[target] client_cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "[target] client_cert {}: no PEM certificate in it",
            cert.display()
        ));
    }
    let pem = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("[target] client_key {}: {e}", key.display()))?;
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_client_auth_cert(certs.clone(), pem.clone_key())
    .map_err(|e| match webpki::EndEntityCert::try_from(&certs[0]) {
        // rustls says only that the key will not do; webpki's parse says why.
        Err(webpki::Error::UnsupportedCertVersion) => format!(
            "[target] client_cert {}: an X.509 v1 certificate (made without extensions, as `openssl x509 -req` without -extfile makes them), which TLS refuses to present: make a v3 one, e.g. `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=client -keyout client.key -out client.pem`, or sign its request with `-extfile` naming v3 extensions",
            cert.display()
        ),
        _ => format!(
            "[target] client_key {} cannot be used with client_cert {}: {e}",
            key.display(),
            cert.display()
        ),
    })?;
    Ok((certs, pem))
}

/// A path from the config, relative to the config file's folder, so `-c ci/perfgate.toml`
/// works from anywhere.
pub(super) fn beside_config(source: &Source, file: &std::path::Path) -> std::path::PathBuf {
    match std::path::Path::new(&source.file).parent() {
        Some(dir) if file.is_relative() && !dir.as_os_str().is_empty() => dir.join(file),
        _ => file.to_path_buf(),
    }
}

/// The certificates of a PEM file, for `[target] ca_file`.
fn read_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("[target] ca_file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "[target] ca_file {}: no PEM certificate in it",
            path.display()
        ));
    }
    let (_, ignored) =
        rustls::RootCertStore::empty().add_parsable_certificates(certs.iter().cloned());
    if ignored > 0 {
        return Err(format!(
            "[target] ca_file {}: {ignored} of its certificates cannot be used as a root",
            path.display()
        ));
    }
    Ok(certs)
}
