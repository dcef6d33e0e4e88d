//! The files a config names, read in one place: CSV data for feeders, PEM certificates
//! for `[target] ca_file` and the client certificate and key, each found beside the
//! config file.

use minijinja::Value;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::Tls;
use crate::config::{Config, ConfigError, DataOrder, Source};

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
    .map_err(|e| {
        format!(
            "[target] client_key {} cannot be used with client_cert {}: {e}",
            key.display(),
            cert.display()
        )
    })?;
    Ok((certs, pem))
}

/// Rows of a CSV or JSON file, handed out in order or at random, or each once.
pub struct Feeder {
    pub name: String,
    pub rows: Vec<Value>,
    pub order: DataOrder,
    pub unique: bool,
    next: std::sync::atomic::AtomicUsize,
}

impl Feeder {
    /// The next row; with `unique`, None once every row has been handed out.
    pub fn next_row(&self) -> Option<Value> {
        let n = self.rows.len();
        let i = match (self.order, self.unique) {
            (DataOrder::Random, false) => fastrand::usize(..n),
            // Unique and random: a shuffled order (fixed when the rows were read).
            _ => self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        match self.unique {
            true if i >= n => None,
            true => Some(self.rows[i].clone()),
            false => Some(self.rows[i % n].clone()),
        }
    }
}

/// Every `[data.*]` feeder, its rows read.
pub(super) fn feeders(config: &Config, source: &Source) -> Result<Vec<Feeder>, ConfigError> {
    let mut feeders = Vec::new();
    for (name, df) in &config.data {
        let d = df.get_ref();
        let path = beside_config(source, &d.file);
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let mut rows = if json {
            read_json(&path)
        } else {
            read_csv(&path)
        }
        .map_err(|e| source.error(df.span(), format!("data {name:?}: {e}")))?;
        if d.unique && d.order == DataOrder::Random {
            fastrand::shuffle(&mut rows);
        }
        feeders.push(Feeder {
            name: name.clone(),
            rows,
            order: d.order,
            unique: d.unique,
            next: Default::default(),
        });
    }
    Ok(feeders)
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

/// A JSON array of objects, one row each (values keep their JSON types).
fn read_json(path: &std::path::Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let items: Vec<serde_json::Value> = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JSON array of objects: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if !item.is_object() {
            return Err(format!(
                "{}: item {i} is not an object: each row is an object of named values",
                path.display()
            ));
        }
        rows.push(Value::from(minijinja::value::Serde(item)));
    }
    if rows.is_empty() {
        return Err(format!("{} has no rows (an empty array)", path.display()));
    }
    Ok(rows)
}

fn read_csv(path: &std::path::Path) -> Result<Vec<Value>, String> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        let row: std::collections::BTreeMap<String, String> = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        rows.push(Value::from(minijinja::value::Serde(&row)));
    }
    if rows.is_empty() {
        return Err(format!("{} has no data rows", path.display()));
    }
    Ok(rows)
}
