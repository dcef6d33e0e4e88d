//! Resolving a `Config` plus overrides into a validated, runnable `Plan`: the overrides
//! (flags and variables, as `Settings` resolved them) win over the file, the file over
//! the defaults. Each part has its helper: `target` (`[target]`), `shape` (the scenario's
//! loads), `users` (classes, tasks, requests), `files` (data and certificates).

mod code;
mod feeder;
mod files;
pub mod grpc;
mod http;
mod shape;
mod step;
mod target;
mod users;
mod ws;

use std::collections::BTreeMap;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{
    Arrivals, Config, ConfigError, HttpVersion, Proxy, Scenario, Segment, Source, Stage, Target,
    Templates,
};
pub use code::{CodeClass, CodeTask, CodeUsers};
pub use feeder::Feeder;
pub use step::{Expectation, Extract, PlannedStep, Reading, Repeat, StepKind, WsStep, TRANSACTION};
pub use users::{PlannedTask, PlannedUser};

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
    /// The environment settings chose (`--env`, PERFGATE_ENV), for `[environments.*]`.
    pub environment: Option<String>,
    /// Trust any server certificate (`--insecure`).
    pub insecure: bool,
    /// Certificates (PEM) to trust besides `[target] ca_file`: the TLS demo's own.
    pub trust: Vec<String>,
    /// Which HTTP, over `[target] http` (`--http`).
    pub http: Option<crate::config::HttpVersion>,
    /// The environment variables templates may read with `env()`, and where proxies
    /// come from when the config names none (HTTP_PROXY, HTTPS_PROXY, NO_PROXY).
    pub vars: BTreeMap<String, String>,
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

/// A config resolved for one run: the target, the scenario's loads, every user class
/// with its tasks and steps planned (templates compiled, endpoints named), the files
/// read. Made by [`Plan::build`] (or [`Plan::with_code`]); run by [`crate::run`].
pub struct Plan {
    pub target: Target,
    /// How an https target's certificate is checked, and the client certificate.
    pub tls: Tls,
    /// The HTTP proxy every connection goes through, if any.
    pub proxy: Option<Proxy>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Redirects followed per request (`[target] max_redirects`).
    pub max_redirects: u32,
    /// Whether each user keeps a cookie jar (`[target] cookies`).
    pub cookies: bool,
    /// Whether a user's connection stays open between requests (`[target] keep_alive`).
    pub keep_alive: bool,
    /// Which HTTP (`[target] http`, `--http`).
    pub http: crate::config::HttpVersion,
    /// HTTP/2 connections the users of this process share (`[target] connections`);
    /// None: one a user.
    pub connections: Option<u32>,
    /// The most of a response body kept for checks and extraction (`[target] max_body`).
    pub max_body: usize,
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
    /// Every soft check (`check = { ... }`): (endpoint, what it checks).
    pub checks: Vec<(String, String)>,
    /// The names of the numbers requests read from responses (`metrics = { ... }`).
    pub metrics: Vec<String>,
    /// Each endpoint's tags, in `endpoints`' order.
    pub endpoint_tags: Vec<BTreeMap<String, String>>,
    pub templates: Templates,
    /// `[grpc] protos`, compiled: the services Rust tasks' `User::grpc` calls.
    pub protos: Option<prost_reflect::DescriptorPool>,
    /// Headers sent with every request, besides host (the engine writes them).
    pub headers: Vec<(String, String)>,
    /// Values that must not appear in a failure reason, a log line or a report: those of
    /// the environment variables templates read with `env()`, and of `[target]`
    /// credentials headers.
    pub secrets: Vec<String>,
    pub feeders: Vec<Feeder>,
    /// The scenario's own budget set, if it names one.
    pub budget: Option<String>,
    /// Tasks written in Rust may name endpoints, checks and numbers as they run: a
    /// budget may name one no planned request has.
    pub names_at_run_time: bool,
}

/// TLS for an https target.
pub struct Tls {
    /// Extra trusted certificates (`[target] ca_file`): CAs, or server certificates
    /// trusted as themselves.
    pub ca_certs: Vec<CertificateDer<'static>>,
    /// Trust any server certificate (`[target] insecure`, `--insecure`).
    pub insecure: bool,
    /// The certificate chain and key presented when the server asks (mutual TLS).
    pub client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
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

impl Plan {
    /// Validates `config` and resolves the scenario to run.
    pub fn build(config: &Config, source: &Source, o: &Overrides) -> Result<Plan, ConfigError> {
        Plan::with_code(config, source, o, None)
    }

    /// As [`Plan::build`], with users written in Rust (a `perfgate::Test`'s): its classes
    /// replace the config's of their name, and config tasks may call its functions.
    pub fn with_code(
        config: &Config,
        source: &Source,
        o: &Overrides,
        code: Option<&CodeUsers>,
    ) -> Result<Plan, ConfigError> {
        let whole = |msg: String| source.whole(msg);
        let t = target::plan(config, source, o)?;
        let (name, scenario) = pick_scenario(config, o.scenario.as_deref()).map_err(whole)?;
        let default = Scenario::default();
        let s = scenario.unwrap_or(&default);
        let iterations = o.iterations.or(s.iterations);
        let loads = shape::loads(config, source, &name, s, o, iterations.is_some())?;
        let segment = o.segment.unwrap_or_default();
        shape::check_segment(&loads, segment).map_err(whole)?;
        let asked = o.threads.or(s.threads);
        if asked.is_some_and(|t| t > MAX_THREADS) {
            return Err(whole(format!(
                "{} threads: at most {MAX_THREADS} (one per core is the default); split the load with --segment",
                asked.unwrap_or_default()
            )));
        }
        let u = users::plan(config, source, &o.vars, code)?;
        Ok(Plan {
            target: t.target,
            tls: t.tls,
            proxy: t.proxy,
            connect_timeout: t.connect_timeout,
            timeout: t.timeout,
            max_redirects: config.target.max_redirects,
            cookies: config.target.cookies,
            keep_alive: config.target.keep_alive,
            http: http_version(config, source, o, grpc_steps(&u.users))?,
            connections: t.connections,
            max_body: usize::try_from(config.target.max_body.get_ref().0).unwrap_or(usize::MAX),
            secrets: secrets(source, &o.vars, &t.headers),
            headers: t.headers,
            scenario: name,
            description: s.description.clone(),
            duration: shape::duration(&loads),
            threads: shape::threads(&loads, segment, asked),
            loads,
            iterations: iterations.map(|n| segment.share(n)),
            segment,
            users: u.users,
            endpoints: u.endpoints,
            tasks: u.tasks,
            checks: u.checks,
            metrics: u.metrics,
            endpoint_tags: u.endpoint_tags,
            templates: u.templates,
            protos: u.protos,
            feeders: feeder::feeders(config, source)?,
            budget: o.budget.clone().or_else(|| s.budget.clone()),
            names_at_run_time: code.is_some(),
        })
    }
}

/// Which HTTP: the flag's, else `[target] http`. gRPC steps need HTTP/2: refused with
/// "1.1" (under "auto" they speak it whatever the other requests do).
fn http_version(
    config: &Config,
    source: &Source,
    o: &Overrides,
    grpc: bool,
) -> Result<HttpVersion, ConfigError> {
    let http = o.http.unwrap_or(config.target.http);
    match (http, grpc) {
        (HttpVersion::H1, true) => {
            Err(source
                .whole("gRPC steps need HTTP/2: remove [target] http = \"1.1\" (or --http 1.1)"))
        }
        (http, _) => Ok(http),
    }
}

/// Whether some step calls a gRPC method.
fn grpc_steps(users: &[PlannedUser]) -> bool {
    users
        .iter()
        .flat_map(PlannedUser::steps)
        .any(|s| s.grpc().is_some())
}

/// Worker threads one process may run.
const MAX_THREADS: usize = 1024;

/// Headers whose values are credentials.
pub const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// The values of the variables the config's templates read (`env("NAME")`, found in its
/// text) and of credential headers; short ones (under 4 characters) would redact words.
fn secrets(
    source: &Source,
    vars: &BTreeMap<String, String>,
    headers: &[(String, String)],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = source.text.as_str();
    while let Some(at) = rest.find("env(") {
        rest = &rest[at + 4..];
        let name: String = rest
            .trim_start()
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if let Some(v) = vars.get(&name) {
            out.push(v.clone());
        }
    }
    for (name, value) in headers {
        if SECRET_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            out.push(value.clone());
            // "Bearer abc…": the credential alone, too.
            out.extend(value.split_once(' ').map(|(_, v)| v.to_string()));
        }
    }
    out.retain(|v| v.len() >= 4);
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out.dedup();
    out
}

/// The scenario `wanted` (or the config's default) names, and its capacity search if it
/// has one.
pub fn scenario_search<'a>(
    config: &'a Config,
    wanted: Option<&str>,
) -> Result<(String, Option<&'a toml::Spanned<crate::config::Search>>), String> {
    let (name, s) = pick_scenario(config, wanted)?;
    Ok((name, s.and_then(|s| s.search.as_ref())))
}

fn pick_scenario<'a>(
    config: &'a Config,
    wanted: Option<&str>,
) -> Result<(String, Option<&'a Scenario>), String> {
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

#[cfg(test)]
mod tests;
