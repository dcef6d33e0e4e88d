//! User classes and their tasks: each request planned (templates compiled and checked,
//! endpoint names given indices, expectations and extractions resolved).

use std::collections::BTreeMap;

use toml::Spanned;

use super::code::CodeUsers;
use crate::config::{
    Config, ConfigError, RequestConfig, Source, StatusList, Templates, Text, UserClass, Wait,
};

/// A list of requests in the config: tasks, on_start, on_stop.
type Requests = Spanned<Vec<Spanned<RequestConfig>>>;

/// Every user class planned, with the endpoints and tasks their requests name.
pub(super) struct Users {
    pub users: Vec<PlannedUser>,
    /// Every soft check: (endpoint, what it checks).
    pub checks: Vec<(String, String)>,
    /// The names of the numbers requests read (`metrics = { ... }`).
    pub metrics: Vec<String>,
    /// Each endpoint's tags, in `endpoints`' order.
    pub endpoint_tags: Vec<BTreeMap<String, String>>,
    pub endpoints: Vec<(String, String)>,
    pub tasks: Vec<(String, String)>,
    pub templates: Templates,
    /// `[grpc] protos`, compiled (Rust tasks call their methods by name).
    pub protos: Option<prost_reflect::DescriptorPool>,
}

/// Plans every user class; templates' `env()` reads `vars`.
pub(super) fn plan(
    config: &Config,
    source: &Source,
    vars: &BTreeMap<String, String>,
    code_users: Option<&CodeUsers>,
) -> Result<Users, ConfigError> {
    // Classes written in Rust (a `perfgate::Test`) replace the config's of their name.
    let code = code_users.map_or(&[][..], |c| &c.classes[..]);
    let in_code = |name: &str| code.iter().any(|c| c.name == name);
    if config.users.is_empty() && code.is_empty() {
        return Err(source.whole("no [[users]] defined: add at least one user class with tasks"));
    }
    let class_weight: u64 = config
        .users
        .iter()
        .map(|u| u.get_ref())
        .filter(|u| !in_code(&u.name))
        .map(|u| u.weight as u64)
        .chain(code.iter().map(|c| c.weight as u64))
        .sum();
    if class_weight == 0 {
        let e = "user class weights add up to 0: give at least one class a weight above 0";
        return Err(match config.users.first() {
            Some(u) => source.error(u.span(), e),
            None => source.whole(e),
        });
    }
    let mut out = Users {
        users: Vec::new(),
        checks: Vec::new(),
        metrics: Vec::new(),
        endpoint_tags: Vec::new(),
        endpoints: Vec::new(),
        tasks: Vec::new(),
        templates: Templates::with_env(vars.clone()),
        protos: None,
    };
    let mut known = KnownNames::of(config);
    known.grpc = super::grpc::pool(config, source)?;
    for class in config.users.iter().filter(|c| !in_code(&c.get_ref().name)) {
        let user = plan_class(config, class, source, &known, code_users, &mut out)?;
        out.users.push(user);
    }
    for class in code {
        let user = super::code::plan_class(class, &mut out).map_err(|e| source.whole(e))?;
        out.users.push(user);
    }
    out.protos = known.grpc;
    Ok(out)
}

fn plan_class(
    config: &Config,
    class: &Spanned<UserClass>,
    source: &Source,
    known: &KnownNames<'_>,
    code: Option<&CodeUsers>,
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
        if let Some(name) = &task.get_ref().code {
            planned.push(super::code::config_task(c, task, name, code, source, out)?);
            continue;
        }
        let steps = plan_steps(task, source, known, out)?;
        let t = task.get_ref();
        let task_name = t
            .name
            .clone()
            .unwrap_or_else(|| out.endpoints[steps[0].endpoint].0.clone());
        let timed_whole = steps.len() > 1 || steps[0].repeat.is_some();
        let transaction = match timed_whole {
            true => Some(
                tagged_endpoint(
                    &mut out.endpoints,
                    &mut out.endpoint_tags,
                    &format!("{TRANSACTION}{task_name}"),
                    "TASK",
                    &t.tags,
                )
                .map_err(|e| source.error(task.span(), e))?,
            ),
            false => None,
        };
        planned.push(task_of(
            config,
            out,
            &c.name,
            task_name,
            t.weight.unwrap_or(1),
            steps,
            transaction,
        ));
    }
    // A class that reuses another's tasks reuses its on_start and on_stop too, unless it
    // has its own.
    let from = c
        .tasks_from
        .as_ref()
        .and_then(|f| config.users.iter().find(|u| u.get_ref().name == *f));
    let mut once =
        |list: Option<&Requests>, name: &str| -> Result<Option<PlannedTask>, ConfigError> {
            let Some(list) = list else { return Ok(None) };
            if list.get_ref().is_empty() {
                return Err(source.error(
                    list.span(),
                    format!("{name} of user class {:?} has no requests", c.name),
                ));
            }
            let mut steps = Vec::new();
            for step in list.get_ref() {
                no_nested(step, source)?;
                steps.push(plan_request(step, &BTreeMap::new(), source, known, out)?);
            }
            Ok(Some(task_of(
                config,
                out,
                &c.name,
                name.to_string(),
                0,
                steps,
                None,
            )))
        };
    let own_or_inherited = |pick: fn(&UserClass) -> Option<&Requests>| {
        pick(c).or_else(|| from.and_then(|f| pick(f.get_ref())))
    };
    let on_start = once(own_or_inherited(|u| u.on_start.as_ref()), "on_start")?;
    let on_stop = once(own_or_inherited(|u| u.on_stop.as_ref()), "on_stop")?;
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
        on_start,
        on_stop,
    })
}

/// A task of `steps`, counted under (class, name).
fn task_of(
    config: &Config,
    out: &mut Users,
    class: &str,
    name: String,
    weight: u32,
    steps: Vec<PlannedStep>,
    transaction: Option<usize>,
) -> PlannedTask {
    out.tasks.push((class.to_string(), name));
    PlannedTask {
        id: out.tasks.len() - 1,
        weight,
        feeders: feeders_used(config, &out.templates, &steps),
        steps,
        transaction,
        code: None,
    }
}

/// The index of endpoint `name`, added if new, with `tags` added to its own; a tag
/// with two values on one endpoint is an error (its requests are one row).
pub(super) fn tagged_endpoint(
    endpoints: &mut Vec<(String, String)>,
    tags_of: &mut Vec<BTreeMap<String, String>>,
    name: &str,
    method: &str,
    tags: &BTreeMap<String, String>,
) -> Result<usize, String> {
    let i = match endpoints.iter().position(|(n, _)| n == name) {
        Some(i) => i,
        None => {
            endpoints.push((name.to_string(), method.to_string()));
            tags_of.push(BTreeMap::new());
            endpoints.len() - 1
        }
    };
    for (k, v) in tags {
        match tags_of[i].insert(k.clone(), v.clone()) {
            Some(old) if old != *v => {
                return Err(format!(
                    "endpoint {name:?} is tagged {k} = {old:?} and {k} = {v:?}: an endpoint's requests are one row, so give these requests their own `endpoint` names"
                ))
            }
            _ => {}
        }
    }
    Ok(i)
}

/// A step (or an on_start / on_stop request) has no `weight` or `steps` of its own.
fn no_nested(step: &Spanned<RequestConfig>, source: &Source) -> Result<(), ConfigError> {
    if step.get_ref().weight.is_some() || !step.get_ref().steps.is_empty() {
        return Err(source.error(
            step.span(),
            "a step cannot have its own `weight` or `steps`",
        ));
    }
    Ok(())
}

/// The feeders a task's templates read, as indices in `[data.*]` order (the plan's).
fn feeders_used(config: &Config, templates: &Templates, steps: &[PlannedStep]) -> Vec<usize> {
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
) -> Result<Vec<PlannedStep>, ConfigError> {
    let t = task.get_ref();
    let mut session = None;
    if t.steps.is_empty() {
        if super::ws::is_ws(t) {
            return Ok(vec![super::ws::plan_step(
                task,
                &BTreeMap::new(),
                &mut session,
                source,
                known,
                out,
            )?]);
        }
        return Ok(vec![plan_request(
            task,
            &BTreeMap::new(),
            source,
            known,
            out,
        )?]);
    }
    if t.path.is_some() {
        return Err(source.error(
            task.span(),
            "a task has either `path` (one request) or `steps`, not both",
        ));
    }
    let mut steps = Vec::new();
    for step in &t.steps {
        no_nested(step, source)?;
        steps.push(match super::ws::is_ws(step.get_ref()) {
            true => super::ws::plan_step(step, &t.tags, &mut session, source, known, out)?,
            false => plan_request(step, &t.tags, source, known, out)?,
        });
    }
    Ok(steps)
}

pub struct PlannedUser {
    pub name: String,
    pub weight: u32,
    pub wait: Wait,
    pub tasks: Vec<PlannedTask>,
    /// Sent once before the first task (closed model) or each arrival's (open model).
    pub on_start: Option<PlannedTask>,
    /// Sent when the user leaves, or at each arrival's end.
    pub on_stop: Option<PlannedTask>,
}

pub struct PlannedTask {
    /// Index into `Plan::tasks`.
    pub id: usize,
    pub weight: u32,
    pub steps: Vec<PlannedStep>,
    /// The feeders its templates read (indices into `Plan::feeders`): an iteration takes
    /// one row of each, shared by its steps.
    pub feeders: Vec<usize>,
    /// A task of several requests (or a repeated one) is also timed as a whole: its
    /// endpoint "task:NAME" (an index into `Plan::endpoints`).
    pub transaction: Option<usize>,
    /// A task written in Rust (then `steps` is empty), always timed as a whole.
    pub code: Option<usize>,
}

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

impl PlannedUser {
    /// Every step of its tasks, on_start and on_stop included.
    pub fn steps(&self) -> impl Iterator<Item = &PlannedStep> {
        let tasks = self.tasks.iter().chain(&self.on_start).chain(&self.on_stop);
        tasks.flat_map(|t| &t.steps)
    }
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
    fn each(&self, capture: &[String]) -> Vec<(String, Expectation)> {
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

/// What templates may look up besides functions: the `[data.*]` feeders, and the
/// names some step extracts (`vars.NAME`).
pub(super) struct KnownNames<'a> {
    feeders: Vec<&'a str>,
    extracted: Vec<&'a str>,
    /// `[grpc] protos`, compiled.
    grpc: Option<prost_reflect::DescriptorPool>,
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
            let c = class.get_ref();
            let lists = [&c.tasks, &c.on_start, &c.on_stop];
            for task in lists.into_iter().flatten().flat_map(|t| t.get_ref()) {
                extracts(task.get_ref(), &mut extracted);
            }
        }
        extracted.sort();
        extracted.dedup();
        KnownNames {
            feeders: config.data.keys().map(String::as_str).collect(),
            extracted,
            grpc: None,
        }
    }
}

/// A template of the config, compiled, and checked for names no render could find.
pub(super) fn compile(
    templates: &mut Templates,
    known: &KnownNames<'_>,
    source: &Source,
    t: &Spanned<String>,
) -> Result<Text, ConfigError> {
    let text = templates.compile(t.get_ref()).map_err(|(msg, line)| {
        let mut e = source.error(t.span(), format!("template does not compile: {msg}"));
        e.line += line.saturating_sub(1);
        e
    })?;
    match templates.unknown_name(&text, &known.feeders, &known.extracted) {
        Some(msg) => Err(source.error(t.span(), format!("template: {msg}"))),
        None => Ok(text),
    }
}

/// One request; its endpoint gets its tags and `inherited` (its task's, for a step).
fn plan_request(
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
        Some(name) => Some(plan_grpc(spanned, name, source, known)?),
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

/// The index of metric `name`, added to `names` if new.
fn metric_id(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    }
}

/// A gRPC step's method, checked against what else the step says.
fn plan_grpc(
    spanned: &Spanned<RequestConfig>,
    name: &Spanned<String>,
    source: &Source,
    known: &KnownNames<'_>,
) -> Result<std::sync::Arc<super::grpc::GrpcMethod>, ConfigError> {
    let r = spanned.get_ref();
    let at = |msg: String| source.error(name.span(), msg);
    let http_keys = [
        ("path", r.path.is_some()),
        ("method", r.method.is_some()),
        ("body", r.body.is_some()),
        ("json", r.json.is_some()),
    ];
    if let Some((key, _)) = http_keys.iter().find(|(_, set)| *set) {
        return Err(at(format!(
            "a gRPC step has no `{key}`: the method is its path, `message` its body"
        )));
    }
    let pool = known.grpc.as_ref().ok_or_else(|| {
        at(
            "grpc steps need the services' definitions: add [grpc] protos = [\"service.proto\"]"
                .into(),
        )
    })?;
    super::grpc::method(pool, name.get_ref()).map_err(at)
}

/// `metrics = { NAME = "/pointer" | "header:NAME" | "server-timing:NAME" }`, each name
/// given an index in `names`.
fn plan_metrics(
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
fn plan_expect(
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
