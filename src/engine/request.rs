//! Turning a planned request into bytes, and judging its response.

use std::fmt::Write as _;

use minijinja::Value;

use super::grpc;
use super::response::Response;
use crate::config::{Expectation, Extract, Plan, PlannedStep, Reading, Target, Text};
use crate::metrics::{Failure, Recorder};

/// Writes the full HTTP/1.1 request into `out` (cleared first). `ctx` is the template
/// context; `scratch` is a reused string for rendering.
pub fn write_request(
    plan: &Plan,
    req: &PlannedStep,
    ctx: &Value,
    out: &mut Vec<u8>,
    scratch: &mut String,
) -> Result<(), Failure> {
    let render = |text: &Text, into: &mut String| {
        plan.templates
            .render(text, ctx, into)
            .map_err(Failure::Template)
    };
    scratch.clear();
    scratch.push_str(&req.method);
    scratch.push(' ');
    if plan.target.absolute_form {
        scratch.push_str("http://");
        scratch.push_str(&plan.target.authority);
    }
    scratch.push_str(&plan.target.base_path);
    let at = scratch.len();
    render(&req.path, scratch)?;
    if !req.path.is_static() {
        let path = &scratch[at..];
        framing_safe(path, true, || "the path".into()).map_err(|f| from(plan, &req.path, f))?;
    }
    for (i, (key, value)) in req.query.iter().enumerate() {
        scratch.push(if i == 0 && !scratch.contains('?') {
            '?'
        } else {
            '&'
        });
        percent_encode(key, scratch);
        scratch.push('=');
        let mut v = String::new();
        render(value, &mut v)?;
        percent_encode(&v, scratch);
    }
    scratch.push_str(" HTTP/1.1\r\nhost: ");
    scratch.push_str(&plan.target.authority);
    scratch.push_str("\r\n");
    for (name, value) in &plan.headers {
        scratch.push_str(name);
        scratch.push_str(": ");
        scratch.push_str(value);
        scratch.push_str("\r\n");
    }
    for (name, value) in &req.headers {
        scratch.push_str(name);
        scratch.push_str(": ");
        let at = scratch.len();
        render(value, scratch)?;
        if !value.is_static() {
            framing_safe(&scratch[at..], false, || format!("header {name:?}"))
                .map_err(|f| from(plan, value, f))?;
        }
        scratch.push_str("\r\n");
    }
    out.clear();
    out.extend_from_slice(scratch.as_bytes());
    match &req.body {
        Some(body) if req.grpc().is_some() => {
            scratch.clear();
            render(body, scratch)?;
            let method = req.grpc().expect("a gRPC step");
            let message = grpc::message(method, scratch).map_err(Failure::Template)?;
            let len = 5 + prost::Message::encoded_len(&message);
            let _ = write!(LenWriter(out), "content-length: {len}\r\n\r\n");
            grpc::frame(&message, out);
        }
        Some(body) => {
            scratch.clear();
            render(body, scratch)?;
            if req.json {
                out.extend_from_slice(b"content-type: application/json\r\n");
            }
            let _ = write!(LenWriter(out), "content-length: {}\r\n\r\n", scratch.len());
            out.extend_from_slice(scratch.as_bytes());
        }
        None if needs_length(&req.method) => out.extend_from_slice(b"content-length: 0\r\n\r\n"),
        None => out.extend_from_slice(b"\r\n"),
    }
    Ok(())
}

/// The statuses whose `Location` is followed; 300, 304 and 305 are answers.
pub const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Writes into `out` the request that follows a redirect answering `previous`: the
/// `Location` resolved on the target (another host is not followed: perfgate loads one
/// target), GET without a body after 303, and after 301 or 302 of a POST (as browsers,
/// Locust and k6 do); 307 and 308 repeat the method and body.
pub fn write_redirect(
    target: &Target,
    previous: &[u8],
    status: u16,
    location: &str,
    out: &mut Vec<u8>,
) -> Result<(), Failure> {
    let head_end = find(previous, b"\r\n\r\n").ok_or_else(bad_previous)? + 4;
    let line_end = find(previous, b"\r\n").ok_or_else(bad_previous)?;
    let (method, current) = request_line(previous).ok_or_else(bad_previous)?;
    let path = resolve(target, current, location)?;
    let to_get = match status {
        303 => method != "HEAD",
        301 | 302 => method == "POST",
        _ => false,
    };
    out.clear();
    out.extend_from_slice(if to_get { b"GET" } else { method.as_bytes() });
    out.push(b' ');
    if target.absolute_form {
        out.extend_from_slice(b"http://");
        out.extend_from_slice(target.authority.as_bytes());
    }
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for header in previous[line_end + 2..head_end - 2].split_inclusive(|&b| b == b'\n') {
        let name = header.split(|&b| b == b':').next().unwrap_or_default();
        let body_header = [
            &b"content-length"[..],
            b"content-type",
            b"transfer-encoding",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h));
        if !(to_get && body_header) {
            out.extend_from_slice(header);
        }
    }
    out.extend_from_slice(b"\r\n");
    if !to_get {
        out.extend_from_slice(&previous[head_end..]);
    }
    Ok(())
}

/// The method and request path ("/path?query") of a serialised request (of an
/// absolute-form one, sent through a proxy, its path).
pub fn request_line(request: &[u8]) -> Option<(&str, &str)> {
    let end = find(request, b"\r\n")?;
    let line = std::str::from_utf8(&request[..end]).ok()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    Some((method, path))
}

fn bad_previous() -> Failure {
    Failure::Redirect("cannot read the request to repeat".into())
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The request target a `Location` names, on this target only.
pub(super) fn resolve(target: &Target, current: &str, location: &str) -> Result<String, Failure> {
    let location = location.trim();
    let location = location.split('#').next().unwrap_or_default();
    let scheme = if target.tls { "https" } else { "http" };
    // Schemes are case-insensitive: "HTTP://" is "http://".
    let after = |prefix: &str| {
        location
            .get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .map(|_| &location[prefix.len()..])
    };
    let absolute = after("http://")
        .map(|r| ("http", r))
        .or_else(|| after("https://").map(|r| ("https", r)))
        .or_else(|| after("//").map(|r| (scheme, r)));
    let path = match absolute {
        Some((their_scheme, rest)) => {
            let split = rest.find(['/', '?']).unwrap_or(rest.len());
            let (authority, path) = rest.split_at(split);
            let default_port = if their_scheme == "https" {
                ":443"
            } else {
                ":80"
            };
            let same = their_scheme == scheme
                && authority
                    .trim_end_matches(default_port)
                    .eq_ignore_ascii_case(target.authority.trim_end_matches(default_port));
            if !same {
                return Err(Failure::Redirect(format!(
                    "to another host, not followed: {location}"
                )));
            }
            match path {
                "" => "/".to_string(),
                p if p.starts_with('?') => format!("/{p}"),
                p => p.to_string(),
            }
        }
        None if location.starts_with('/') => location.to_string(),
        None if location.is_empty() => {
            return Err(Failure::Redirect("empty Location".into()));
        }
        None => {
            // Relative to the current path's folder.
            let current = current.split('?').next().unwrap_or("/");
            let folder = &current[..current.rfind('/').map_or(0, |i| i + 1)];
            format!("{}{location}", if folder.is_empty() { "/" } else { folder })
        }
    };
    if path
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(Failure::Redirect(format!("bad Location {location:?}")));
    }
    Ok(path)
}

/// A value a target sent, cut for a failure reason: reasons are counted by their text,
/// and a 10 MB JSON value must not become one.
fn cut(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn needs_length(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH")
}

struct LenWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for LenWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn percent_encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// Refuses a value that would change the request's framing on the wire (header
/// injection, request splitting): CR, LF, NUL or another control byte (a tab is fine in a
/// header value), and in a path also a space. Such a request is never sent: it fails
/// with a reason naming `what`.
#[inline]
pub(super) fn framing_safe(
    value: &str,
    path: bool,
    what: impl FnOnce() -> String,
) -> Result<(), Failure> {
    match crate::config::wire::unsafe_byte(value, path) {
        None => Ok(()),
        Some(b) => Err(Failure::Template(format!(
            "{} would hold {} (it would change the request on the wire): not sent",
            what(),
            crate::config::wire::byte_name(b)
        ))),
    }
}

/// `f`, saying which template made the value.
#[cold]
fn from(plan: &Plan, text: &Text, f: Failure) -> Failure {
    match f {
        Failure::Template(why) => Failure::Template(format!(
            "{why}; rendered from {:?}",
            plan.templates.source(text)
        )),
        f => f,
    }
}

/// Checks status, body and JSON expectations. `body` is empty unless it was kept.
#[inline]
pub fn check(req: &PlannedStep, resp: &Response, body: &[u8]) -> Result<(), Failure> {
    if req.grpc().is_some() {
        grpc_ended(resp)?;
    }
    let e = &req.expect;
    // The usual expectation, a status below 400, without a call.
    let plain = e.status.is_empty() && e.body_contains.is_none() && e.json.is_empty();
    if plain && e.headers.is_empty() && !resp.body_cut {
        return match resp.status {
            s if s < 400 => Ok(()),
            s => Err(Failure::Status(s)),
        };
    }
    meets(e, true, req, resp, body)
}

/// How a gRPC call ended: HTTP 200 and `grpc-status` 0, or its failure.
pub(super) fn grpc_ended(resp: &Response) -> Result<(), Failure> {
    match (resp.status, resp.grpc_status()) {
        (200, Some(0)) => Ok(()),
        (200, Some(code)) => Err(Failure::Grpc(code)),
        (200, None) => Err(Failure::Protocol(
            "no grpc-status: not a gRPC answer".into(),
        )),
        (status, _) => Err(Failure::Status(status)),
    }
}

/// Turns a gRPC answer's messages, kept in `body`, into JSON there, for checks,
/// extraction and numbers read to use as any JSON body.
pub fn grpc_json(
    method: &crate::config::grpc::GrpcMethod,
    body: &mut Vec<u8>,
) -> Result<(), Failure> {
    let json = grpc::to_json(method, body).map_err(Failure::Protocol)?;
    body.clear();
    serde_json::to_writer(&mut *body, &json).map_err(|e| Failure::Protocol(e.to_string()))
}

/// Records each soft check of `req` on this response as held or not.
pub fn soft_checks(req: &PlannedStep, resp: &Response, body: &[u8], rec: &mut Recorder) {
    for (id, c) in &req.checks {
        let held = meets(c, false, req, resp, body).is_ok();
        rec.checked(req.endpoint, *id, held);
    }
}

/// Reads each of `req`'s metrics from this response; a value that is missing or not a
/// number of 0 or more is not recorded.
pub fn read_metrics(req: &PlannedStep, resp: &Response, body: &[u8], rec: &mut Recorder) {
    let mut doc: Option<Option<serde_json::Value>> = None;
    for (id, from) in &req.metrics {
        let value = match from {
            Reading::Json(pointer) => doc
                .get_or_insert_with(|| serde_json::from_slice(body).ok())
                .as_ref()
                .and_then(|d| d.pointer(pointer))
                .and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok())),
            Reading::Header(i) => resp.captured(*i).and_then(first_number),
            Reading::ServerTiming(i, entry) => {
                resp.captured(*i).and_then(|h| server_timing(h, entry))
            }
            Reading::MessageGaps => {
                for ms in message_gaps(resp) {
                    rec.read(req.endpoint, *id, ms);
                }
                None
            }
        };
        if let Some(v) = value.filter(|v| v.is_finite() && *v >= 0.0) {
            rec.read(req.endpoint, *id, v);
        }
    }
}

/// The milliseconds each message of a gRPC stream took to come after the one before
/// (the first: after the answer's headers).
pub fn message_gaps(resp: &Response) -> impl Iterator<Item = f64> + '_ {
    let mut before = resp.first_byte;
    resp.messages().iter().map(move |&at| {
        let ms = at.saturating_duration_since(before).as_secs_f64() * 1e3;
        before = at;
        ms
    })
}

/// The first number in a header value: "12.5ms" → 12.5.
fn first_number(text: &str) -> Option<f64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The `dur` of entry `name` of a Server-Timing header: "db;dur=3.5, total;dur=12.5".
fn server_timing(header: &str, name: &str) -> Option<f64> {
    header.split(',').find_map(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        if !parts.next()?.eq_ignore_ascii_case(name) {
            return None;
        }
        parts.find_map(|p| p.strip_prefix("dur=")?.trim_matches('"').parse().ok())
    })
}

/// Whether the response meets `e`; with `default_status`, an expectation without a
/// status wants one below 400.
fn meets(
    e: &Expectation,
    default_status: bool,
    req: &PlannedStep,
    resp: &Response,
    body: &[u8],
) -> Result<(), Failure> {
    let status = resp.status;
    let status_ok = if e.status.is_empty() {
        !default_status || status < 400
    } else {
        e.status.contains(&status)
    };
    if !status_ok {
        return Err(Failure::Status(status));
    }
    if resp.body_cut && req.needs_body() {
        return Err(Failure::Expect(
            "the body is larger than [target] max_body, so it was not kept whole to check; raise max_body".into(),
        ));
    }
    for (i, needle) in &e.headers {
        let name = &req.capture[*i];
        match resp.captured(*i) {
            Some(value) if value.contains(needle.as_str()) => {}
            // A credential's value is never quoted.
            Some(_) if crate::config::SECRET_HEADERS.contains(&name.as_str()) => {
                return Err(Failure::Expect(format!(
                    "{name} does not contain what expect.headers asks (its value is not shown)"
                )))
            }
            Some(value) => {
                return Err(Failure::Expect(format!(
                    "{name} is {value:?}, expected it to contain {needle:?}"
                )))
            }
            None => return Err(Failure::Expect(format!("no {name} header"))),
        }
    }
    body_meets(e, body)
}

/// Whether `body` meets `e`'s conditions on a body: the text it contains, the values at
/// its JSON pointers (a response's, or a WebSocket message's).
pub fn body_meets(e: &Expectation, body: &[u8]) -> Result<(), Failure> {
    if let Some(needle) = &e.body_contains {
        if !body
            .windows(needle.len().max(1))
            .any(|w| w == needle.as_bytes())
        {
            return Err(Failure::Expect(format!("body does not contain {needle:?}")));
        }
    }
    if !e.json.is_empty() {
        let doc: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| Failure::Expect("body is not JSON".into()))?;
        for (pointer, want) in &e.json {
            match doc.pointer(pointer) {
                Some(got) if got == want => {}
                Some(got) => {
                    return Err(Failure::Expect(format!(
                        "{pointer} is {}, expected {want}",
                        cut(&got.to_string())
                    )))
                }
                None => return Err(Failure::Expect(format!("{pointer} is missing"))),
            }
        }
    }
    Ok(())
}

/// Pulls each extracted value into `vars`: a JSON pointer out of the body, or a header
/// the client kept. (Inlined into both its callers, requests' and WebSocket messages':
/// called out of line it cost the HTTP/1.1 path 25 instructions a request.)
#[inline(always)]
pub fn extract(
    req: &PlannedStep,
    resp: &Response,
    body: &[u8],
    vars: &mut std::collections::BTreeMap<String, Value>,
) -> Result<(), Failure> {
    let mut doc = None;
    for (name, from) in &req.extract {
        let v = match from {
            Extract::Json(pointer) => {
                if doc.is_none() {
                    let d: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
                        Failure::Expect(format!("cannot extract {name}: body is not JSON"))
                    })?;
                    doc = Some(d);
                }
                let got = doc
                    .as_ref()
                    .and_then(|d| d.pointer(pointer))
                    .ok_or_else(|| {
                        Failure::Expect(format!("cannot extract {name}: {pointer} is missing"))
                    })?;
                Value::from(minijinja::value::Serde(got))
            }
            Extract::Header(i) => {
                let got = resp.captured(*i).ok_or_else(|| {
                    Failure::Expect(format!(
                        "cannot extract {name}: no {} header",
                        req.capture[*i]
                    ))
                })?;
                Value::from(got)
            }
        };
        vars.insert(name.clone(), v);
    }
    Ok(())
}

/// For the fuzzer (`crate::fuzz`): writes every step of `plan`'s first class's first task
/// with `vars.v` set to `value`; the heads written (those refused are left out).
pub fn write_for_fuzzing(plan: &Plan, value: &str) -> Vec<Vec<u8>> {
    let vars = std::collections::BTreeMap::from([("v".to_string(), value.to_string())]);
    let ctx = minijinja::context! { vars => Value::from(vars), user => 0, iteration => 1 };
    let (mut out, mut scratch) = (Vec::new(), String::new());
    let mut heads = Vec::new();
    for req in &plan.users[0].tasks[0].steps {
        if write_request(plan, req, &ctx, &mut out, &mut scratch).is_ok() {
            let end = out
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(out.len());
            heads.push(out[..end].to_vec());
        }
    }
    heads
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_resolves_on_the_target_only() {
        let t = Target::parse("http://127.0.0.1:8000").unwrap();
        let at = |loc: &str| resolve(&t, "/a/b?q=1", loc);
        assert_eq!(at("/x?y=2#frag").unwrap(), "/x?y=2");
        assert_eq!(at("c").unwrap(), "/a/c");
        assert_eq!(at("http://127.0.0.1:8000").unwrap(), "/");
        assert_eq!(at("HTTP://127.0.0.1:8000?z").unwrap(), "/?z");
        assert_eq!(at("//127.0.0.1:8000/d").unwrap(), "/d");
        for away in [
            "https://127.0.0.1:8000/",
            "http://127.0.0.1:8001/",
            "http://example.com/",
        ] {
            assert!(at(away).is_err(), "{away}");
        }
        assert!(at("/bad path").is_err());
        assert!(at("").is_err());
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!(resolve(&t, "/", "http://localhost:80/e").unwrap(), "/e");
    }

    #[test]
    fn a_303_after_a_post_becomes_a_get_without_its_body() {
        let t = Target::parse("http://h").unwrap();
        let post = b"POST /f HTTP/1.1\r\nhost: h\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let mut out = Vec::new();
        write_redirect(&t, post, 303, "/done", &mut out).unwrap();
        assert_eq!(out, b"GET /done HTTP/1.1\r\nhost: h\r\n\r\n");
        write_redirect(&t, post, 307, "/again", &mut out).unwrap();
        assert_eq!(
            out,
            b"POST /again HTTP/1.1\r\nhost: h\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
    }
}
