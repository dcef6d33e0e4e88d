//! Planning an HTTP step (and a gRPC call, an HTTP/2 POST of its own shape): its path,
//! method, query, headers and body compiled and checked, its endpoint named and tagged.

use std::collections::BTreeMap;

use toml::Spanned;

use super::step::{
    metric_id, plan_expect, plan_extract, plan_metrics, plan_repeat, PlannedStep, Reading,
    StepKind, TRANSACTION,
};
use super::users::{compile, tagged_endpoint, KnownNames, Users};
use crate::config::{ConfigError, RequestConfig, Source, Text};

/// One request; its endpoint gets its tags and `inherited` (its task's, for a step).
pub(super) fn plan_request(
    spanned: &Spanned<RequestConfig>,
    inherited: &BTreeMap<String, String>,
    source: &Source,
    known: &KnownNames<'_>,
    out: &mut Users,
) -> Result<PlannedStep, ConfigError> {
    let (templates, endpoints, endpoint_tags, out_checks, out_metrics) = (
        &mut out.templates,
        &mut out.endpoints,
        &mut out.endpoint_tags,
        &mut out.checks,
        &mut out.metrics,
    );
    let r = spanned.get_ref();
    let grpc = match &r.grpc {
        Some(name) => Some(super::grpc::plan_grpc(spanned, name, source, known)?),
        None if r.message.is_some() => {
            return Err(source.error(
                spanned.span(),
                "`message` is a gRPC request's: add grpc = \"package.Service/Method\"",
            ))
        }
        None => None,
    };
    let grpc_path = grpc
        .as_ref()
        .map(|m| Spanned::new(spanned.span(), m.path.clone()));
    let path = r
        .path
        .as_ref()
        .or(grpc_path.as_ref())
        .ok_or_else(|| source.error(spanned.span(), "request has no `path`"))?;
    if !path.get_ref().starts_with('/') {
        return Err(source.error(
            path.span(),
            format!("path {:?} must start with '/'", path.get_ref()),
        ));
    }
    let method = r
        .method
        .clone()
        .unwrap_or_else(|| if grpc.is_some() { "POST" } else { "GET" }.into())
        .to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(source.error(spanned.span(), format!("invalid HTTP method {method:?}")));
    }
    if r.body.is_some() && r.json.is_some() {
        return Err(source.error(spanned.span(), "a request has `body` or `json`, not both"));
    }
    check_wire(r, path, source)?;
    let mut compile = |t: &Spanned<String>| compile(templates, known, source, t);
    let path_text = compile(path)?;
    let query = r
        .query
        .iter()
        .map(|(k, v)| Ok((k.clone(), compile(v)?)))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let mut headers = r
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), compile(v)?)))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let body = match r.json.as_ref().or(r.body.as_ref()).or(r.message.as_ref()) {
        Some(b) => Some(compile(b)?),
        None => None,
    };
    if let Some(m) = &grpc {
        for (name, value) in [("content-type", "application/grpc"), ("te", "trailers")] {
            headers.push((name.into(), Text::Static(value.into())));
        }
        if let (Some(Text::Static(_)), Some(text)) = (&body, &r.message) {
            super::grpc::check_message(m, text, source)?;
        }
    }
    if let (Some(Text::Static(s)), Some(_)) = (&body, &r.json) {
        serde_json::from_str::<serde_json::Value>(s).map_err(|e| {
            source.error(
                r.json.as_ref().unwrap().span(),
                format!("`json` is not valid JSON: {e}"),
            )
        })?;
    }
    let when = r.when.as_ref().map(&mut compile).transpose()?;
    let repeat = match &r.repeat {
        None => None,
        Some(rep) => Some(plan_repeat(rep, source, &mut compile)?),
    };
    let name = r.endpoint.clone().unwrap_or_else(|| path.get_ref().clone());
    if name.starts_with(TRANSACTION) {
        return Err(source.error(
            spanned.span(),
            format!("endpoint {name:?}: names starting with {TRANSACTION:?} are the tasks' own (a task of several steps is timed as task:NAME)"),
        ));
    }
    let mut tags = inherited.clone();
    tags.extend(r.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    let shown = if grpc.is_some() { "GRPC" } else { &method };
    let endpoint = tagged_endpoint(endpoints, endpoint_tags, &name, shown, &tags)
        .map_err(|e| source.error(spanned.span(), e))?;
    let mut capture = Vec::new();
    let extract = plan_extract(spanned, source, &mut capture)?;
    let expect = plan_expect(&r.expect, "expect", spanned, source, &mut capture)?;
    let mut metrics = plan_metrics(spanned, source, &mut capture, out_metrics)?;
    if grpc.as_ref().is_some_and(|m| m.server_streaming) {
        metrics.push((
            metric_id(out_metrics, super::grpc::MESSAGE_MS),
            Reading::MessageGaps,
        ));
    }
    let checks = match &r.check {
        Some(c) => {
            let all = plan_expect(c.get_ref(), "check", spanned, source, &mut capture)?;
            let mut checks = Vec::new();
            for (what, one) in all.each(&capture) {
                out_checks.push((name.clone(), what));
                checks.push((out_checks.len() - 1, one));
            }
            checks
        }
        None => Vec::new(),
    };
    Ok(PlannedStep {
        endpoint,
        method,
        path: path_text,
        query,
        headers,
        body,
        json: r.json.is_some(),
        expect,
        extract,
        capture,
        fixed: None,
        when,
        repeat,
        think: r.think.map_or(std::time::Duration::ZERO, |d| d.0),
        checks,
        metrics,
        kind: match grpc {
            Some(m) => StepKind::Grpc(m),
            None => StepKind::Http,
        },
    })
}

/// Header names that are not tokens, and written values that would change the request
/// on the wire (CR, LF, NUL; a space in the path), refused where they are written.
/// What templates render is checked as each request is written.
pub(super) fn check_wire(
    r: &RequestConfig,
    path: &Spanned<String>,
    source: &Source,
) -> Result<(), ConfigError> {
    use crate::config::wire::{byte_name, is_token, unsafe_byte};
    let written = |t: &Spanned<String>, is_path: bool| {
        let literal = !t.get_ref().contains("{{") && !t.get_ref().contains("{%");
        match unsafe_byte(t.get_ref(), is_path).filter(|_| literal) {
            Some(b) => Err(source.error(
                t.span(),
                format!(
                    "{} would change the request on the wire: remove it",
                    byte_name(b)
                ),
            )),
            None => Ok(()),
        }
    };
    written(path, true)?;
    for (name, value) in &r.headers {
        if !is_token(name) {
            return Err(source.error(
                value.span(),
                format!(
                    "header name {name:?} is not an HTTP token (letters, digits, !#$%&'*+-.^_`|~)"
                ),
            ));
        }
        written(value, false)?;
    }
    Ok(())
}
