//! A virtual user's cookie jar, kept as a browser session keeps one (as Locust's
//! requests session and k6's per-user jar do): a cookie a response sets goes with that
//! user's later requests whose path it covers, until it expires or is replaced. The jar
//! serves one target, so a cookie is kept or refused as it arrives: refused when its
//! `Domain` does not cover the target's host, or it is `Secure` and came over plain
//! HTTP (RFC 6265 5.3, and as browsers do since RFC 6265bis).

use std::time::{Duration, SystemTime};

use super::request::{find, request_line};
use crate::config::Target;

struct Cookie {
    name: String,
    value: String,
    path: String,
    expires: Option<SystemTime>,
}

#[derive(Default)]
pub struct Jar {
    /// Longest path first: the order a `Cookie` header lists them (RFC 6265 5.4).
    cookies: Vec<Cookie>,
}

impl Jar {
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Takes one `Set-Cookie` value, received from `target` in answer to a request for
    /// `request_path`.
    pub fn set(&mut self, header: &str, request_path: &str, target: &Target, now: SystemTime) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return;
        }
        let (mut path, mut expires, mut max_age) = (None, None, None);
        for attr in parts {
            let (key, v) = attr
                .split_once('=')
                .map_or((attr.trim(), ""), |(k, v)| (k.trim(), v.trim()));
            if key.eq_ignore_ascii_case("path") && v.starts_with('/') {
                path = Some(v.to_string());
            } else if key.eq_ignore_ascii_case("max-age") {
                max_age = v.parse::<i64>().ok();
            } else if key.eq_ignore_ascii_case("expires") {
                expires = httpdate::parse_http_date(v).ok();
            } else if (key.eq_ignore_ascii_case("domain") && !domain_matches(&target.host, v))
                || (key.eq_ignore_ascii_case("secure") && !target.tls)
            {
                return;
            }
        }
        // Max-Age wins over Expires; zero or less deletes (RFC 6265 5.3).
        let expires = match max_age {
            Some(s) if s <= 0 => Some(SystemTime::UNIX_EPOCH),
            Some(s) => Some(now + Duration::from_secs(s as u64)),
            None => expires,
        };
        let path = path.unwrap_or_else(|| default_path(request_path));
        self.cookies.retain(|c| !(c.name == name && c.path == path));
        if expires.is_some_and(|e| e <= now) {
            return;
        }
        let at = self
            .cookies
            .iter()
            .position(|c| c.path.len() < path.len())
            .unwrap_or(self.cookies.len());
        self.cookies.insert(
            at,
            Cookie {
                name: name.to_string(),
                value: value.to_string(),
                path,
                expires,
            },
        );
    }

    /// `request` with a `cookie` header of the cookies its path gets, or None when it
    /// gets none, or already has a `cookie` header of its own (which wins).
    pub fn add_to(&mut self, request: &[u8], now: SystemTime) -> Option<Vec<u8>> {
        self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        let head_end = find(request, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&request[..head_end]).ok()?;
        if head
            .split("\r\n")
            .skip(1)
            .any(|h| h.len() > 7 && h[..7].eq_ignore_ascii_case("cookie:"))
        {
            return None;
        }
        let path = path_of(request);
        let mut header = String::new();
        for c in self.cookies.iter().filter(|c| path_matches(&c.path, path)) {
            header.push_str(if header.is_empty() { "cookie: " } else { "; " });
            header.push_str(&c.name);
            header.push('=');
            header.push_str(&c.value);
        }
        if header.is_empty() {
            return None;
        }
        header.push_str("\r\n");
        let mut out = Vec::with_capacity(request.len() + header.len());
        out.extend_from_slice(&request[..head_end + 2]);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&request[head_end + 2..]);
        Some(out)
    }
}

/// The path a serialised request asks for, without its query.
pub fn path_of(request: &[u8]) -> &str {
    let target = request_line(request).map_or("/", |(_, target)| target);
    target.split('?').next().unwrap_or("/")
}

/// A cookie set without `Path` covers the folder of the request that set it.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(i) if i > 0 && request_path.starts_with('/') => request_path[..i].to_string(),
        _ => "/".to_string(),
    }
}

/// RFC 6265 5.1.3: `host` is the cookie's domain or a name under it (an address only
/// the same address); a leading dot is ignored.
fn domain_matches(host: &str, domain: &str) -> bool {
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    if domain.is_empty() {
        return true;
    }
    if host.eq_ignore_ascii_case(domain) {
        return true;
    }
    let is_address = host.parse::<std::net::IpAddr>().is_ok();
    !is_address
        && host.len() > domain.len()
        // The cut follows an ASCII '.', so it is on a character boundary.
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

/// RFC 6265 5.1.4: the same path, or one under it.
fn path_matches(cookie_path: &str, path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap()
    }

    fn sent(jar: &mut Jar, path: &str, now: SystemTime) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nhost: h\r\n\r\n");
        jar.add_to(request.as_bytes(), now)
            .map(|r| String::from_utf8(r).unwrap())
            .unwrap_or_default()
    }

    #[test]
    fn cookies_go_where_their_path_covers_until_they_expire() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut jar = Jar::default();
        let t = &target("https://api.example.com");
        jar.set("session=abc; Path=/; HttpOnly; Secure", "/login", t, now);
        jar.set("scoped=1; Path=/api", "/login", t, now);
        jar.set("short=x; Max-Age=60", "/docs/page", t, now);
        assert_eq!(
            sent(&mut jar, "/api/x?q=1", now),
            "GET /api/x?q=1 HTTP/1.1\r\nhost: h\r\ncookie: scoped=1; session=abc\r\n\r\n"
        );
        assert!(sent(&mut jar, "/apix", now).contains("cookie: session=abc\r\n"));
        assert!(sent(&mut jar, "/docs/other", now).contains("cookie: short=x; session=abc\r\n"));
        // Expired after 60 s; replaced by a later value; deleted by Max-Age=0 or a past Expires.
        let later = now + Duration::from_secs(61);
        assert!(sent(&mut jar, "/docs/other", later).contains("cookie: session=abc\r\n"));
        jar.set("session=def; Path=/", "/", t, later);
        assert!(sent(&mut jar, "/", later).contains("cookie: session=def\r\n"));
        jar.set("session=; Max-Age=0; Path=/", "/", t, later);
        jar.set(
            "scoped=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/api",
            "/",
            t,
            later,
        );
        assert_eq!(sent(&mut jar, "/api/x", later), "");
        assert!(jar.is_empty());
    }

    #[test]
    fn a_cookie_header_of_the_request_wins() {
        let now = SystemTime::now();
        let mut jar = Jar::default();
        jar.set("a=1", "/", &target("http://127.0.0.1:8000"), now);
        let own = b"GET / HTTP/1.1\r\nCookie: mine=2\r\n\r\n";
        assert_eq!(jar.add_to(own, now), None);
    }

    #[test]
    fn cookies_for_another_domain_or_secure_over_http_are_refused() {
        let now = SystemTime::now();
        let kept = |url: &str, header: &str| {
            let mut jar = Jar::default();
            jar.set(header, "/", &target(url), now);
            !jar.is_empty()
        };
        assert!(kept("http://api.example.com", "a=1; Domain=example.com"));
        assert!(kept("http://api.example.com", "a=1; Domain=.EXAMPLE.com"));
        assert!(kept("http://example.com:8080", "a=1; Domain=example.com"));
        assert!(!kept("http://api.example.com", "a=1; Domain=other.com"));
        assert!(!kept("http://badexample.com", "a=1; Domain=example.com"));
        assert!(!kept("http://bücher.example", "a=1; Domain=ü.example"));
        assert!(kept("http://127.0.0.1:8000", "a=1; Domain=127.0.0.1"));
        assert!(!kept("http://127.0.0.1:8000", "a=1; Domain=0.0.1"));
        assert!(!kept("http://127.0.0.1:8000", "a=1; Domain=localhost"));
        assert!(kept("https://127.0.0.1:8443", "a=1; Secure"));
        assert!(!kept("http://127.0.0.1:8000", "a=1; Secure"));
    }
}
