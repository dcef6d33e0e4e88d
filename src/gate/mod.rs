//! The gate: budgets (per environment, per endpoint, alert levels, the Locust setup's
//! environment variables) resolved into objectives, and a `RunResult` judged against them.

mod budget;
pub mod capacity;
mod verdict;

use std::collections::BTreeMap;

use toml::Spanned;

pub use budget::{parse_limit, Objective, Window};
pub use verdict::{
    evaluate, live_abort, live_failing, live_values, AlertResult, Check, Note, Outcome, Status,
    Verdict,
};

use crate::config::{Config, ConfigError, EnvLimit, Plan, RawBudget, Source};
use crate::metrics::{Metric, Scope};

/// Everything a run is judged by.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    /// The budget set used ("production", or a scenario's own set such as "smoke").
    pub name: String,
    pub environment: Option<String>,
    pub objectives: Vec<Objective>,
    pub alerts: Vec<AlertLevel>,
}

#[derive(Clone, Debug)]
pub struct AlertLevel {
    pub name: String,
    pub description: String,
    pub objectives: Vec<Objective>,
}

impl Budget {
    /// Resolves the budget: `environment` as settings resolved it (flag, variable), else
    /// the file's `[gate] environment`; the scenario's own budget set when it names one;
    /// endpoint SLOs (overridable per environment); then `limits` (the Locust setup's
    /// environment variables), which replace whole-run objectives of the same metric.
    pub fn resolve(
        config: &Config,
        source: &Source,
        environment: Option<&str>,
        scenario_budget: Option<&str>,
        limits: &[EnvLimit],
    ) -> Result<Budget, ConfigError> {
        let environment = environment
            .map(str::to_string)
            .or_else(|| config.gate.environment.clone());
        let set = scenario_budget
            .map(str::to_string)
            .or_else(|| environment.clone());
        let unknown = |name: &str| {
            let known: Vec<&str> = config.budgets.keys().map(String::as_str).collect();
            source.whole(format!(
                "no budget named {name:?}; this config has [budgets.*] for: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        };
        // A misspelt environment is an error even when the scenario's own budget set
        // judges the run: it names the run in every message and report.
        if let Some(env) = environment.as_deref() {
            if !config.budgets.is_empty() && !config.budgets.contains_key(env) {
                return Err(unknown(env));
            }
        }
        // No environment and no scenario budget: the only budget table, if there is one;
        // with several, judging none would pass every run, so the choice is asked for.
        let set = match set {
            None if config.budgets.len() == 1 => config.budgets.keys().next().cloned(),
            None if config.budgets.len() > 1 => {
                let known: Vec<&str> = config.budgets.keys().map(String::as_str).collect();
                return Err(source.whole(format!(
                    "no budget chosen among [budgets.*]: {}; pass --env NAME, set PERFGATE_ENV, or set environment in [gate] (or budget in the scenario)",
                    known.join(", ")
                )));
            }
            set => set,
        };
        let mut objectives = Vec::new();
        let mut env_endpoints = BTreeMap::new();
        if let Some(name) = &set {
            let table = config.budgets.get(name).ok_or_else(|| unknown(name))?;
            objectives = budget::parse_table(
                table,
                &Scope::Total,
                name,
                &["description", "endpoints"],
                source,
            )?;
            if let Some(eps) = table.get("endpoints") {
                env_endpoints = nested_tables(eps, source)?;
            }
        }
        for (endpoint, table) in &config.endpoints {
            let table = env_endpoints
                .remove(endpoint)
                .unwrap_or_else(|| table.clone());
            let origin = set
                .as_deref()
                .map_or("endpoint SLO".to_string(), str::to_string);
            objectives.extend(budget::parse_table(
                &table,
                &Scope::Endpoint(endpoint.clone()),
                &origin,
                &[],
                source,
            )?);
        }
        for (endpoint, table) in &env_endpoints {
            let origin = set.clone().unwrap_or_default();
            objectives.extend(budget::parse_table(
                table,
                &Scope::Endpoint(endpoint.clone()),
                &origin,
                &[],
                source,
            )?);
        }
        for (name, table) in &config.scopes {
            objectives.extend(scope_objectives(name, table, set.as_deref(), source)?);
        }
        apply_env_limits(&mut objectives, limits);
        let mut alerts = Vec::new();
        for (name, table) in &config.alerts {
            let description = table
                .get("description")
                .and_then(|v| v.get_ref().as_str())
                .unwrap_or_default()
                .to_string();
            let objectives =
                budget::parse_table(table, &Scope::Total, name, &["description"], source)?;
            alerts.push(AlertLevel {
                name: name.clone(),
                description,
                objectives,
            });
        }
        // Most severe first.
        alerts.sort_by_key(|a| if a.name == "critical" { 0 } else { 1 });
        Ok(Budget {
            name: set.unwrap_or_else(|| "default".into()),
            environment,
            objectives,
            alerts,
        })
    }
}

/// An endpoint SLO naming an endpoint no task calls (a typo, or a task renamed) would fail
/// every run with "no data": it is an error before any load, pointing at the table.
/// The plan gives the endpoints its tasks call, and whether Rust tasks may name others.
pub fn check_endpoint_names(
    config: &Config,
    source: &Source,
    plan: &Plan,
) -> Result<(), ConfigError> {
    let known = &plan.endpoints;
    let mut named: Vec<(String, std::ops::Range<usize>, String)> = Vec::new();
    for (name, table) in &config.endpoints {
        if let Some(v) = table.values().next() {
            named.push((name.clone(), v.span(), format!("[endpoints.{name:?}]")));
        }
    }
    for (set, table) in &config.budgets {
        if let Some(eps) = table.get("endpoints") {
            for name in nested_tables(eps, source)?.into_keys() {
                let at = format!("[budgets.{set}.endpoints.{name:?}]");
                named.push((name, eps.span(), at));
            }
        }
    }
    // Tasks written in Rust name their endpoints as they run: any name may come.
    for (name, span, table) in named {
        if !plan.names_at_run_time && !known.iter().any(|(k, _)| *k == name) {
            let calls: Vec<&str> = known.iter().map(|(k, _)| k.as_str()).collect();
            return Err(source.error(
                span,
                format!(
                    "no task calls endpoint {name:?}, named by {table}; the tasks call: {}",
                    calls.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `[budgets.production.endpoints."/x"]` tables, with the outer span for errors.
fn nested_tables(
    v: &Spanned<toml::Value>,
    source: &Source,
) -> Result<BTreeMap<String, RawBudget>, ConfigError> {
    let toml::Value::Table(t) = v.get_ref() else {
        return Err(source.error(
            v.span(),
            "`endpoints` in a budget must be a table of endpoint tables",
        ));
    };
    let mut out = BTreeMap::new();
    for (name, inner) in t {
        let toml::Value::Table(inner) = inner else {
            return Err(source.error(v.span(), format!("endpoints.{name:?} must be a table")));
        };
        let raw: RawBudget = inner
            .iter()
            .map(|(k, x)| (k.clone(), Spanned::new(v.span(), x.clone())))
            .collect();
        out.insert(name.clone(), raw);
    }
    Ok(out)
}

/// MAX_P99_LATENCY_MS=200 replaces the total p99 objective (or adds one).
fn apply_env_limits(objectives: &mut Vec<Objective>, limits: &[EnvLimit]) {
    for l in limits {
        let (metric, op) = Metric::parse(l.key).expect("known metric keys");
        objectives.retain(|o| !(o.metric == metric && o.scope == Scope::Total));
        objectives.push(Objective {
            metric,
            op,
            limit: l.value,
            scope: Scope::Total,
            window: None,
            abort_after_s: None,
            origin: l.var.to_string(),
        });
    }
}

/// `[scopes.NAME]`: `tags = { ... }` selecting endpoints by their tags, and objectives
/// judged on them together.
fn scope_objectives(
    name: &str,
    table: &crate::config::RawBudget,
    set: Option<&str>,
    source: &Source,
) -> Result<Vec<budget::Objective>, ConfigError> {
    let at = |span: std::ops::Range<usize>, msg: String| source.error(span, msg);
    let tags = table.get("tags").ok_or_else(|| {
        source.whole(format!(
            "[scopes.{name}] needs tags = {{ NAME = \"value\" }}: the endpoints it judges together"
        ))
    })?;
    let pairs: Vec<(String, String)> = match tags.get_ref() {
        toml::Value::Table(t) if !t.is_empty() => t
            .iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(at(
                    tags.span(),
                    format!("[scopes.{name}] tags: {k} must be a string"),
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(at(
                tags.span(),
                format!(
                "[scopes.{name}] tags must be a table of strings, e.g. {{ flow = \"checkout\" }}"
            ),
            ))
        }
    };
    let scope = Scope::Tagged {
        name: name.to_string(),
        tags: pairs,
    };
    let objectives = budget::parse_table(table, &scope, set.unwrap_or("scope"), &["tags"], source)?;
    if objectives.iter().any(|o| o.window.is_some()) {
        return Err(at(
            tags.span(),
            format!("[scopes.{name}]: a window judges an endpoint or the whole run, not a scope of tags"),
        ));
    }
    Ok(objectives)
}
