//! Resolving a `Config` plus overrides into a validated, runnable `Plan`.
//! Precedence is decided here and only here: CLI > environment variables > file > defaults.

use std::time::Duration;

use minijinja::Value;
use rustls::pki_types::CertificateDer;
use toml::Spanned;

use super::{
    Arrivals, Config, ConfigError, DataOrder, RequestConfig, Segment, Source, Stage, StatusList,
    Target, Templates, Text, Wait,
};

/// Values given on the command line or through the Locust setup's environment variables,
/// as `config::Settings` resolved them (or as a program using the library sets them).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub scenario: Option<String>,
    pub host: Option<String>,
    pub users: Option<u64>,
    pub spawn_rate: Option<f64>,
    pub duration: Option<super::Dur>,
    pub rate: Option<super::Rate>,
    pub arrivals: Option<Arrivals>,
    /// Replaces the scenario's stages when not empty.
    pub stages: Vec<Stage>,
    pub iterations: Option<u64>,
    pub budget: Option<String>,
    pub threads: Option<usize>,
    pub segment: Option<Segment>,
    /// The environment variables templates may read with `env()`.
    pub vars: std::collections::BTreeMap<String, String>,
}

/// How load is offered.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    /// Virtual users loop; `users` of them, started at `spawn_rate` per second.
    Closed { users: u64, spawn_rate: f64 },
    /// Arrivals at `rate` per second served by up to `max_users` users.
    Open {
        rate: f64,
        max_users: u64,
        arrivals: Arrivals,
    },
}

pub struct Plan {
    pub target: Target,
    /// Extra trusted certificates (`[target] ca_file`).
    pub ca_certs: Vec<CertificateDer<'static>>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Redirects followed per request (`[target] max_redirects`).
    pub max_redirects: u32,
    /// Whether each user keeps a cookie jar (`[target] cookies`).
    pub cookies: bool,
    /// Whether a user's connection stays open between requests (`[target] keep_alive`).
    pub keep_alive: bool,
    pub scenario: String,
    pub description: String,
    /// What runs: one load, or several together (a scenario that includes others).
    pub loads: Vec<Load>,
    /// When the last load ends.
    pub duration: Duration,
    /// This segment's share of the run's iterations.
    pub iterations: Option<u64>,
    pub threads: usize,
    /// The share of the load this process runs (the whole load by default).
    pub segment: Segment,
    pub users: Vec<PlannedUser>,
    /// (name, method) per endpoint; requests refer to them by index.
    pub endpoints: Vec<(String, String)>,
    /// (user class, task) per task; tasks refer to them by index.
    pub tasks: Vec<(String, String)>,
    pub templates: Templates,
    /// Header lines sent with every request ("name: value\r\n" ...).
    pub default_headers: String,
    pub feeders: Vec<Feeder>,
    /// The scenario's own budget set, if it names one.
    pub budget: Option<String>,
}

/// One scenario's load in a test: its model and shape, from `start` for `duration`.
pub struct Load {
    pub scenario: String,
    pub model: Model,
    pub stages: Vec<Stage>,
    pub start: Duration,
    /// How long it runs: its stages' length when it has stages.
    pub duration: Duration,
}

impl Load {
    /// The most users this load runs at once (closed: its peak; open: `max_users`).
    pub fn peak_users(&self) -> u64 {
        match self.model {
            Model::Closed { users, .. } if self.stages.is_empty() => users,
            Model::Closed { .. } => self
                .stages
                .iter()
                .fold(0.0, |m: f64, s| m.max(s.target))
                .ceil() as u64,
            Model::Open { max_users, .. } => max_users,
        }
    }
}

/// Resolves one plain scenario's load; the error is about that scenario.
fn load(name: &str, s: &super::Scenario, o: &Overrides, counted: bool) -> Result<Load, String> {
    // An iteration-bounded run ends when its iterations do, within an hour.
    let fallback = if counted { 3600 } else { 10 };
    let mut duration = o
        .duration
        .or(s.duration)
        .map_or(Duration::from_secs(fallback), |d| d.0);
    let stages = if o.stages.is_empty() {
        &s.stages
    } else {
        &o.stages
    };
    if !stages.is_empty() {
        duration = stages.iter().map(|st| st.duration.0).sum();
    }
    if duration.is_zero() && !counted {
        return Err(format!("scenario {name:?}: duration must be more than 0"));
    }
    let rate = o.rate.or(s.rate);
    let model = match rate {
        Some(r) => Model::Open {
            rate: r.0,
            max_users: o.users.or(s.max_users).or(s.users).unwrap_or(100),
            arrivals: o.arrivals.or(s.arrivals).unwrap_or_default(),
        },
        None => {
            let users = o.users.or(s.users).unwrap_or(1);
            let spawn_rate = o.spawn_rate.or(s.spawn_rate).unwrap_or(users as f64);
            if spawn_rate <= 0.0 {
                return Err(format!("scenario {name:?}: spawn_rate must be positive"));
            }
            Model::Closed { users, spawn_rate }
        }
    };
    if let Model::Closed { users: 0, .. } | Model::Open { max_users: 0, .. } = model {
        return Err(format!("scenario {name:?}: needs at least one user"));
    }
    Ok(Load {
        scenario: name.to_string(),
        model,
        stages: stages.clone(),
        start: s.start.map_or(Duration::ZERO, |d| d.0),
        duration,
    })
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

/// Rows of a CSV file, handed out in order or at random.
pub struct Feeder {
    pub name: String,
    pub rows: Vec<Value>,
    pub order: DataOrder,
    next: std::sync::atomic::AtomicUsize,
}

impl Feeder {
    pub fn next_row(&self) -> Value {
        let i = match self.order {
            DataOrder::Sequential => {
                self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.rows.len()
            }
            DataOrder::Random => fastrand::usize(..self.rows.len()),
        };
        self.rows[i].clone()
    }
}

impl Plan {
    /// Validates `config` and resolves the scenario to run.
    pub fn build(config: &Config, source: &Source, o: &Overrides) -> Result<Plan, ConfigError> {
        let whole = |msg: String| source.whole(msg);
        let host = o
            .host
            .clone()
            .or_else(|| config.target.host.clone())
            .ok_or_else(|| {
                whole("no target host: set [target] host, --host or TARGET_HOST".into())
            })?;
        let target = Target::parse(&host).map_err(whole)?;

        let (name, scenario) = pick_scenario(config, o.scenario.as_deref()).map_err(whole)?;
        let span_of = |name: &str| config.scenarios.get(name).map_or(0..0, |s| s.span());
        let at = |msg: String| source.error(span_of(&name), msg);

        let default = super::Scenario::default();
        let s = scenario.unwrap_or(&default);
        let iterations = o.iterations.or(s.iterations);
        let loads = if s.include.is_empty() {
            vec![load(&name, s, o, iterations.is_some()).map_err(at)?]
        } else {
            if o.users.is_some()
                || o.rate.is_some()
                || o.duration.is_some()
                || o.spawn_rate.is_some()
                || o.arrivals.is_some()
                || !o.stages.is_empty()
            {
                return Err(at(format!(
                    "scenario {name:?} runs {} together: --users, --rate, --spawn-rate, --duration, --arrivals and --stage apply to one scenario; run one alone or edit perfgate.toml",
                    s.include.join(", ")
                )));
            }
            let mut loads = Vec::new();
            for part in &s.include {
                let sub = config.scenarios.get(part).ok_or_else(|| {
                    at(format!(
                        "scenario {name:?} includes {part:?}, which is not a scenario"
                    ))
                })?;
                if !sub.get_ref().include.is_empty() {
                    return Err(source.error(
                        sub.span(),
                        format!("scenario {part:?} includes others and is itself included by {name:?}: include only plain scenarios"),
                    ));
                }
                loads.push(
                    load(
                        part,
                        sub.get_ref(),
                        &Overrides::default(),
                        iterations.is_some(),
                    )
                    .map_err(|m| source.error(sub.span(), m))?,
                );
            }
            loads
        };
        let duration = loads
            .iter()
            .map(|l| l.start + l.duration)
            .max()
            .unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = o.threads.or(s.threads).unwrap_or(cores).max(1);

        let mut templates = Templates::with_env(o.vars.clone());
        let mut endpoints = Vec::new();
        let mut tasks = Vec::new();
        let mut users = Vec::new();
        let class_weight: u64 = config.users.iter().map(|u| u.get_ref().weight as u64).sum();
        if config.users.is_empty() {
            return Err(whole(
                "no [[users]] defined: add at least one user class with tasks".into(),
            ));
        }
        if class_weight == 0 {
            return Err(source.error(
                config.users[0].span(),
                "user class weights add up to 0: give at least one class a weight above 0",
            ));
        }
        let known = KnownNames::of(config);
        for class in &config.users {
            let c = class.get_ref();
            let no_tasks = || {
                source.error(
                    class.span(),
                    format!(
                        "user class {:?} has no tasks: add [[users.tasks]] or tasks_from",
                        c.name
                    ),
                )
            };
            let task_list = match (&c.tasks, &c.tasks_from) {
                (Some(t), None) => t,
                (None, None) => return Err(no_tasks()),
                (Some(_), Some(_)) => {
                    return Err(source.error(
                        class.span(),
                        format!("user class {:?} has both tasks and tasks_from", c.name),
                    ))
                }
                (None, Some(from)) => match config.users.iter().find(|u| u.get_ref().name == *from)
                {
                    Some(u) => u.get_ref().tasks.as_ref().ok_or_else(|| {
                        source.error(
                            class.span(),
                            format!("tasks_from {from:?}: that class has no tasks of its own"),
                        )
                    })?,
                    None => {
                        return Err(source.error(
                            class.span(),
                            format!("tasks_from {from:?}: no user class has that name"),
                        ))
                    }
                },
            };
            if task_list.get_ref().is_empty() {
                return Err(no_tasks());
            }
            let mut planned = Vec::new();
            for task in task_list.get_ref() {
                let t = task.get_ref();
                let steps: Vec<&Spanned<RequestConfig>> = if t.steps.is_empty() {
                    vec![task]
                } else {
                    if t.path.is_some() {
                        return Err(source.error(
                            task.span(),
                            "a task has either `path` (one request) or `steps`, not both",
                        ));
                    }
                    t.steps.iter().collect()
                };
                let mut planned_steps = Vec::new();
                for step in steps {
                    if !std::ptr::eq(step, task)
                        && (step.get_ref().weight.is_some() || !step.get_ref().steps.is_empty())
                    {
                        return Err(source.error(
                            step.span(),
                            "a step cannot have its own `weight` or `steps`",
                        ));
                    }
                    planned_steps.push(plan_request(
                        step,
                        source,
                        &mut templates,
                        &known,
                        &mut endpoints,
                    )?);
                }
                let task_name = t
                    .name
                    .clone()
                    .unwrap_or_else(|| endpoints[planned_steps[0].endpoint].0.clone());
                tasks.push((c.name.clone(), task_name));
                planned.push(PlannedTask {
                    id: tasks.len() - 1,
                    weight: t.weight.unwrap_or(1),
                    steps: planned_steps,
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
                    return Err(source.error(
                        class.span(),
                        format!(
                            "user class {:?}: wait between [{lo}, {hi}] is backwards",
                            c.name
                        ),
                    ));
                }
            }
            users.push(PlannedUser {
                name: c.name.clone(),
                weight: c.weight,
                wait: c.wait,
                tasks: planned,
            });
        }

        let mut feeders = Vec::new();
        for (fname, df) in &config.data {
            let rows = read_csv(&beside_config(source, &df.get_ref().file))
                .map_err(|e| source.error(df.span(), format!("data {fname:?}: {e}")))?;
            feeders.push(Feeder {
                name: fname.clone(),
                rows,
                order: df.get_ref().order,
                next: Default::default(),
            });
        }

        let mut default_headers = String::new();
        for (k, v) in &config.target.headers {
            default_headers.push_str(&format!("{k}: {v}\r\n"));
        }
        let has = |name: &str| {
            config
                .target
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case(name))
        };
        if !has("user-agent") {
            default_headers.push_str(concat!(
                "user-agent: perfgate/",
                env!("CARGO_PKG_VERSION"),
                "\r\n"
            ));
        }
        // The server closes first, so the closed connections' TIME_WAIT is on its side,
        // not on the generator's ephemeral ports.
        if !config.target.keep_alive && !has("connection") {
            default_headers.push_str("connection: close\r\n");
        }

        let positive = |d: &Spanned<super::Dur>, key: &str| {
            if d.get_ref().0.is_zero() {
                Err(source.error(
                    d.span(),
                    format!("[target] {key} must be more than 0s, e.g. \"5s\""),
                ))
            } else {
                Ok(d.get_ref().0)
            }
        };
        let connect_timeout = positive(&config.target.connect_timeout, "connect_timeout")?;
        let timeout = positive(&config.target.timeout, "timeout")?;
        let segment = o.segment.unwrap_or_default();
        for l in &loads {
            if l.peak_users() < segment.count {
                return Err(whole(format!(
                    "--segment {segment}: scenario {:?} runs {} users, too few to split {} ways (each segment needs a user)",
                    l.scenario,
                    l.peak_users(),
                    segment.count
                )));
            }
        }
        // A thread serves its share of each open load's arrivals with its share of the
        // users: one with no user would drop every arrival it is handed.
        let threads = loads
            .iter()
            .filter_map(|l| match l.model {
                Model::Open { max_users, .. } => Some(segment.share(max_users) as usize),
                Model::Closed { .. } => None,
            })
            .fold(threads, usize::min)
            .max(1);
        let ca_certs = match &config.target.ca_file {
            Some(f) => read_certs(&beside_config(source, f)).map_err(whole)?,
            None => Vec::new(),
        };

        Ok(Plan {
            ca_certs,
            target,
            connect_timeout,
            max_redirects: config.target.max_redirects,
            cookies: config.target.cookies,
            keep_alive: config.target.keep_alive,
            timeout,
            scenario: name,
            description: s.description.clone(),
            loads,
            duration,
            iterations: iterations.map(|n| segment.share(n)),
            threads,
            segment,
            users,
            endpoints,
            tasks,
            templates,
            default_headers,
            feeders,
            budget: o.budget.clone().or_else(|| s.budget.clone()),
        })
    }
}

fn pick_scenario<'a>(
    config: &'a Config,
    wanted: Option<&str>,
) -> Result<(String, Option<&'a super::Scenario>), String> {
    let wanted = wanted
        .map(str::to_string)
        .or_else(|| config.gate.scenario.clone());
    match wanted {
        Some(n) => match config.scenarios.get(&n) {
            Some(s) => Ok((n, Some(s.get_ref()))),
            None => {
                let known: Vec<&str> = config.scenarios.keys().map(String::as_str).collect();
                Err(format!(
                    "unknown scenario {n:?}; this config has: {}",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ))
            }
        },
        None if config.scenarios.is_empty() => Ok(("default".into(), None)),
        None => {
            let n = if config.scenarios.contains_key("smoke") {
                "smoke".to_string()
            } else {
                config.scenarios.keys().next().unwrap().clone()
            };
            Ok((n.clone(), Some(config.scenarios[&n].get_ref())))
        }
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
    templates: &mut Templates,
    known: &KnownNames<'_>,
    endpoints: &mut Vec<(String, String)>,
) -> Result<PlannedRequest, ConfigError> {
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

/// A path from the config, relative to the config file's folder, so `-c ci/perfgate.toml`
/// works from anywhere.
fn beside_config(source: &Source, file: &std::path::Path) -> std::path::PathBuf {
    match std::path::Path::new(&source.file).parent() {
        Some(dir) if file.is_relative() && !dir.as_os_str().is_empty() => dir.join(file),
        _ => file.to_path_buf(),
    }
}

/// The certificates of a PEM file, for `[target] ca_file`.
fn read_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("[target] ca_file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "[target] ca_file {}: no PEM certificate in it",
            path.display()
        ));
    }
    let (_, ignored) =
        rustls::RootCertStore::empty().add_parsable_certificates(certs.iter().cloned());
    if ignored > 0 {
        return Err(format!(
            "[target] ca_file {}: {ignored} of its certificates cannot be used as a root",
            path.display()
        ));
    }
    Ok(certs)
}

fn read_csv(path: &std::path::Path) -> Result<Vec<Value>, String> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        let row: std::collections::BTreeMap<String, String> = headers
            .iter()
            .zip(rec.iter())
            .map(|(h, v)| (h.to_string(), v.to_string()))
            .collect();
        rows.push(Value::from(minijinja::value::Serde(&row)));
    }
    if rows.is_empty() {
        return Err(format!("{} has no data rows", path.display()));
    }
    Ok(rows)
}
