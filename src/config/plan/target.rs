//! What a connection needs from `[target]`: the URL (from --host, TARGET_HOST or the
//! file), timeouts, trusted certificates, redirects, cookies, keep-alive and the headers
//! every request carries.

use std::time::Duration;

use rustls::pki_types::CertificateDer;
use toml::Spanned;

use super::files;
use crate::config::{Config, ConfigError, Dur, Source, Target};

/// `[target]` resolved.
pub(super) struct TargetPlan {
    pub target: Target,
    pub ca_certs: Vec<CertificateDer<'static>>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
}

pub(super) fn plan(
    config: &Config,
    source: &Source,
    host: Option<&str>,
) -> Result<TargetPlan, ConfigError> {
    let t = &config.target;
    let host = host
        .or(t.host.as_deref())
        .ok_or_else(|| source.whole("no target host: set [target] host, --host or TARGET_HOST"))?;
    let target = Target::parse(host).map_err(|e| source.whole(e))?;
    let positive = |d: &Spanned<Dur>, key: &str| {
        if d.get_ref().0.is_zero() {
            Err(source.error(
                d.span(),
                format!("[target] {key} must be more than 0s, e.g. \"5s\""),
            ))
        } else {
            Ok(d.get_ref().0)
        }
    };
    let ca_certs = match &t.ca_file {
        Some(f) => {
            files::read_certs(&files::beside_config(source, f)).map_err(|e| source.whole(e))?
        }
        None => Vec::new(),
    };
    Ok(TargetPlan {
        target,
        ca_certs,
        connect_timeout: positive(&t.connect_timeout, "connect_timeout")?,
        timeout: positive(&t.timeout, "timeout")?,
        headers: headers(config),
    })
}

/// The headers every request carries: `[target] headers`, a user-agent unless one is
/// set, and `connection: close` without keep-alive (the server then closes first, so
/// the closed connections' TIME_WAIT is on its side, not on the generator's ports).
fn headers(config: &Config) -> Vec<(String, String)> {
    let t = &config.target;
    let mut headers: Vec<(String, String)> = t
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let has = |name: &str| t.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    if !has("user-agent") {
        headers.push((
            "user-agent".into(),
            concat!("perfgate/", env!("CARGO_PKG_VERSION")).into(),
        ));
    }
    if !t.keep_alive && !has("connection") {
        headers.push(("connection".into(), "close".into()));
    }
    headers
}
