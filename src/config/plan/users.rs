//! User classes and their tasks: each request planned (templates compiled and checked,
//! endpoint names given indices, expectations and extractions resolved).

use std::collections::BTreeMap;

use toml::Spanned;

use crate::config::{
    Config, ConfigError, RequestConfig, Source, StatusList, Templates, Text, UserClass, Wait,
};

/// Every user class planned, with the endpoints and tasks their requests name.
pub(super) struct Users {
    pub users: Vec<PlannedUser>,
    pub endpoints: Vec<(String, String)>,
    pub tasks: Vec<(String, String)>,
    pub templates: Templates,
}

/// Plans every user class; templates' `env()` reads `vars`.
pub(super) fn plan(
    config: &Config,
    source: &Source,
    vars: &BTreeMap<String, String>,
) -> Result<Users, ConfigError> {
    if config.users.is_empty() {
        return Err(source.whole("no [[users]] defined: add at least one user class with tasks"));
    }
    let class_weight: u64 = config.users.iter().map(|u| u.get_ref().weight as u64).sum();
    if class_weight == 0 {
        return Err(source.error(
            config.users[0].span(),
            "user class weights add up to 0: give at least one class a weight above 0",
        ));
    }
    let mut out = Users {
        users: Vec::new(),
        endpoints: Vec::new(),
        tasks: Vec::new(),
        templates: Templates::with_env(vars.clone()),
    };
    let known = KnownNames::of(config);
    for class in &config.users {
        let user = plan_class(config, class, source, &known, &mut out)?;
        out.users.push(user);
    }
    Ok(out)
}

fn plan_class(
    config: &Config,
    class: &Spanned<UserClass>,
    source: &Source,
    known: &KnownNames<'_>,
    out: &mut Users,
) -> Result<PlannedUser, ConfigError> {
    let c = class.get_ref();
    let at = |msg: String| source.error(class.span(), msg);
    let no_tasks = || {
        at(format!(
            "user class {:?} has no tasks: add [[users.tasks]] or tasks_from",
            c.name
        ))
    };
    let task_list = match (&c.tasks, &c.tasks_from) {
        (Some(t), None) => t,
        (None, None) => return Err(no_tasks()),
        (Some(_), Some(_)) => {
            return Err(at(format!(
                "user class {:?} has both tasks and tasks_from",
                c.name
            )))
        }
        (None, Some(from)) => match config.users.iter().find(|u| u.get_ref().name == *from) {
            Some(u) => u.get_ref().tasks.as_ref().ok_or_else(|| {
                at(format!(
                    "tasks_from {from:?}: that class has no tasks of its own"
                ))
            })?,
            None => {
                return Err(at(format!(
                    "tasks_from {from:?}: no user class has that name"
                )))
            }
        },
    };
    if task_list.get_ref().is_empty() {
        return Err(no_tasks());
    }
    let mut planned = Vec::new();
    for task in task_list.get_ref() {
        let steps = plan_steps(task, source, known, out)?;
        let t = task.get_ref();
        let task_name = t
            .name
            .clone()
            .unwrap_or_else(|| out.endpoints[steps[0].endpoint].0.clone());
        out.tasks.push((c.name.clone(), task_name));
        let feeders = feeders_used(config, &out.templates, &steps);
        planned.push(PlannedTask {
            id: out.tasks.len() - 1,
            weight: t.weight.unwrap_or(1),
            steps,
            feeders,
        });
    }
    if planned.iter().all(|t| t.weight == 0) {
        return Err(source.error(
            task_list.span(),
            format!("the task weights of user class {:?} add up to 0", c.name),
        ));
    }
    if let Wait::Between([lo, hi]) = c.wait {
        if lo > hi {
            return Err(at(format!(
                "user class {:?}: wait between [{lo}, {hi}] is backwards",
                c.name
            )));
        }
    }
    Ok(PlannedUser {
        name: c.name.clone(),
        weight: c.weight,
        wait: c.wait,
        tasks: planned,
    })
}

/// The feeders a task's templates read, as indices in `[data.*]` order (the plan's).
fn feeders_used(config: &Config, templates: &Templates, steps: &[PlannedRequest]) -> Vec<usize> {
    let all: Vec<String> = config.data.keys().cloned().collect();
    let mut used: Vec<usize> = steps
        .iter()
        .flat_map(|s| {
            let texts = std::iter::once(&s.path)
                .chain(s.query.iter().map(|(_, v)| v))
                .chain(s.headers.iter().map(|(_, v)| v))
                .chain(s.body.iter());
            texts
                .flat_map(|t| templates.feeders_in(t, &all))
                .collect::<Vec<_>>()
        })
        .filter_map(|name| all.iter().position(|n| *n == name))
        .collect();
    used.sort_unstable();
    used.dedup();
    used
}

/// A task's requests: itself, or its `steps` in order.
fn plan_steps(
    task: &Spanned<RequestConfig>,
    source: &Source,
    known: &KnownNames<'_>,
    out: &mut Users,
) -> Result<Vec<PlannedRequest>, ConfigError> {
    let t = task.get_ref();
    if t.steps.is_empty() {
        return Ok(vec![plan_request(task, source, known, out)?]);
    }
    if t.path.is_some() {
        return Err(source.error(
            task.span(),
            "a task has either `path` (one request) or `steps`, not both",
        ));
    }
    let mut steps = Vec::new();
    for step in &t.steps {
        if step.get_ref().weight.is_some() || !step.get_ref().steps.is_empty() {
            return Err(source.error(
                step.span(),
                "a step cannot have its own `weight` or `steps`",
            ));
        }
        steps.push(plan_request(step, source, known, out)?);
    }
    Ok(steps)
}

pub struct PlannedUser {
    pub name: String,
    pub weight: u32,
    pub wait: Wait,
    pub tasks: Vec<PlannedTask>,
}

pub struct PlannedTask {
    /// Index into `Plan::tasks`.
    pub id: usize,
    pub weight: u32,
    pub steps: Vec<PlannedRequest>,
    /// The feeders its templates read (indices into `Plan::feeders`): an iteration takes
    /// one row of each, shared by its steps.
    pub feeders: Vec<usize>,
}

pub struct PlannedRequest {
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
}

/// Where an extracted value comes from.
#[derive(Clone, Debug)]
pub enum Extract {
    /// A JSON pointer into the body: "/auth/token".
    Json(String),
    /// A response header: "header:Location"; an index into `PlannedRequest::capture`.
    Header(usize),
}

impl PlannedRequest {
    /// Whether the response body must be kept to check or extract from it.
    pub fn needs_body(&self) -> bool {
        self.expect.needs_body()
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
    /// (index into `PlannedRequest::capture`, text the header's value must contain).
    pub headers: Vec<(usize, String)>,
}

impl Expectation {
    /// Whether the response body must be kept to check or extract from it.
    pub fn needs_body(&self) -> bool {
        self.body_contains.is_some() || !self.json.is_empty()
    }
}

/// What templates may look up besides functions: the `[data.*]` feeders, and the
/// names some step extracts (`vars.NAME`).
struct KnownNames<'a> {
    feeders: Vec<&'a str>,
    extracted: Vec<&'a str>,
}

impl<'a> KnownNames<'a> {
    fn of(config: &'a Config) -> KnownNames<'a> {
        fn extracts<'a>(r: &'a RequestConfig, into: &mut Vec<&'a str>) {
            into.extend(r.extract.keys().map(String::as_str));
            for step in &r.steps {
                extracts(step.get_ref(), into);
            }
        }
        let mut extracted = Vec::new();
        for class in &config.users {
            for task in class.get_ref().tasks.iter().flat_map(|t| t.get_ref()) {
                extracts(task.get_ref(), &mut extracted);
            }
        }
        extracted.sort();
        extracted.dedup();
        KnownNames {
            feeders: config.data.keys().map(String::as_str).collect(),
            extracted,
        }
    }
}

fn plan_request(
    spanned: &Spanned<RequestConfig>,
    source: &Source,
    known: &KnownNames<'_>,
    out: &mut Users,
) -> Result<PlannedRequest, ConfigError> {
    let (templates, endpoints) = (&mut out.templates, &mut out.endpoints);
    let r = spanned.get_ref();
    let path = r
        .path
        .as_ref()
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
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(source.error(spanned.span(), format!("invalid HTTP method {method:?}")));
    }
    if r.body.is_some() && r.json.is_some() {
        return Err(source.error(spanned.span(), "a request has `body` or `json`, not both"));
    }
    let mut compile = |t: &Spanned<String>| {
        let text = templates.compile(t.get_ref()).map_err(|(msg, line)| {
            let mut e = source.error(t.span(), format!("template does not compile: {msg}"));
            e.line += line.saturating_sub(1);
            e
        })?;
        match templates.unknown_name(&text, &known.feeders, &known.extracted) {
            Some(msg) => Err(source.error(t.span(), format!("template: {msg}"))),
            None => Ok(text),
        }
    };
    let path_text = compile(path)?;
    let query = r
        .query
        .iter()
        .map(|(k, v)| Ok((k.clone(), compile(v)?)))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let headers = r
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), compile(v)?)))
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let body = match r.json.as_ref().or(r.body.as_ref()) {
        Some(b) => Some(compile(b)?),
        None => None,
    };
    if let (Some(Text::Static(s)), Some(_)) = (&body, &r.json) {
        serde_json::from_str::<serde_json::Value>(s).map_err(|e| {
            source.error(
                r.json.as_ref().unwrap().span(),
                format!("`json` is not valid JSON: {e}"),
            )
        })?;
    }
    let name = r.endpoint.clone().unwrap_or_else(|| path.get_ref().clone());
    let endpoint = match endpoints.iter().position(|(n, _)| *n == name) {
        Some(i) => i,
        None => {
            endpoints.push((name, method.clone()));
            endpoints.len() - 1
        }
    };
    let mut capture = Vec::new();
    let extract = plan_extract(spanned, source, &mut capture)?;
    let expect = plan_expect(spanned, source, &mut capture)?;
    Ok(PlannedRequest {
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
    })
}

/// Each extracted name and where its value comes from; the response headers those read
/// are added to `capture`.
fn plan_extract(
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

/// The expectations; the response headers they check are added to `capture`.
fn plan_expect(
    spanned: &Spanned<RequestConfig>,
    source: &Source,
    capture: &mut Vec<String>,
) -> Result<Expectation, ConfigError> {
    let e = &spanned.get_ref().expect;
    let mut headers = Vec::new();
    for (name, needle) in &e.headers {
        let i = captured(name, capture).ok_or_else(|| {
            source.error(
                spanned.span(),
                format!("expect.headers: {name:?} is no header name (e.g. \"content-type\")"),
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
