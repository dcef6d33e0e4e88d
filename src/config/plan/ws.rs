//! WebSocket steps: `ws = "/path"` opens the task's session, `send` and `receive` use it,
//! `close = true` ends it. Each is planned as a `PlannedStep` whose `ws` says which,
//! so templates, feeders, extraction, `when`, `repeat` and `think` work as for requests.

use std::collections::BTreeMap;

use toml::Spanned;

use super::step::plan_extract;
use super::users::{compile, tagged_endpoint, KnownNames, Users};
use crate::config::{
    ConfigError, Expectation, PlannedStep, RequestConfig, Source, StepKind, Text, WsStep,
};

/// Whether a task or step is a WebSocket one.
pub(super) fn is_ws(r: &RequestConfig) -> bool {
    r.ws.is_some() || r.send.is_some() || r.receive.is_some() || r.close
}

/// A WebSocket step; `session` is the path and endpoint of the session the steps
/// before it opened in this task.
pub(super) fn plan_step(
    spanned: &Spanned<RequestConfig>,
    inherited: &BTreeMap<String, String>,
    session: &mut Option<(String, usize)>,
    source: &Source,
    known: &KnownNames<'_>,
    out: &mut Users,
) -> Result<PlannedStep, ConfigError> {
    let r = spanned.get_ref();
    let at = |msg: String| source.error(spanned.span(), msg);
    let http_keys = [
        ("method", r.method.is_some()),
        ("path", r.path.is_some()),
        ("body", r.body.is_some()),
        ("json", r.json.is_some()),
        ("grpc", r.grpc.is_some()),
        ("message", r.message.is_some()),
        ("query", !r.query.is_empty()),
        ("check", r.check.is_some()),
        ("metrics", !r.metrics.is_empty()),
    ];
    if let Some((key, _)) = http_keys.iter().find(|(_, set)| *set) {
        return Err(at(format!(
            "a WebSocket step has no `{key}`: it opens a session (ws), sends and receives on it (send, receive), or closes it (close)"
        )));
    }
    let expect_set = r.expect.status.is_some()
        || r.expect.body_contains.is_some()
        || !r.expect.json.is_empty()
        || !r.expect.headers.is_empty();
    if expect_set {
        return Err(at(
            "a WebSocket step has no `expect`: `receive = { contains = \"…\", json = { … } }` says the message it waits for".into(),
        ));
    }
    let (kinds, mut tags) = (
        [
            r.ws.is_some(),
            r.send.is_some() || r.receive.is_some(),
            r.close,
        ],
        inherited.clone(),
    );
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(at(
            "a WebSocket step does one thing: open (ws), send and/or receive, or close: put each in its own step".into(),
        ));
    }
    tags.extend(r.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut compile = |t: &Spanned<String>| compile(&mut out.templates, known, source, t);
    let mut headers = Vec::new();
    let (step, path, body, name) = if let Some(path) = &r.ws {
        if !path.get_ref().starts_with('/') {
            return Err(source.error(
                path.span(),
                format!(
                    "ws {:?} must start with '/' (the host is [target]'s)",
                    path.get_ref()
                ),
            ));
        }
        for (k, v) in &r.headers {
            headers.push((k.clone(), compile(v)?));
        }
        let name = r.endpoint.clone().unwrap_or_else(|| path.get_ref().clone());
        (WsStep::Open, compile(path)?, None, name)
    } else {
        let Some((open_path, open_endpoint)) = session.clone() else {
            return Err(at(
                "no WebSocket session is open here: a step with ws = \"/path\" comes first in the task".into(),
            ));
        };
        if !r.headers.is_empty() {
            return Err(at(
                "headers go with the step that opens the session (ws)".into()
            ));
        }
        if r.close {
            *session = None;
            let none = Text::Static(String::new());
            return Ok(request(
                open_endpoint,
                WsStep::Close,
                none,
                None,
                Vec::new(),
                r,
                Vec::new(),
            ));
        }
        let body = r.send.as_ref().map(&mut compile).transpose()?;
        let receive = r.receive.as_ref().map(|rc| {
            let rc = rc.get_ref();
            Expectation {
                status: Vec::new(),
                body_contains: rc.contains.clone(),
                json: rc
                    .json
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
                    .collect(),
                headers: Vec::new(),
            }
        });
        let verb = if body.is_some() { "send" } else { "receive" };
        let name = r
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("{open_path} {verb}"));
        (
            WsStep::Exchange { receive },
            Text::Static(String::new()),
            body,
            name,
        )
    };
    let endpoint = tagged_endpoint(
        &mut out.endpoints,
        &mut out.endpoint_tags,
        &name,
        "WS",
        &tags,
    )
    .map_err(at)?;
    if let WsStep::Open = step {
        let written =
            r.ws.as_ref()
                .map(|p| p.get_ref().clone())
                .unwrap_or_default();
        *session = Some((written, endpoint));
    }
    let mut capture = Vec::new();
    let extract = plan_extract(spanned, source, &mut capture)?;
    if !capture.is_empty() {
        return Err(at(
            "a WebSocket message has no headers to extract: use a JSON pointer".into(),
        ));
    }
    let mut planned = request(endpoint, step, path, body, headers, r, extract);
    planned.when = r.when.as_ref().map(&mut compile).transpose()?;
    if let Some(rep) = &r.repeat {
        planned.repeat = Some(super::step::plan_repeat(rep, source, &mut compile)?);
    }
    Ok(planned)
}

fn request(
    endpoint: usize,
    step: WsStep,
    path: Text,
    body: Option<Text>,
    headers: Vec<(String, Text)>,
    r: &RequestConfig,
    extract: Vec<(String, crate::config::Extract)>,
) -> PlannedStep {
    PlannedStep {
        endpoint,
        method: "WS".into(),
        path,
        query: Vec::new(),
        headers,
        body,
        json: false,
        expect: Expectation {
            status: Vec::new(),
            body_contains: None,
            json: Vec::new(),
            headers: Vec::new(),
        },
        extract,
        capture: Vec::new(),
        fixed: None,
        when: None,
        repeat: None,
        think: r.think.map_or(std::time::Duration::ZERO, |d| d.0),
        checks: Vec::new(),
        metrics: Vec::new(),
        kind: StepKind::Ws(step),
    }
}
