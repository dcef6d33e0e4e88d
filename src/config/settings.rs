//! Settings resolved once: command-line flags > environment variables > perfgate.toml >
//! defaults. This is the only module that reads the environment ([`Env::read`]); every
//! other part of perfgate gets resolved values, and each value that can come from more
//! than one place knows where it came from, so an error names the flag or the variable.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::{Arrivals, Dur, Overrides, Rate, Segment, Stage, Target};
use super::{LoadArgs, OutputArgs};

/// Where a setting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Flag(&'static str),
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(name) | Origin::Env(name) => f.write_str(name),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub from: Origin,
}

/// The process environment, read once.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Reads the environment (variables that are not UTF-8 are left out).
    pub fn read() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment of these variables only (for tests and embedding).
    pub fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// A variable's value; unset and blank are the same.
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.get(n)).map(str::to_string)
    }
}

/// What the CI the run happens in says about it.
#[derive(Clone, Debug, Default)]
pub struct Ci {
    /// GITHUB_ACTIONS=true: violations become workflow annotations.
    pub github_actions: bool,
    /// GITHUB_STEP_SUMMARY: the Markdown report is appended there.
    pub step_summary: Option<PathBuf>,
    /// GITHUB_SHA, CI_COMMIT_SHA or GIT_COMMIT.
    pub commit: Option<String>,
    /// GITHUB_HEAD_REF, GITHUB_REF_NAME, CI_COMMIT_REF_NAME or GIT_BRANCH.
    pub branch: Option<String>,
}

impl Ci {
    /// The CI context in `env`.
    pub fn of(env: &Env) -> Ci {
        Ci {
            github_actions: env.get("GITHUB_ACTIONS") == Some("true"),
            step_summary: env.get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
            commit: env.first(&["GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"]),
            branch: env.first(&[
                "GITHUB_HEAD_REF",
                "GITHUB_REF_NAME",
                "CI_COMMIT_REF_NAME",
                "GIT_BRANCH",
            ]),
        }
    }
}

/// A Locust-setup variable that replaces a whole-run objective: MAX_P99_LATENCY_MS=200.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvLimit {
    pub var: &'static str,
    /// The budget key it replaces (p99, error_rate, min_rps, ...).
    pub key: &'static str,
    /// In the budget's unit: ms for latency, a fraction for error_rate, per second for rps.
    pub value: f64,
}

/// The Locust setup's variables: (variable, budget key, divisor to the budget's unit).
const ENV_LIMITS: &[(&str, &str, f64)] = &[
    ("MAX_P99_LATENCY_MS", "p99", 1.0),
    ("MAX_P95_LATENCY_MS", "p95", 1.0),
    ("MAX_AVG_LATENCY_MS", "avg", 1.0),
    ("MAX_FAIL_RATE", "error_rate", 100.0), // in percent, as in Locust
    ("MIN_RPS", "min_rps", 1.0),
];

/// Where history is kept when nothing names a store.
pub const DEFAULT_HISTORY: &str = ".perfgate/history.db";

/// Everything a subcommand needs to know beyond its positional arguments.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub scenario: Option<Setting<String>>,
    pub host: Option<Setting<String>>,
    pub users: Option<Setting<u64>>,
    pub duration: Option<Setting<Dur>>,
    pub segment: Option<Setting<Segment>>,
    pub spawn_rate: Option<f64>,
    pub rate: Option<Rate>,
    pub arrivals: Option<Arrivals>,
    pub stages: Vec<Stage>,
    pub iterations: Option<u64>,
    pub budget: Option<String>,
    pub threads: Option<usize>,
    pub insecure: bool,
    /// Certificates (PEM) to trust besides `[target] ca_file` (the TLS demo's own).
    pub trust: Vec<String>,
    pub http: Option<super::HttpVersion>,
    /// When the load starts (`--start-at`, PERFGATE_START_AT): none, at once.
    pub start_at: Option<Setting<std::time::SystemTime>>,
    /// The run this one is part of (`--run-id`, PERFGATE_RUN_ID, else from `--start-at`
    /// or the CI run), written in its result.
    pub run_id: Option<String>,
    /// The budget environment: --env, else PERFGATE_ENV (the file's `[gate]
    /// environment` comes after both, when the budget is resolved).
    pub environment: Option<Setting<String>>,
    /// MAX_P99_LATENCY_MS and friends, parsed.
    pub limits: Vec<EnvLimit>,
    /// The store a run records into: `--history [DB]`, else PERFGATE_HISTORY; none: no record.
    pub history: Option<Setting<String>>,
    pub baseline: Option<String>,
    pub out: Option<PathBuf>,
    /// `--report FORMAT=FILE`, as given (the report module parses them).
    pub reports: Vec<String>,
    pub quiet: bool,
    pub exports: Vec<String>,
    pub export_every: Dur,
    pub metrics_listen: Option<String>,
    /// `--dashboard ADDR` and its token (`--dashboard-token`, PERFGATE_DASHBOARD_TOKEN).
    pub dashboard: Option<String>,
    pub dashboard_token: Option<String>,
    /// INFLUX_TOKEN, for InfluxDB v2 exports.
    pub influx_token: Option<String>,
    pub ci: Ci,
    /// NO_COLOR unset or empty.
    pub color: bool,
    /// Every variable, for the templates' `env()`.
    pub vars: BTreeMap<String, String>,
}

impl Settings {
    /// Resolves flags over environment variables. An error names the flag or variable.
    pub fn resolve(load: &LoadArgs, output: &OutputArgs, env: &Env) -> Result<Settings, String> {
        let flag_or_env = |flag: &Option<String>, name: &'static str, var: &'static str| match flag
        {
            Some(v) => Some(Setting {
                value: v.clone(),
                from: Origin::Flag(name),
            }),
            None => env.get(var).map(|v| Setting {
                value: v.trim().to_string(),
                from: Origin::Env(var),
            }),
        };
        let scenario = flag_or_env(&load.scenario, "--scenario", "TEST_SCENARIO");
        let host = flag_or_env(&load.host, "--host", "TARGET_HOST");
        if let Some(h) = &host {
            Target::parse(&h.value).map_err(|e| format!("{}: {e}", h.from))?;
        }
        let users = match load.users {
            Some(n) => Some(Setting {
                value: n,
                from: Origin::Flag("--users"),
            }),
            None => parsed(env_setting(env, "TEST_USERS"), |v| {
                v.parse::<u64>()
                    .map_err(|_| format!("{v:?} is not a whole number of users"))
            })?,
        };
        let duration = parsed(
            flag_or_env(&load.duration, "--duration", "TEST_DURATION"),
            Dur::parse,
        )?;
        // Flags before variables: --segment, --segment-index, PERFGATE_SEGMENT, then the
        // index variables.
        let whole = parsed(
            flag_or_env(&load.segment, "--segment", "PERFGATE_SEGMENT"),
            Segment::parse,
        )?;
        let by_index = segment_by_index(load, env)?;
        let flag = |s: &Setting<Segment>| matches!(s.from, Origin::Flag(_));
        let segment = [
            whole.clone().filter(flag),
            by_index.clone().filter(flag),
            whole,
            by_index,
        ]
        .into_iter()
        .flatten()
        .next();
        if let Some(u) = users.as_ref().filter(|u| u.value == 0) {
            return Err(format!("{}: needs at least one user", u.from));
        }
        if let Some(d) = duration.as_ref().filter(|d| d.value.0.is_zero()) {
            return Err(format!("{}: must be more than 0, e.g. 30s", d.from));
        }
        if load.iterations == Some(0) {
            return Err("--iterations: must be at least 1".into());
        }
        if load.threads == Some(0) {
            return Err("--threads: must be at least 1".into());
        }
        if load.spawn_rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
            return Err("--spawn-rate: must be more than 0 users per second".into());
        }
        let start_at = parsed(
            flag_or_env(&load.start_at, "--start-at", "PERFGATE_START_AT"),
            start_time,
        )?;
        let run_id = run_id(
            flag_or_env(&load.run_id, "--run-id", "PERFGATE_RUN_ID"),
            env,
            start_at.as_ref().map(|s| s.value),
        )?;
        let rate = load
            .rate
            .as_deref()
            .map(Rate::parse)
            .transpose()
            .map_err(|e| format!("--rate: {e}"))?;
        let stages = load
            .stages
            .iter()
            .map(|s| Stage::parse(s).map_err(|e| format!("--stage {s}: {e}")))
            .collect::<Result<_, _>>()?;
        let export_every = match output.export_every.as_str() {
            "" => Dur(std::time::Duration::from_secs(5)),
            every => Dur::parse(every).map_err(|e| format!("--export-every: {e}"))?,
        };
        // `--history` alone means PERFGATE_HISTORY, else the default file.
        let history = match output.history.as_deref() {
            Some("") => Some(env_setting(env, "PERFGATE_HISTORY").unwrap_or(Setting {
                value: DEFAULT_HISTORY.to_string(),
                from: Origin::Flag("--history"),
            })),
            Some(url) => Some(Setting {
                value: url.to_string(),
                from: Origin::Flag("--history"),
            }),
            None => env_setting(env, "PERFGATE_HISTORY"),
        };
        Ok(Settings {
            scenario,
            host,
            users,
            duration,
            segment,
            spawn_rate: load.spawn_rate,
            rate,
            arrivals: load.arrivals.as_deref().map(|a| match a {
                "poisson" => Arrivals::Poisson,
                _ => Arrivals::Uniform,
            }),
            stages,
            iterations: load.iterations,
            budget: load.budget.clone(),
            threads: load.threads,
            insecure: load.insecure,
            trust: Vec::new(),
            http: load.http,
            start_at,
            run_id,
            environment: flag_or_env(&output.environment, "--env", "PERFGATE_ENV"),
            limits: env_limits(env)?,
            history,
            baseline: output.baseline.clone(),
            out: output.out.clone(),
            reports: output.reports.clone(),
            quiet: output.quiet,
            exports: output.exports.clone(),
            export_every,
            metrics_listen: output.metrics_listen.clone(),
            dashboard: output.dashboard.clone(),
            dashboard_token: output
                .dashboard_token
                .clone()
                .or_else(|| env.get("PERFGATE_DASHBOARD_TOKEN").map(str::to_string))
                .filter(|t| !t.is_empty()),
            influx_token: env.get("INFLUX_TOKEN").map(str::to_string),
            ci: Ci::of(env),
            color: env.get("NO_COLOR").is_none(),
            vars: env.vars.clone(),
        })
    }

    /// What the plan takes from the command line and the environment.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            scenario: self.scenario.as_ref().map(|s| s.value.clone()),
            host: self.host.as_ref().map(|s| s.value.clone()),
            users: self.users.as_ref().map(|s| s.value),
            spawn_rate: self.spawn_rate,
            duration: self.duration.as_ref().map(|s| s.value),
            rate: self.rate,
            arrivals: self.arrivals,
            stages: self.stages.clone(),
            iterations: self.iterations,
            budget: self.budget.clone(),
            threads: self.threads,
            segment: self.segment.as_ref().map(|s| s.value),
            insecure: self.insecure,
            trust: self.trust.clone(),
            http: self.http,
            vars: self.vars.clone(),
            environment: self.environment.as_ref().map(|e| e.value.clone()),
        }
    }

    /// The store history is read from: the one runs record into, else the default file.
    pub fn history_store(&self) -> String {
        self.history
            .as_ref()
            .map_or(DEFAULT_HISTORY.to_string(), |h| h.value.clone())
    }

    /// The environment named by the flag, else `fallback` (a saved result's own), else
    /// PERFGATE_ENV.
    pub fn environment_or(&self, fallback: Option<&str>) -> Option<String> {
        match &self.environment {
            Some(e) if matches!(e.from, Origin::Flag(_)) => Some(e.value.clone()),
            e => fallback
                .map(str::to_string)
                .or_else(|| e.as_ref().map(|e| e.value.clone())),
        }
    }
}

/// A raw setting parsed; the error names where it came from.
fn parsed<T>(
    raw: Option<Setting<String>>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Setting<T>>, String> {
    raw.map(|s| {
        parse(&s.value)
            .map(|value| Setting {
                value,
                from: s.from,
            })
            .map_err(|e| format!("{}: {e}", s.from))
    })
    .transpose()
}

/// The run's name: given, else the shared start time, else the CI run (its attempt
/// included, so a re-run is another run).
fn run_id(
    given: Option<Setting<String>>,
    env: &Env,
    start_at: Option<std::time::SystemTime>,
) -> Result<Option<String>, String> {
    if let Some(id) = given {
        let from = id.from;
        let id = id.value.trim();
        if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
            return Err(format!(
                "{from}: {id:?}: give a name of up to 200 printable characters"
            ));
        }
        return Ok(Some(id.to_string()));
    }
    if let Some(at) = start_at {
        return Ok(Some(format!("start {}", humantime::format_rfc3339(at))));
    }
    let ci = match (env.get("GITHUB_RUN_ID"), env.get("CI_PIPELINE_ID")) {
        (Some(run), _) => Some(format!(
            "github {run}.{}",
            env.get("GITHUB_RUN_ATTEMPT").unwrap_or("1")
        )),
        (None, Some(pipeline)) => Some(format!("gitlab {pipeline}")),
        _ => env.get("BUILD_TAG").map(|tag| format!("jenkins {tag}")),
    };
    Ok(ci)
}

/// `--segment-index I --segments N`, or their variables: PERFGATE_SEGMENT_INDEX or a
/// Kubernetes Indexed Job's JOB_COMPLETION_INDEX (0-based, as is), with PERFGATE_SEGMENTS.
/// Without a number of segments, JOB_COMPLETION_INDEX alone splits nothing.
fn segment_by_index(load: &LoadArgs, env: &Env) -> Result<Option<Setting<Segment>>, String> {
    let number = |var: &'static str| {
        env.get(var)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| format!("{var}={v:?} is not a whole number"))
            })
            .transpose()
    };
    let index = match load.segment_index {
        Some(i) => Some((i, Origin::Flag("--segment-index"))),
        None => match number("PERFGATE_SEGMENT_INDEX")? {
            Some(i) => Some((i, Origin::Env("PERFGATE_SEGMENT_INDEX"))),
            None => {
                number("JOB_COMPLETION_INDEX")?.map(|i| (i, Origin::Env("JOB_COMPLETION_INDEX")))
            }
        },
    };
    let count = match load.segments {
        Some(n) => Some(n),
        None => number("PERFGATE_SEGMENTS")?,
    };
    match (index, count) {
        (Some((i, from)), Some(n)) => Segment::from_index(i, n)
            .map(|value| Some(Setting { value, from }))
            .map_err(|e| format!("{from}: {e}")),
        (Some((_, from @ Origin::Flag(_))), None)
        | (Some((_, from @ Origin::Env("PERFGATE_SEGMENT_INDEX"))), None) => Err(format!(
            "{from} needs the number of segments: --segments N or PERFGATE_SEGMENTS"
        )),
        (None, Some(_)) if load.segments.is_some() => Err(
            "--segments needs --segment-index I (or PERFGATE_SEGMENT_INDEX, JOB_COMPLETION_INDEX)"
                .into(),
        ),
        _ => Ok(None),
    }
}

fn env_setting(env: &Env, var: &'static str) -> Option<Setting<String>> {
    env.get(var).map(|v| Setting {
        value: v.trim().to_string(),
        from: Origin::Env(var),
    })
}

fn env_limits(env: &Env) -> Result<Vec<EnvLimit>, String> {
    let mut limits = Vec::new();
    for &(var, key, divisor) in ENV_LIMITS {
        let Some(raw) = env.get(var) else { continue };
        let n: f64 = raw
            .trim()
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| format!("{var}={raw:?} is not a number"))?;
        if n < 0.0 {
            return Err(format!("{var}={raw:?} must not be negative"));
        }
        limits.push(EnvLimit {
            var,
            key,
            value: n / divisor,
        });
    }
    Ok(limits)
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;

/// An RFC 3339 time no more than a day from now (a later one is most likely a mistake).
fn start_time(text: &str) -> Result<std::time::SystemTime, String> {
    let t = humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("{text:?}: {e}: write a time as 2026-12-01T10:00:00Z"))?;
    let day = std::time::Duration::from_secs(86_400);
    if t > std::time::SystemTime::now() + day {
        return Err(format!("{text:?} is more than a day from now"));
    }
    Ok(t)
}
