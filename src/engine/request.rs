//! Turning a planned request into bytes, and judging its response.

use std::fmt::Write as _;

use minijinja::Value;

use crate::config::{Plan, PlannedRequest, Text};
use crate::metrics::Failure;

/// Writes the full HTTP/1.1 request into `out` (cleared first). `ctx` is the template
/// context; `scratch` is a reused string for rendering.
pub fn write_request(
    plan: &Plan,
    req: &PlannedRequest,
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
    scratch.push_str(&plan.target.base_path);
    render(&req.path, scratch)?;
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
    scratch.push_str(&plan.default_headers);
    for (name, value) in &req.headers {
        scratch.push_str(name);
        scratch.push_str(": ");
        render(value, scratch)?;
        scratch.push_str("\r\n");
    }
    out.clear();
    out.extend_from_slice(scratch.as_bytes());
    match &req.body {
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

/// Checks status, body and JSON expectations. `body` is empty unless it was kept.
pub fn check(req: &PlannedRequest, status: u16, body: &[u8]) -> Result<(), Failure> {
    let e = &req.expect;
    let status_ok = if e.status.is_empty() {
        status < 400
    } else {
        e.status.contains(&status)
    };
    if !status_ok {
        return Err(Failure::Status(status));
    }
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
                        "{pointer} is {got}, expected {want}"
                    )))
                }
                None => return Err(Failure::Expect(format!("{pointer} is missing"))),
            }
        }
    }
    Ok(())
}

/// Pulls each `(name, JSON pointer)` out of a JSON body into `vars`.
pub fn extract(
    req: &PlannedRequest,
    body: &[u8],
    vars: &mut std::collections::BTreeMap<String, Value>,
) -> Result<(), Failure> {
    if req.extract.is_empty() {
        return Ok(());
    }
    let doc: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| Failure::Expect("cannot extract: body is not JSON".into()))?;
    for (name, pointer) in &req.extract {
        let v = doc.pointer(pointer).ok_or_else(|| {
            Failure::Expect(format!("cannot extract {name}: {pointer} is missing"))
        })?;
        vars.insert(name.clone(), Value::from(minijinja::value::Serde(v)));
    }
    Ok(())
}
