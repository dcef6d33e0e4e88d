//! perfgate.toml: its schema, loading with file:line:column errors, and resolution
//! into a runnable [`Plan`] (CLI > environment > file > defaults, in one place).
//!
//! The reference for every key is `docs/config.md`.

mod args;
mod classes;
mod plan;
mod segment;
mod settings;
mod target;
pub(crate) mod template;
mod units;
pub mod wire;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use args::{LoadArgs, OutputArgs};
pub use classes::{
    DataFile, DataOrder, Expect, Receive, RepeatConfig, RequestConfig, StatusList, UserClass, Wait,
};
pub use plan::grpc;
pub use plan::scenario_search;
pub use plan::{
    CodeClass, CodeTask, CodeUsers, Expectation, Extract, Feeder, Load, Model, Overrides, Plan,
    PlannedStep, PlannedTask, PlannedUser, Reading, Repeat, StepKind, Tls, WsStep, SECRET_HEADERS,
    TRANSACTION,
};
pub use segment::{Segment, Segments};
pub use settings::{Ci, Env, EnvLimit, Origin, Setting, Settings, DEFAULT_HISTORY};
pub use target::{Proxy, Target};
pub use template::{Templates, Text};
pub use units::{percent, Dur, Rate, Size, MAX_RATE};

/// The whole perfgate.toml.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub target: TargetConfig,
    #[serde(default)]
    pub gate: GateConfig,
    #[serde(default)]
    pub scenarios: BTreeMap<String, Spanned<Scenario>>,
    #[serde(default)]
    pub users: Vec<Spanned<UserClass>>,
    #[serde(default)]
    pub data: BTreeMap<String, Spanned<DataFile>>,
    /// Budgets per environment (development, staging, production, ...).
    #[serde(default)]
    pub budgets: BTreeMap<String, RawBudget>,
    /// Endpoint SLOs that apply in every environment.
    #[serde(default)]
    pub endpoints: BTreeMap<String, RawBudget>,
    /// Alert levels (warning, critical): reported beside the verdict, never failing it.
    #[serde(default)]
    pub alerts: BTreeMap<String, RawBudget>,
    #[serde(default)]
    pub regression: RawBudget,
    /// What changes with the environment (`--env`): the host and headers.
    #[serde(default)]
    pub environments: BTreeMap<String, Spanned<EnvironmentConfig>>,
    /// Budget scopes over the endpoints whose tags match: `[scopes.checkout] tags = {
    /// flow = "checkout" }` with objectives beside.
    #[serde(default)]
    pub scopes: BTreeMap<String, RawBudget>,
    /// The `.proto` files gRPC steps call methods of.
    pub grpc: Option<Spanned<GrpcConfig>>,
}

/// `[grpc]`: where the services gRPC steps call are defined.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcConfig {
    /// `.proto` files, beside the config file unless absolute.
    #[serde(default)]
    pub protos: Vec<PathBuf>,
    /// Folders imports are looked up in, besides each file's own.
    #[serde(default)]
    pub include: Vec<PathBuf>,
}

/// `[environments.NAME]`: the target of one environment, chosen by `--env` (or
/// PERFGATE_ENV, or `[gate] environment`) with the budget of the same name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Replaces `[target] host` (--host and TARGET_HOST still come first).
    pub host: Option<String>,
    /// Added to `[target] headers`, replacing those of the same name.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A budget table kept raw with its spans; `gate::Budget` parses it.
pub type RawBudget = BTreeMap<String, Spanned<toml::Value>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub host: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Spanned<Dur>,
    #[serde(default = "default_timeout")]
    pub timeout: Spanned<Dur>,
    /// PEM certificates to trust besides the public roots (an internal CA, or a
    /// self-signed certificate itself), relative to the config file's folder.
    pub ca_file: Option<PathBuf>,
    /// Trust any server certificate (staging with a certificate nobody signed): said
    /// loudly in the terminal and every report.
    #[serde(default)]
    pub insecure: bool,
    /// A PEM certificate (chain) to present when the server asks for one (mutual TLS).
    pub client_cert: Option<PathBuf>,
    /// The PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// The most of a response body kept for checks and extraction (bytes, or "10MB",
    /// "512KiB"); the rest is read and counted, not kept.
    #[serde(default = "default_max_body")]
    pub max_body: Spanned<Size>,
    /// An HTTP proxy for every request: `http://[user:pass@]host:port` (https targets
    /// go through it with CONNECT). Unset: HTTP_PROXY / HTTPS_PROXY, less NO_PROXY.
    pub proxy: Option<Spanned<String>>,
    /// Redirects followed per request (0: a 3xx is the answer).
    #[serde(default = "default_max_redirects")]
    pub max_redirects: u32,
    /// Each virtual user keeps the cookies responses set, as a browser session does.
    #[serde(default = "default_cookies")]
    pub cookies: bool,
    /// Each virtual user keeps its connection open between requests (false: a new
    /// connection per request, `Connection: close`).
    #[serde(default = "default_keep_alive")]
    pub keep_alive: bool,
    /// "auto" (HTTP/2 when TLS negotiates it, else HTTP/1.1), "1.1", or "2" (by ALPN over
    /// TLS, by prior knowledge in cleartext: h2c).
    #[serde(default)]
    pub http: HttpVersion,
    /// HTTP/2 (`http = "2"`): the users of a process share this many connections,
    /// their requests multiplexed as streams (unset: one connection a user).
    pub connections: Option<Spanned<u32>>,
}

/// Which HTTP a target is spoken to in (`[target] http`, `--http`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum HttpVersion {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "1.1")]
    H1,
    #[serde(rename = "2")]
    H2,
}

impl std::str::FromStr for HttpVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<HttpVersion, String> {
        match s {
            "auto" => Ok(HttpVersion::Auto),
            "1.1" => Ok(HttpVersion::H1),
            "2" => Ok(HttpVersion::H2),
            other => Err(format!("{other:?}: write auto, 1.1 or 2")),
        }
    }
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig {
            ca_file: None,
            insecure: false,
            client_cert: None,
            client_key: None,
            proxy: None,
            max_body: default_max_body(),
            host: None,
            headers: BTreeMap::new(),
            connect_timeout: default_connect_timeout(),
            timeout: default_timeout(),
            max_redirects: default_max_redirects(),
            cookies: default_cookies(),
            keep_alive: default_keep_alive(),
            http: HttpVersion::Auto,
            connections: None,
        }
    }
}

/// Enough for any JSON a check reads; bounded, so a 50 MB answer cannot make 10,000
/// users hold 500 GB.
fn default_max_body() -> Spanned<Size> {
    Spanned::new(0..0, Size(10 << 20))
}

/// As Locust, k6 and Gatling do.
fn default_keep_alive() -> bool {
    true
}

fn default_cookies() -> bool {
    true
}

/// As k6 and Gatling do (Locust's requests follows up to 30).
fn default_max_redirects() -> u32 {
    10
}

fn default_connect_timeout() -> Spanned<Dur> {
    Spanned::new(0..0, Dur(std::time::Duration::from_secs(5)))
}
fn default_timeout() -> Spanned<Dur> {
    Spanned::new(0..0, Dur(std::time::Duration::from_secs(30)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// The scenario run when none is named.
    pub scenario: Option<String>,
    /// The budget environment used when none is named.
    pub environment: Option<String>,
    /// Slow-request log threshold.
    pub slow_request: Option<Dur>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub description: String,
    /// Closed model: concurrent virtual users.
    pub users: Option<u64>,
    /// Users started per second (default: all at once).
    pub spawn_rate: Option<f64>,
    pub duration: Option<Dur>,
    /// Open model: arrivals per second.
    pub rate: Option<Rate>,
    /// Open model: virtual users pre-allocated to serve arrivals.
    pub max_users: Option<u64>,
    /// Open model: "uniform" (evenly spaced) or "poisson".
    pub arrivals: Option<Arrivals>,
    /// Stop after this many task iterations in total.
    pub iterations: Option<u64>,
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Judge this scenario by this budget set instead of the environment's.
    pub budget: Option<String>,
    /// Run these scenarios together, each with its own model, shape and start.
    #[serde(default)]
    pub include: Vec<String>,
    /// When included in another scenario: start this long after the test begins.
    pub start: Option<Dur>,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Find the capacity instead of running one load (`perfgate capacity`).
    pub search: Option<Spanned<Search>>,
}

/// `search = { start = "50/s", ... }`: open-model steps of offered rate, raised by
/// `factor` until the budget breaks, then bisected, each held for `step` after `warmup`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    pub start: Rate,
    /// The highest rate to offer (default: start × 1000).
    pub max: Option<Rate>,
    #[serde(default = "Search::default_step")]
    pub step: Dur,
    #[serde(default = "Search::default_warmup")]
    pub warmup: Dur,
    #[serde(default = "Search::default_factor")]
    pub factor: f64,
    /// Bisection stops when the first failing rate is within this of the highest that
    /// held ("5%", the default).
    pub precision: Option<toml::Value>,
    /// Exit 1 unless the capacity found is at least this.
    pub require: Option<Rate>,
}

impl Search {
    /// A search from `start` with every other setting at its default.
    pub fn starting_at(start: Rate) -> Search {
        Search {
            start,
            max: None,
            step: Search::default_step(),
            warmup: Search::default_warmup(),
            factor: Search::default_factor(),
            precision: None,
            require: None,
        }
    }

    fn default_step() -> Dur {
        Dur(std::time::Duration::from_secs(30))
    }
    fn default_warmup() -> Dur {
        Dur(std::time::Duration::from_secs(5))
    }
    fn default_factor() -> f64 {
        2.0
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    #[default]
    Uniform,
    Poisson,
}

/// Ramp users (closed model) or rate (open model) linearly to `target` over `duration`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub duration: Dur,
    pub target: f64,
}

impl Stage {
    /// `DURATION:TARGET`, as k6's `--stage`: `30s:100`.
    pub fn parse(text: &str) -> Result<Stage, String> {
        let (d, t) = text
            .rsplit_once(':')
            .ok_or("write DURATION:TARGET, e.g. 30s:100")?;
        let target: f64 = t
            .trim()
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| {
                format!("target {t:?} is not a number of users or arrivals per second")
            })?;
        Ok(Stage {
            duration: Dur::parse(d.trim())?,
            target,
        })
    }
}

/// A config problem, located in its file (line 0: the file as a whole, e.g. unreadable).
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// Where spans point: the file's name and text, to turn byte offsets into line:column.
#[derive(Clone, Debug)]
pub struct Source {
    pub file: String,
    pub text: String,
}

impl Source {
    /// A problem with the file as a whole (no position to point at).
    pub fn whole(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }

    pub fn error(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> ConfigError {
        let upto = &self.text[..span.start.min(self.text.len())];
        let line = upto.matches('\n').count() + 1;
        let column = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl Config {
    /// Reads and parses perfgate.toml; the error says where and what to fix.
    pub fn load(path: &Path) -> Result<(Config, Source), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read config: {e}"),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<(Config, Source), ConfigError> {
        let source = Source {
            file: file.to_string(),
            text: text.to_string(),
        };
        match toml::from_str::<Config>(text) {
            Ok(c) => Ok((c, source)),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                Err(source.error(span, e.message().trim().to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_located() {
        let err = Config::parse("p.toml", "[target]\nhost = \"http://x\"\nhots = 1\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 1), "{err}");
        assert!(err.message.contains("hots"), "{err}");
    }

    #[test]
    fn bad_duration_is_located() {
        let text = "[scenarios.smoke]\nusers = 1\nduration = \"30x\"\n";
        let err = Config::parse("p.toml", text).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("invalid duration"), "{err}");
    }
}
