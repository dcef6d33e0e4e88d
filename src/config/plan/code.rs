//! Users written in Rust, as the planner sees them: a plain description (names, weights,
//! waits, task names). Their functions travel beside the plan, in the run's options;
//! each planned code task names its function by index (`callable`).

use std::collections::BTreeMap;

use toml::Spanned;

use super::step::TRANSACTION;
use super::users::{tagged_endpoint, PlannedTask, PlannedUser, Users};
use crate::config::{ConfigError, RequestConfig, Source, UserClass, Wait};

/// The user classes and callable functions a program written in Rust brings.
#[derive(Clone, Debug, Default)]
pub struct CodeUsers {
    /// Classes that replace the config's of their name, or run beside them.
    pub classes: Vec<CodeClass>,
    /// Functions config tasks call by name (`code = "NAME"`): their callable index.
    pub functions: BTreeMap<String, usize>,
}

/// A user class written in Rust.
#[derive(Clone, Debug)]
pub struct CodeClass {
    /// The class's name (a config class of this name is replaced).
    pub name: String,
    /// How often it is picked among the classes.
    pub weight: u32,
    /// Think time after each task.
    pub wait: Wait,
    /// Its tasks, picked by weight.
    pub tasks: Vec<CodeTask>,
    /// Run once when a user starts (and for each arrival in the open model).
    pub on_start: Option<CodeTask>,
    /// Run when a user leaves.
    pub on_stop: Option<CodeTask>,
}

/// A task written in Rust: its name (counted as `task:NAME`), weight and function.
#[derive(Clone, Debug)]
pub struct CodeTask {
    /// Its name, without the `task:` prefix.
    pub name: String,
    /// How often it is picked among its class's tasks.
    pub weight: u32,
    /// The index of its function in the run's callables.
    pub callable: usize,
}

/// A user class written in Rust: each of its tasks timed whole as `task:NAME`.
pub(super) fn plan_class(c: &CodeClass, out: &mut Users) -> Result<PlannedUser, String> {
    if c.tasks.iter().all(|t| t.weight == 0) {
        return Err(format!(
            "user class {:?} (Rust) has no task of a weight above 0: add .task(weight, function)",
            c.name
        ));
    }
    if let Wait::Between([lo, hi]) = c.wait {
        if lo > hi {
            return Err(format!(
                "user class {:?}: between({lo}, {hi}) is backwards",
                c.name
            ));
        }
    }
    let mut task = |t: &CodeTask| plan_task(&c.name, t, out);
    Ok(PlannedUser {
        name: c.name.clone(),
        weight: c.weight,
        wait: c.wait,
        tasks: c.tasks.iter().map(&mut task).collect(),
        on_start: c.on_start.as_ref().map(&mut task),
        on_stop: c.on_stop.as_ref().map(&mut task),
    })
}

/// A task written in Rust, of class `class`: timed whole on its `task:NAME` endpoint.
pub(super) fn plan_task(class: &str, t: &CodeTask, out: &mut Users) -> PlannedTask {
    let name = format!("{TRANSACTION}{}", t.name);
    let endpoint = tagged_endpoint(
        &mut out.endpoints,
        &mut out.endpoint_tags,
        &name,
        "TASK",
        &BTreeMap::new(),
    )
    .expect("no tags, no clash");
    out.tasks.push((class.to_string(), t.name.clone()));
    PlannedTask {
        id: out.tasks.len() - 1,
        weight: t.weight,
        steps: Vec::new(),
        feeders: Vec::new(),
        transaction: Some(endpoint),
        code: Some(t.callable),
    }
}

/// A config task that calls a Rust function (`code = "NAME"`) its test registered.
pub(super) fn config_task(
    class: &UserClass,
    task: &Spanned<RequestConfig>,
    name: &Spanned<String>,
    code: Option<&CodeUsers>,
    source: &Source,
    out: &mut Users,
) -> Result<PlannedTask, ConfigError> {
    let Some(&callable) = code.and_then(|c| c.functions.get(name.get_ref())) else {
        let why = match code {
            None => "tasks written in Rust run from a test built with perfgate::Test (see docs/code.md), not from the perfgate command".to_string(),
            Some(c) if c.functions.is_empty() => "the test registers no function (Test::function)".to_string(),
            Some(c) => format!("the test registers {:?}", c.functions.keys().collect::<Vec<_>>()),
        };
        return Err(source.error(
            name.span(),
            format!("code = {:?}: no such function: {why}", name.get_ref()),
        ));
    };
    let t = task.get_ref();
    if t.path.is_some() || !t.steps.is_empty() {
        return Err(source.error(
            task.span(),
            "a task with code = \"...\" sends what its function sends: remove its path and steps",
        ));
    }
    let named = CodeTask {
        name: t.name.clone().unwrap_or_else(|| name.get_ref().clone()),
        weight: t.weight.unwrap_or(1),
        callable,
    };
    Ok(plan_task(&class.name, &named, out))
}
