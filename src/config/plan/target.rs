//! What a connection needs from `[target]`: the URL (from --host, TARGET_HOST or the
//! file), timeouts, TLS (trusted certificates, insecure, a client certificate), a proxy
//! (the file's, else HTTP_PROXY / HTTPS_PROXY less NO_PROXY), and the headers every
//! request carries.

use std::time::Duration;

use toml::Spanned;

use super::{files, Overrides, Tls};
use crate::config::{Config, ConfigError, Dur, EnvironmentConfig, Proxy, Source, Target};

/// `[target]` resolved.
pub(super) struct TargetPlan {
    pub target: Target,
    pub tls: Tls,
    pub proxy: Option<Proxy>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub connections: Option<u32>,
}

pub(super) fn plan(
    config: &Config,
    source: &Source,
    o: &Overrides,
) -> Result<TargetPlan, ConfigError> {
    let t = &config.target;
    let env = environment(config, source, o)?;
    let host = o
        .host
        .as_deref()
        .or(env.and_then(|e| e.host.as_deref()))
        .or(t.host.as_deref())
        .ok_or_else(|| source.whole("no target host: set [target] host, --host or TARGET_HOST"))?;
    let mut target = Target::parse(host).map_err(|e| source.whole(e))?;
    // The file's proxy is about this target; the environment's about every program.
    let proxy = match &t.proxy {
        Some(p) if p.get_ref().trim().is_empty() => None,
        Some(p) => Some(Proxy::parse(p.get_ref()).map_err(|e| source.error(p.span(), e))?),
        None => Proxy::from_env(&target, &o.vars)
            .transpose()
            .map_err(|e| source.whole(e))?,
    };
    // Through a proxy, a plain-HTTP request names the whole URL; an https one goes
    // through a CONNECT tunnel and looks as it would without the proxy.
    target.absolute_form = proxy.is_some() && !target.tls;
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
    let mut headers = headers(config, env);
    for (name, value) in &headers {
        use crate::config::wire::{byte_name, is_token, unsafe_byte};
        if !is_token(name) {
            return Err(source.whole(format!(
                "[target] headers: {name:?} is not an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"
            )));
        }
        if let Some(b) = unsafe_byte(value, false) {
            return Err(source.whole(format!(
                "[target] headers: {name:?} holds {}, which would change every request on the wire: remove it",
                byte_name(b)
            )));
        }
    }
    if let (true, Some(auth)) = (
        target.absolute_form,
        proxy.as_ref().and_then(|p| p.authorization.as_ref()),
    ) {
        headers.push(("proxy-authorization".into(), auth.clone()));
    }
    let connections = match &t.connections {
        None => None,
        Some(n) => {
            let http = o.http.unwrap_or(t.http);
            let why = if *n.get_ref() == 0 {
                Some("must be 1 or more")
            } else if http != crate::config::HttpVersion::H2 {
                Some("shares HTTP/2 connections: set http = \"2\" (or --http 2)")
            } else if !t.keep_alive {
                Some("shares kept connections: remove keep_alive = false")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(source.error(n.span(), format!("[target] connections {why}")));
            }
            Some(*n.get_ref())
        }
    };
    Ok(TargetPlan {
        connections,
        tls: files::tls(config, source, o)?,
        target,
        proxy,
        connect_timeout: positive(&t.connect_timeout, "connect_timeout")?,
        timeout: positive(&t.timeout, "timeout")?,
        headers,
    })
}

/// The `[environments.*]` table of the environment chosen, if the config has one. An
/// environment that has neither such a table nor a budget is a misspelling.
fn environment<'a>(
    config: &'a Config,
    source: &Source,
    o: &Overrides,
) -> Result<Option<&'a EnvironmentConfig>, ConfigError> {
    let Some(name) = o.environment.as_ref().or(config.gate.environment.as_ref()) else {
        return Ok(None);
    };
    match config.environments.get(name) {
        Some(e) => Ok(Some(e.get_ref())),
        None if config.environments.is_empty() || config.budgets.contains_key(name) => Ok(None),
        None => Err(source.whole(format!(
            "environment {name:?} is not in [environments] (which has {}) nor a budget",
            config
                .environments
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The headers every request carries: `[target] headers` with the environment's over
/// them, a user-agent unless one is set, and `connection: close` without keep-alive (the
/// server then closes first, so the closed connections' TIME_WAIT is on its side, not on
/// the generator's ports).
fn headers(config: &Config, env: Option<&EnvironmentConfig>) -> Vec<(String, String)> {
    let t = &config.target;
    let extra = env.map(|e| &e.headers);
    let mut headers: Vec<(String, String)> = t
        .headers
        .iter()
        .filter(|(k, _)| !extra.is_some_and(|x| x.keys().any(|e| e.eq_ignore_ascii_case(k))))
        .chain(extra.into_iter().flatten())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let has =
        |h: &[(String, String)], name: &str| h.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if !has(&headers, "user-agent") {
        headers.push((
            "user-agent".into(),
            concat!("perfgate/", env!("CARGO_PKG_VERSION")).into(),
        ));
    }
    if !t.keep_alive && !has(&headers, "connection") {
        headers.push(("connection".into(), "close".into()));
    }
    headers
}
