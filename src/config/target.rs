//! The target URL, split into what a connection needs.

/// Where to send load.
#[derive(Clone, Debug)]
pub struct Target {
    /// Requests name the whole URL (`GET http://host/path`), as an HTTP proxy needs for a
    /// plain-HTTP target.
    pub absolute_form: bool,
    pub tls: bool,
    /// Host name or address to connect to (no brackets for IPv6).
    pub host: String,
    pub port: u16,
    /// Value of the Host header.
    pub authority: String,
    /// Prefix for every request path ("" or "/base").
    pub base_path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(format!(
                "target {url:?} must start with http:// or https://"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(r) = authority.strip_prefix('[') {
            let (h, after) = r
                .split_once(']')
                .ok_or(format!("bad IPv6 address in {url:?}"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p
                .parse()
                .map_err(|_| format!("bad port {p:?} in {url:?}"))?,
            None => default_port,
        };
        if host.is_empty() {
            return Err(format!("target {url:?} has no host"));
        }
        Ok(Target {
            absolute_form: false,
            tls,
            host,
            port,
            authority: authority.to_string(),
            base_path: path.to_string(),
        })
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.base_path)
    }
}

/// An HTTP proxy: `http://[user:pass@]host:port`.
#[derive(Clone, Debug, PartialEq)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization` value for credentials in the URL (Basic).
    pub authorization: Option<String>,
}

impl Proxy {
    pub fn parse(url: &str) -> Result<Proxy, String> {
        let rest = url.trim();
        let rest = rest.strip_prefix("http://").unwrap_or(rest);
        if rest.contains("://") {
            return Err(format!(
                "proxy {url:?}: only http:// proxies are supported (https targets go through them with CONNECT)"
            ));
        }
        let rest = rest.trim_end_matches('/');
        let (credentials, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let target = Target::parse(&format!("http://{hostport}"))
            .map_err(|e| format!("proxy {url:?}: {e}"))?;
        if !target.base_path.is_empty() {
            return Err(format!(
                "proxy {url:?}: write http://host:port, without a path"
            ));
        }
        let authorization = credentials.map(|c| {
            use base64::Engine as _;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c.as_bytes())
            )
        });
        Ok(Proxy {
            host: target.host,
            port: target.port,
            authorization,
        })
    }

    /// The proxy the environment names for `target`: HTTPS_PROXY for https, HTTP_PROXY for
    /// http (either case), unless NO_PROXY lists the host (`*`, a name, a `.suffix`, an
    /// address, each with an optional `:port`).
    pub fn from_env(
        target: &Target,
        vars: &std::collections::BTreeMap<String, String>,
    ) -> Option<Result<Proxy, String>> {
        let var = |name: &str| {
            [name.to_ascii_lowercase(), name.to_string()]
                .into_iter()
                .find_map(|n| vars.get(&n).filter(|v| !v.trim().is_empty()).cloned())
        };
        let name = if target.tls {
            "HTTPS_PROXY"
        } else {
            "HTTP_PROXY"
        };
        let url = var(name)?;
        if let Some(no) = var("NO_PROXY") {
            if no
                .split(',')
                .map(str::trim)
                .any(|entry| bypasses(entry, &target.host, target.port))
            {
                return None;
            }
        }
        Some(Proxy::parse(&url).map_err(|e| format!("{name}: {e}")))
    }
}

/// Whether a NO_PROXY entry covers `host:port`.
fn bypasses(entry: &str, host: &str, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    let (name, entry_port) = match entry.rsplit_once(':') {
        Some((n, p)) if !n.contains(':') || n.ends_with(']') => (n, p.parse::<u16>().ok()),
        _ => (entry, None),
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if entry_port.is_some_and(|p| p != port) || name.is_empty() {
        return false;
    }
    let host = host.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    let suffix = name.trim_start_matches('.');
    host == suffix || host.ends_with(&format!(".{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_proxies_parse_with_ipv6_literals() {
        let t = Target::parse("http://[::1]:8080/base/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("::1", 8080, "[::1]:8080")
        );
        assert_eq!(t.base_path, "/base");
        let p = Proxy::parse("http://user:secret@127.0.0.1:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 3128));
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNlcjpzZWNyZXQ="));
        assert!(Proxy::parse("https://proxy:3128").is_err());
        assert!(Proxy::parse("http://proxy:3128/path").is_err());
    }

    #[test]
    fn the_environment_names_a_proxy_per_scheme_less_no_proxy() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let https = Target::parse("https://api.example.test").unwrap();
        let http = Target::parse("http://127.0.0.1:8000").unwrap();
        let env = vars(&[("HTTPS_PROXY", "http://p:1"), ("http_proxy", "http://q:2")]);
        assert_eq!(Proxy::from_env(&https, &env).unwrap().unwrap().host, "p");
        assert_eq!(Proxy::from_env(&http, &env).unwrap().unwrap().port, 2);
        for no in ["*", "example.test", ".example.test", "api.example.test:443"] {
            let env = vars(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no)]);
            assert!(Proxy::from_env(&https, &env).is_none(), "{no}");
        }
        for no in ["other.test", "api.example.test:8443", "xample.test"] {
            let env = vars(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", no)]);
            assert!(Proxy::from_env(&https, &env).is_some(), "{no}");
        }
        let env = vars(&[
            ("HTTP_PROXY", "http://p:1"),
            ("NO_PROXY", "localhost,127.0.0.1"),
        ]);
        assert!(Proxy::from_env(&http, &env).is_none());
    }
}
