//! The target URL, split into what a connection needs.

/// Where to send load.
#[derive(Clone, Debug)]
pub struct Target {
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
