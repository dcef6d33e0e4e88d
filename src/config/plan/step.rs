//! What every kind of step shares: the planned step itself (its kind an enum), what is
//! expected of its answer, what is extracted, checked and read from it, and how it repeats.

use toml::Spanned;

use crate::config::{ConfigError, RequestConfig, Source, StatusList, Text};

pub struct PlannedStep {
    /// Index into `Plan::endpoints`.
    pub endpoint: usize,
    pub method: String,
    pub path: Text,
    pub query: Vec<(String, Text)>,
    pub headers: Vec<(String, Text)>,
    pub body: Option<Text>,
    pub json: bool,
    pub expect: Expectation,
    pub extract: Vec<(String, Extract)>,
    /// The response headers `extract` reads or `expect` checks (lowercase), for the
    /// client to keep.
    pub capture: Vec<String>,
    /// The whole request, serialised once, when nothing in it is a template.
    pub fixed: Option<Vec<u8>>,
    /// Sent only when this renders `true`.
    pub when: Option<Text>,
    pub repeat: Option<Repeat>,
    /// Think time after it.
    pub think: std::time::Duration,
    /// Soft checks: (index into `Plan::checks`, the one condition it checks).
    pub checks: Vec<(usize, Expectation)>,
    /// Numbers read from the response: (index into `Plan::metrics`, where from).
    pub metrics: Vec<(usize, Reading)>,
    /// What kind of exchange it is.
    pub kind: StepKind,
}

/// The kinds of step: each has its plan file (`config/plan/`) and engine file
/// (`engine/`); the user loop matches the kind once.
pub enum StepKind {
    /// An HTTP request (`path`, `method`, ...).
    Http,
    /// A gRPC call of this method (`grpc = "..."`): POSTed over HTTP/2, its `body` the
    /// request message as JSON, its response judged by `grpc-status`.
    Grpc(std::sync::Arc<super::grpc::GrpcMethod>),
    /// A WebSocket step on its task's session.
    Ws(WsStep),
}

impl PlannedStep {
    /// The gRPC method it calls, if it is a gRPC call.
    pub fn grpc(&self) -> Option<&super::grpc::GrpcMethod> {
        match &self.kind {
            StepKind::Grpc(m) => Some(m),
            _ => None,
        }
    }
}

/// What a WebSocket step does on its task's session.
pub enum WsStep {
    /// Opens it on `path` (a new connection, then the upgrade; `headers` sent with it);
    /// an open session is closed first.
    Open,
    /// Sends `body` (when there is one), then waits for a message meeting `receive`
    /// (when there is one): the round trip is this endpoint's latency.
    Exchange { receive: Option<Expectation> },
    /// Closes it.
    Close,
}

/// Where a number of a response is read (`metrics = { NAME = "..." }`).
#[derive(Clone, Debug)]
pub enum Reading {
    /// A JSON pointer into the body.
    Json(String),
    /// The first number in a header (an index into `PlannedStep::capture`).
    Header(usize),
    /// The `dur` of one entry of the Server-Timing header (its capture index, the entry).
    ServerTiming(usize, String),
    /// Each message of a gRPC server stream: the time since the one before (the first:
    /// since the response's headers).
    MessageGaps,
}

/// How a step is sent again.
pub enum Repeat {
    Times {
        times: u32,
        every: std::time::Duration,
    },
    /// Until the template renders `true`, at most `max` sends.
    Until {
        until: Text,
        max: u32,
        every: std::time::Duration,
    },
}

impl Repeat {
    /// The most sends, and the pause between them.
    pub fn bounds(&self) -> (u32, std::time::Duration) {
        match self {
            Repeat::Times { times, every } => (*times, *every),
            Repeat::Until { max, every, .. } => (*max, *every),
        }
    }
}

/// The prefix of a transaction's endpoint name: "task:checkout".
pub const TRANSACTION: &str = "task:";

/// Where an extracted value comes from.
#[derive(Clone, Debug)]
pub enum Extract {
    /// A JSON pointer into the body: "/auth/token".
    Json(String),
    /// A response header: "header:Location"; an index into `PlannedStep::capture`.
    Header(usize),
}

impl PlannedStep {
    /// Whether the response body must be kept to check or extract from it.
    pub fn needs_body(&self) -> bool {
        self.expect.needs_body()
            || self.checks.iter().any(|(_, c)| c.needs_body())
            || self
                .metrics
                .iter()
                .any(|(_, r)| matches!(r, Reading::Json(_)))
            || self
                .extract
                .iter()
                .any(|(_, e)| matches!(e, Extract::Json(_)))
    }

    /// True when nothing needs rendering per request.
    pub fn is_static(&self) -> bool {
        self.path.is_static()
            && self.query.iter().all(|(_, t)| t.is_static())
            && self.headers.iter().all(|(_, t)| t.is_static())
            && self.body.as_ref().is_none_or(Text::is_static)
    }
}

#[derive(Clone, Debug)]
pub struct Expectation {
    /// Empty: any status below 400.
    pub status: Vec<u16>,
    pub body_contains: Option<String>,
    pub json: Vec<(String, serde_json::Value)>,
    /// (index into `PlannedStep::capture`, text the header's value must contain).
    pub headers: Vec<(usize, String)>,
}

impl Expectation {
    /// Whether the response body must be kept to check or extract from it.
    pub fn needs_body(&self) -> bool {
        self.body_contains.is_some() || !self.json.is_empty()
    }

    /// Each condition alone, with what it checks in words ("status is 200", "body
    /// contains \"ok\"", "/valid is true", "content-type contains \"json\"").
    pub(super) fn each(&self, capture: &[String]) -> Vec<(String, Expectation)> {
        let none = || Expectation {
            status: vec![],
            body_contains: None,
            json: vec![],
            headers: vec![],
        };
        let mut out = Vec::new();
        if !self.status.is_empty() {
            let list: Vec<String> = self.status.iter().map(u16::to_string).collect();
            out.push((
                format!("status is {}", list.join(" or ")),
                Expectation {
                    status: self.status.clone(),
                    ..none()
                },
            ));
        }
        if let Some(b) = &self.body_contains {
            out.push((
                format!("body contains {b:?}"),
                Expectation {
                    body_contains: Some(b.clone()),
                    ..none()
                },
            ));
        }
        for j in &self.json {
            out.push((
                format!("{} is {}", j.0, j.1),
                Expectation {
                    json: vec![j.clone()],
                    ..none()
                },
            ));
        }
        for h in &self.headers {
            out.push((
                format!("{} contains {:?}", capture[h.0], h.1),
                Expectation {
                    headers: vec![h.clone()],
                    ..none()
                },
            ));
        }
        out
    }
}

/// The index of metric `name`, added to `names` if new.
pub(super) fn metric_id(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    }
}

/// `metrics = { NAME = "/pointer" | "header:NAME" | "server-timing:NAME" }`, each name
/// given an index in `names`.
pub(super) fn plan_metrics(
    spanned: &Spanned<RequestConfig>,
    source: &Source,
    capture: &mut Vec<String>,
    names: &mut Vec<String>,
) -> Result<Vec<(usize, Reading)>, ConfigError> {
    let mut out = Vec::new();
    for (name, from) in &spanned.get_ref().metrics {
        let at = |msg: String| source.error(spanned.span(), msg);
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.is_empty()
            || matches!(name.as_str(), "ttfb" | "connect")
        {
            return Err(at(format!(
                "metrics: {name:?} must be a name of letters, digits and _ (and not ttfb or connect)"
            )));
        }
        let header = |h: &str, capture: &mut Vec<String>| {
            captured(h, capture)
                .ok_or_else(|| at(format!("metrics {name:?}: {h:?} is no header name")))
        };
        let reading = if let Some(entry) = from.strip_prefix("server-timing:") {
            Reading::ServerTiming(header("server-timing", capture)?, entry.trim().to_string())
        } else if let Some(h) = from.strip_prefix("header:") {
            Reading::Header(header(h, capture)?)
        } else if from.is_empty() || from.starts_with('/') {
            Reading::Json(from.clone())
        } else {
            return Err(at(format!(
                "metrics {name:?}: {from:?} is neither a JSON pointer (\"/timing/total\"), header:NAME nor server-timing:NAME"
            )));
        };
        out.push((metric_id(names, name), reading));
    }
    Ok(out)
}

/// `repeat = { times }` or `{ until, max, every }`, checked.
pub(super) fn plan_repeat(
    rep: &Spanned<crate::config::RepeatConfig>,
    source: &Source,
    compile: &mut impl FnMut(&Spanned<String>) -> Result<Text, ConfigError>,
) -> Result<Repeat, ConfigError> {
    let at = |msg: &str| source.error(rep.span(), msg.to_string());
    let r = rep.get_ref();
    let every = r.every.map_or(std::time::Duration::ZERO, |d| d.0);
    let most = |n: u32| (1..=10_000).contains(&n);
    match (&r.times, &r.until) {
        (Some(times), None) if r.max.is_none() => {
            if !most(*times) {
                return Err(at("repeat times must be from 1 to 10000"));
            }
            Ok(Repeat::Times {
                times: *times,
                every,
            })
        }
        (None, Some(until)) => {
            let max = r.max.unwrap_or(10);
            if !most(max) {
                return Err(at("repeat max must be from 1 to 10000"));
            }
            Ok(Repeat::Until {
                until: compile(until)?,
                max,
                every,
            })
        }
        _ => Err(at(
            "repeat is { times = N } or { until = \"{{ ... }}\", max = N, every = \"500ms\" }",
        )),
    }
}

/// Each extracted name and where its value comes from; the response headers those read
/// are added to `capture`.
pub(super) fn plan_extract(
    spanned: &Spanned<RequestConfig>,
    source: &Source,
    capture: &mut Vec<String>,
) -> Result<Vec<(String, Extract)>, ConfigError> {
    let mut extract = Vec::new();
    for (name, from) in &spanned.get_ref().extract {
        let how = if let Some(header) = from.strip_prefix("header:") {
            let i = captured(header, capture).ok_or_else(|| {
                source.error(
                    spanned.span(),
                    format!("extract {name:?}: {from:?} names no header (write header:NAME, e.g. header:location)"),
                )
            })?;
            Extract::Header(i)
        } else if from.is_empty() || from.starts_with('/') {
            Extract::Json(from.clone())
        } else {
            return Err(source.error(
                spanned.span(),
                format!("extract {name:?}: {from:?} is neither a JSON pointer (\"/auth/token\") nor header:NAME"),
            ));
        };
        extract.push((name.clone(), how));
    }
    Ok(extract)
}

/// The index in `capture` of response header `name` (added if new), or None when
/// `name` is no header name.
fn captured(name: &str, capture: &mut Vec<String>) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return None;
    }
    Some(match capture.iter().position(|c| *c == name) {
        Some(i) => i,
        None => {
            capture.push(name);
            capture.len() - 1
        }
    })
}

/// The expectations of `expect` (or `check`); the response headers they read are added
/// to `capture`.
pub(super) fn plan_expect(
    e: &crate::config::Expect,
    key: &str,
    spanned: &Spanned<RequestConfig>,
    source: &Source,
    capture: &mut Vec<String>,
) -> Result<Expectation, ConfigError> {
    let mut headers = Vec::new();
    for (name, needle) in &e.headers {
        let i = captured(name, capture).ok_or_else(|| {
            source.error(
                spanned.span(),
                format!("{key}.headers: {name:?} is no header name (e.g. \"content-type\")"),
            )
        })?;
        headers.push((i, needle.clone()));
    }
    Ok(Expectation {
        status: match &e.status {
            None => vec![],
            Some(StatusList::One(s)) => vec![*s],
            Some(StatusList::Many(v)) => v.clone(),
        },
        body_contains: e.body_contains.clone(),
        json: e
            .json
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
            .collect(),
        headers,
    })
}
