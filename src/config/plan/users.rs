//! User classes and their tasks: each class planned with its tasks, each task with its
//! steps (`http.rs`, `grpc.rs`, `ws.rs` plan each kind of step; `step.rs` what they share).

use std::collections::BTreeMap;

use toml::Spanned;

use super::code::CodeUsers;
use super::http::plan_request;
use super::step::{PlannedStep, TRANSACTION};
use crate::config::{Config, ConfigError, RequestConfig, Source, Templates, Text, UserClass, Wait};

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
            false => super::http::plan_request(step, &t.tags, source, known, out)?,
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

impl PlannedUser {
    /// Every step of its tasks, on_start and on_stop included.
    pub fn steps(&self) -> impl Iterator<Item = &PlannedStep> {
        let tasks = self.tasks.iter().chain(&self.on_start).chain(&self.on_stop);
        tasks.flat_map(|t| &t.steps)
    }
}

/// What templates may look up besides functions: the `[data.*]` feeders, and the
/// names some step extracts (`vars.NAME`).
pub(super) struct KnownNames<'a> {
    feeders: Vec<&'a str>,
    extracted: Vec<&'a str>,
    /// `[grpc] protos`, compiled.
    pub grpc: Option<prost_reflect::DescriptorPool>,
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
