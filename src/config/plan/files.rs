//! The files a config names, read in one place: CSV data for feeders and PEM certificates
//! for `[target] ca_file`, each found beside the config file.

use minijinja::Value;
use rustls::pki_types::CertificateDer;

use crate::config::{Config, ConfigError, DataOrder, Source};

/// Rows of a CSV file, handed out in order or at random.
pub struct Feeder {
    pub name: String,
    pub rows: Vec<Value>,
    pub order: DataOrder,
    next: std::sync::atomic::AtomicUsize,
}

impl Feeder {
    pub fn next_row(&self) -> Value {
        let i = match self.order {
            DataOrder::Sequential => {
                self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.rows.len()
            }
            DataOrder::Random => fastrand::usize(..self.rows.len()),
        };
        self.rows[i].clone()
    }
}

/// Every `[data.*]` feeder, its rows read.
pub(super) fn feeders(config: &Config, source: &Source) -> Result<Vec<Feeder>, ConfigError> {
    let mut feeders = Vec::new();
    for (name, df) in &config.data {
        let rows = read_csv(&beside_config(source, &df.get_ref().file))
            .map_err(|e| source.error(df.span(), format!("data {name:?}: {e}")))?;
        feeders.push(Feeder {
            name: name.clone(),
            rows,
            order: df.get_ref().order,
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
pub(super) fn read_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
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
