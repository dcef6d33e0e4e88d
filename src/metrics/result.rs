//! `RunResult`: the one report model. Everything that measures produces one; everything
//! that judges or shows reads one. Its JSON form is versioned (`schema_version`) and
//! described by `schema/run-result.schema.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Latency, Packed};

/// Bumped whenever the JSON shape changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// A run's measurements: the pivot every stage reads (schema/run-result.schema.json).
/// The engine, an importer and a merge make one; the gate, the reports, the history and
/// the exports read one; saved, it can be merged, gated and compared later.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    pub schema_version: u32,
    /// "perfgate 0.1.0" or the importer that produced this result.
    pub tool: String,
    pub scenario: ScenarioInfo,
    pub environment: Option<String>,
    pub target: String,
    /// The target's certificate was not verified (`insecure`): every report says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_insecure: bool,
    pub git: GitInfo,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub ended_at: String,
    /// Wall-clock seconds the load ran (rps is requests / this).
    pub duration_s: f64,
    pub stop: StopReason,
    /// What stopped an interrupted run, when not a signal: "the dashboard".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// In a merge of segments: the segments ("2/3") that stopped before the end, and why
    /// (each segment's `abort_on_fail` judges its own share of the load).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stopped_segments: BTreeMap<String, StopReason>,
    pub generator: Generator,
    pub total: Stats,
    /// Per endpoint (request name), sorted by name.
    pub endpoints: Vec<Stats>,
    /// Per-second time series.
    pub series: Vec<Interval>,
    /// How often each task of each user class ran.
    pub tasks: Vec<TaskCount>,
    /// Each soft check (`check = { ... }`) and how often it held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckCount>,
}

/// One soft check: an endpoint's condition, and how often it held on its responses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckCount {
    pub endpoint: String,
    /// "status is 200", "body contains \"ok\"", "/valid is true", ...
    pub check: String,
    pub passed: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    /// "closed" (virtual users loop), "open" (arrival rate) or "mixed" (both).
    pub model: super::LoadModel,
    pub users: u64,
    /// Arrivals per second (open model).
    pub rate: Option<f64>,
    pub duration_s: f64,
    /// "I/N" when this is one segment of a run (`--segment`): users and rate are its
    /// share. None for a whole run, and once all segments are merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// The run this result belongs to, which every segment of one run shares
    /// (`--run-id`, else derived from `--start-at` or the CI run); none when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Merged from several results: how many, and whether they ran together or in turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<super::Merged>,
    /// A load with stages: (seconds from its start, users or arrivals per second) at its
    /// start and at each stage's end; the whole run's values, in a segment's result too.
    /// Empty without stages or steering, and for several loads run together. Steered
    /// while it ran (the dashboard), it follows each change: the load actually driven.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shape: Vec<[f64; 2]>,
    /// Each change to the load asked while it ran, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<LoadChange>,
}

/// A change to the load while it ran: from `at_s` seconds on, this many users (closed
/// model, reached at its spawn rate) or arrivals per second (open model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadChange {
    pub at_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Who changed it: "the dashboard".
    pub by: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitInfo {
    pub commit: Option<String>,
    pub branch: Option<String>,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Ran for the whole duration (or all iterations).
    #[default]
    Completed,
    /// Stopped by Ctrl-C / SIGTERM: partial results.
    Interrupted,
    /// An `abort_on_fail` objective stopped the run early.
    Aborted,
}

/// How the load generator itself fared. When it was the bottleneck the numbers
/// describe perfgate, not the service, and the gate says the run is inconclusive.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    pub threads: u32,
    pub cores: u32,
    /// User + system CPU seconds perfgate used during the load.
    pub cpu_seconds: f64,
    /// Seconds its threads were ready to run but waiting for a core (Linux schedstat).
    #[serde(default)]
    pub wait_seconds: f64,
    /// Open model: how late, at worst, an arrival was handed out after its due time, in
    /// milliseconds (results written before 2026-11 called it `max_lag_ms`).
    #[serde(alias = "max_lag_ms")]
    pub schedule_lag_ms: f64,
    /// The runtime's scheduling delay: the 99th percentile of how late each worker
    /// thread's once-a-second timer fired, in milliseconds (the worst, in short runs).
    #[serde(default)]
    pub timer_delay_p99_ms: f64,
    pub overloaded: bool,
    /// Why it was judged overloaded (also: virtual users lost to a perfgate bug);
    /// `report::words::overload` says each.
    #[serde(deserialize_with = "overloads")]
    pub notes: Vec<Overload>,
}

/// Why a saved result could not be read, or was refused.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// The file could not be read.
    #[error("cannot read {}: {why}", path.display())]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        why: std::io::Error,
    },
    /// The file's content was refused.
    #[error("{}: {why}", path.display())]
    In {
        /// The file.
        path: std::path::PathBuf,
        /// Why it was refused.
        why: Box<ResultError>,
    },
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    /// JSON without a `schema_version`.
    #[error("not a perfgate result (no schema_version)")]
    NotAResult,
    /// A result of another version.
    #[error("schema_version {0} is not supported (this perfgate reads {SCHEMA_VERSION})")]
    Version(u64),
    /// A field missing, of the wrong type, or unknown.
    #[error("malformed result: {0}")]
    Malformed(serde_json::Error),
    /// Figures that disagree (a forged or corrupt result), duplicate keys.
    #[error("refused: {0}")]
    Refused(String),
}

/// Why the load generator was the bottleneck, as data; the words are the report's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Overload {
    /// Its CPU was `busy` (a fraction) of `cores` cores, running `threads` threads.
    Cpu { busy: f64, cores: u32, threads: u32 },
    /// Its threads were running or waiting for a core `wanted` of the time (a
    /// fraction), their CPU `busy`.
    Waiting { wanted: f64, busy: f64 },
    /// Open-model arrivals were handed out up to `ms` after they were due.
    ScheduleLag { ms: f64 },
    /// 1% of ready work waited over `ms` for a worker thread.
    TimerDelay { ms: f64 },
    /// Virtual users stopped on an internal error (a perfgate bug), the first's words.
    UsersLost { users: u64, first: String },
    /// A reason as words, from a result written before reasons were data.
    Said { words: String },
}

/// The generator's notes: data, or the words results written before held.
fn overloads<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Overload>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Words(String),
        Data(Overload),
    }
    let notes = Vec::<Either>::deserialize(d)?;
    Ok(notes
        .into_iter()
        .map(|n| match n {
            Either::Words(words) => Overload::Said { words },
            Either::Data(o) => o,
        })
        .collect())
}

/// Counts and latencies for one endpoint or the whole run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stats {
    pub name: String,
    pub method: String,
    /// The endpoint's tags (`tags = { flow = "checkout" }`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Completed requests, successful or failed.
    pub requests: u64,
    pub failures: u64,
    /// In flight when the run stopped: neither success nor failure.
    pub interrupted: u64,
    /// Open model: arrivals that found no free virtual user (total only).
    pub dropped: u64,
    pub failure_reasons: BTreeMap<String, u64>,
    /// Completed requests by response status class: "2xx", "5xx", ... and "none" for no
    /// response (refused, timeout, reset).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status_classes: BTreeMap<String, u64>,
    /// Response body bytes received (after chunked decoding); 0 also when not measured
    /// (results imported from k6 or JMeter, or written before 2026-11).
    #[serde(default)]
    pub body_bytes: u64,
    /// Requests sent again on a new connection after a kept-alive one turned out closed
    /// (idempotent methods only, nothing of a response read): the target may have seen
    /// `requests + retries`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u64,
    /// Of the connections made (`connect`'s samples), those that spoke HTTP/2 (by ALPN
    /// over TLS, by prior knowledge in cleartext); the others spoke HTTP/1.1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub http2_connections: u64,
    /// Soft checks (`check = { ... }`) that held and that did not, on this endpoint's
    /// responses.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub checks_passed: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub checks_failed: u64,
    /// WebSocket messages this endpoint's steps sent and received.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub messages_sent: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub messages_received: u64,
    /// From due time to the last body byte, µs.
    pub latency: Latency,
    /// From due time to the first response byte, µs.
    pub ttfb: Latency,
    /// TCP (and TLS) connect time, µs, one sample per new connection.
    pub connect: Latency,
    /// The numbers read from responses (`metrics = { ... }`), by name, in thousandths
    /// (a value of 12.5 is kept as 12500, as a latency in ms is kept in µs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, Latency>,
    /// Derived from the histograms; recomputed whenever a result is built or read.
    #[serde(default)]
    pub summary: Summary,
}

/// Human-friendly figures derived from a `Stats`, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub rps: f64,
    pub error_rate: f64,
    pub avg_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// Seconds since the start of the run at which this interval began.
    pub t: u64,
    /// Virtual users active at the end of the interval.
    pub users: u64,
    pub dropped: u64,
    pub endpoints: Vec<IntervalStats>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalStats {
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub latency: Packed,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCount {
    pub user: String,
    pub task: String,
    pub iterations: u64,
    /// Iterations of a task written in Rust that failed in its own code (its `Err`, a
    /// panic), not by a failed request: each counts as a failed request in the run's
    /// error rate.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code_failures: u64,
}

impl GitInfo {
    /// The commit and branch from the CI's variables, else from `git` in the current
    /// directory.
    pub fn detect(ci: &crate::config::Ci) -> GitInfo {
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .filter(|s| !s.is_empty() && s != "HEAD")
        };
        GitInfo {
            commit: ci.commit.clone().or_else(|| git(&["rev-parse", "HEAD"])),
            branch: ci
                .branch
                .clone()
                .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"])),
        }
    }
}

impl Stats {
    pub fn named(name: &str, method: &str) -> Stats {
        Stats {
            name: name.to_string(),
            method: method.to_string(),
            ..Stats::default()
        }
    }

    /// Adds every count and sample of `other`.
    pub fn add(&mut self, other: &Stats) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.interrupted += other.interrupted;
        self.dropped += other.dropped;
        for (reason, n) in &other.failure_reasons {
            *self.failure_reasons.entry(reason.clone()).or_default() += n;
        }
        for (class, n) in &other.status_classes {
            *self.status_classes.entry(class.clone()).or_default() += n;
        }
        self.body_bytes += other.body_bytes;
        self.retries += other.retries;
        self.http2_connections += other.http2_connections;
        self.checks_passed += other.checks_passed;
        self.checks_failed += other.checks_failed;
        self.messages_sent += other.messages_sent;
        self.messages_received += other.messages_received;
        self.latency.add(&other.latency);
        self.ttfb.add(&other.ttfb);
        self.connect.add(&other.connect);
        for (name, l) in &other.metrics {
            self.metrics.entry(name.clone()).or_default().add(l);
        }
    }

    /// Failures / requests, as a fraction (0.001 = 0.1%).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }

    fn refresh(&mut self, duration_s: f64) {
        let ms = |us: u64| us as f64 / 1000.0;
        let l = &self.latency;
        let empty = l.count() == 0;
        self.summary = Summary {
            rps: if duration_s > 0.0 {
                self.requests as f64 / duration_s
            } else {
                0.0
            },
            error_rate: self.error_rate(),
            avg_ms: if empty { 0.0 } else { l.mean_us() / 1000.0 },
            min_ms: if empty { 0.0 } else { ms(l.min_us()) },
            max_ms: if empty { 0.0 } else { ms(l.max_us()) },
            p50_ms: ms(l.percentile_us(50.0)),
            p90_ms: ms(l.percentile_us(90.0)),
            p95_ms: ms(l.percentile_us(95.0)),
            p99_ms: ms(l.percentile_us(99.0)),
            p999_ms: ms(l.percentile_us(99.9)),
        };
    }
}

impl RunResult {
    /// Recomputes every derived summary; call after building or merging.
    pub fn refresh(&mut self) {
        let d = self.duration_s;
        self.total.refresh(d);
        for e in &mut self.endpoints {
            e.refresh(d);
        }
    }

    /// Iterations of Rust tasks that failed in their own code (`TaskCount::code_failures`).
    pub fn code_failures(&self) -> u64 {
        self.tasks.iter().map(|t| t.code_failures).sum()
    }

    pub fn endpoint(&self, name: &str) -> Option<&Stats> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("RunResult serialises")
    }

    /// Reads a saved result, checking its schema version.
    pub fn load(path: &Path) -> Result<RunResult, ResultError> {
        let text = std::fs::read_to_string(path).map_err(|e| ResultError::Unreadable {
            path: path.to_path_buf(),
            why: e,
        })?;
        Self::from_json(&text).map_err(|e| ResultError::In {
            path: path.to_path_buf(),
            why: Box::new(e),
        })
    }

    /// Parses and checks a saved result: see `validate` for what is refused.
    pub fn from_json(text: &str) -> Result<RunResult, ResultError> {
        let probe: serde_json::Value = serde_json::from_str(text).map_err(ResultError::NotJson)?;
        super::validate::no_duplicate_keys(text).map_err(ResultError::Refused)?;
        match probe.get("schema_version").and_then(|v| v.as_u64()) {
            Some(v) if v == SCHEMA_VERSION as u64 => {}
            Some(v) => return Err(ResultError::Version(v)),
            None => return Err(ResultError::NotAResult),
        }
        let mut r: RunResult = serde_json::from_value(probe).map_err(ResultError::Malformed)?;
        super::validate::consistent(&r).map_err(ResultError::Refused)?;
        r.refresh();
        Ok(r)
    }

    /// Writes atomically: a temporary file beside the target, then a rename.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        crate::write_atomic(path, self.to_json().as_bytes())
    }
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reasons are data now; results written when they were words still read.
    #[test]
    fn generator_reasons_read_as_data_or_as_old_words() {
        let g: Generator = serde_json::from_str(
            r#"{"threads":2,"cores":2,"cpu_seconds":1,"schedule_lag_ms":0,"overloaded":true,
                "notes":["load generator CPU at 95% of its 2 threads",
                         {"kind":"schedule_lag","ms":250.0}]}"#,
        )
        .unwrap();
        assert_eq!(
            g.notes,
            [
                Overload::Said {
                    words: "load generator CPU at 95% of its 2 threads".into()
                },
                Overload::ScheduleLag { ms: 250.0 }
            ]
        );
        let again: Generator = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        assert_eq!(again.notes, g.notes);
        let wrong = r#"{"threads":1,"cores":1,"cpu_seconds":1,"schedule_lag_ms":0,
            "overloaded":true,"notes":[{"kind":"cpu","busy":"x"}]}"#;
        assert!(serde_json::from_str::<Generator>(wrong).is_err());
    }
}
