//! Importers: another load tool's per-request log turned into a `RunResult`, so the gate,
//! comparisons, history and reports work on it exactly as on a run of perfgate's own.
//! Every request is a sample, so the histograms are as exact as the log's resolution.
//!
//! JMeter's JTL in CSV with a header row (`jmeter.save.saveservice.print_field_names`,
//! the default since JMeter 2.13): `timeStamp` (ms since the epoch, the sample's start),
//! `elapsed` (ms), `label` (the endpoint), `success`; read when present: `responseCode`,
//! `responseMessage`, `failureMessage`, `Latency` (time to first byte, ms), `Connect`
//! (ms), `allThreads` (active users), `URL` (the target). Its times are whole
//! milliseconds.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::metrics::{
    Collector, Failure, Generator, GitInfo, Recorder, RunResult, ScenarioInfo, StopReason,
};

/// One request of the log.
struct Sample {
    /// Milliseconds since the epoch when it was sent.
    start_ms: u64,
    elapsed_ms: u64,
    endpoint: usize,
    /// 0: no HTTP response.
    status: u16,
    failure: Option<Failure>,
    ttfb_ms: Option<u64>,
    connect_ms: Option<u64>,
    users: u64,
}

/// Reads a JMeter JTL (CSV) file into a result for scenario `scenario`.
pub fn jmeter(path: &Path, scenario: &str) -> Result<RunResult, String> {
    let name = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{name}: {e}"))?
        .clone();
    let column = |wanted: &str| headers.iter().position(|h| h.trim() == wanted);
    let required = |wanted: &str| {
        column(wanted).ok_or_else(|| {
            format!(
                "{name}:1: not a JMeter JTL in CSV with a header row: no `{wanted}` column \
                 (run JMeter with -Jjmeter.save.saveservice.print_field_names=true)"
            )
        })
    };
    let (at, elapsed, label, success) = (
        required("timeStamp")?,
        required("elapsed")?,
        required("label")?,
        required("success")?,
    );
    let (code, message, failure_message) = (
        column("responseCode"),
        column("responseMessage"),
        column("failureMessage"),
    );
    let (latency, connect, threads, url) = (
        column("Latency"),
        column("Connect"),
        column("allThreads"),
        column("URL"),
    );
    let mut endpoints: Vec<(String, String)> = Vec::new();
    let mut samples = Vec::new();
    let mut target = String::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{name}: {e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let number = |i: usize, what: &str| {
            field(Some(i)).parse::<u64>().map_err(|_| {
                format!(
                    "{name}:{line}: {what} {:?} is not a whole number of milliseconds",
                    field(Some(i))
                )
            })
        };
        let start_ms = number(at, "timeStamp")?;
        let elapsed_ms = number(elapsed, "elapsed")?;
        let ok = match field(Some(success)) {
            "true" => true,
            "false" => false,
            other => {
                return Err(format!(
                    "{name}:{line}: success {other:?} is not true or false"
                ))
            }
        };
        let label = field(Some(label)).to_string();
        let endpoint = match endpoints.iter().position(|(n, _)| *n == label) {
            Some(i) => i,
            None => {
                endpoints.push((label, String::new()));
                endpoints.len() - 1
            }
        };
        let status = field(code).parse::<u16>().unwrap_or(0);
        let failure = (!ok).then(|| {
            let said = [field(failure_message), field(message)]
                .into_iter()
                .find(|m| !m.is_empty())
                .unwrap_or("failed")
                .to_string();
            match status {
                0 => Failure::Connect(said),
                400.. => Failure::Status(status),
                _ => Failure::Expect(said),
            }
        });
        if target.is_empty() {
            target = origin(field(url));
        }
        let optional = |i: Option<usize>| field(i).parse::<u64>().ok();
        samples.push(Sample {
            start_ms,
            elapsed_ms,
            endpoint,
            status,
            failure,
            ttfb_ms: optional(latency),
            connect_ms: optional(connect).filter(|ms| *ms > 0),
            users: optional(threads).unwrap_or(0),
        });
    }
    if samples.is_empty() {
        return Err(format!("{name}: no samples"));
    }
    Ok(build(samples, &endpoints, scenario, target, "JMeter"))
}

/// "http://host:port" of a sample's URL, or "" when it has none.
fn origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// Folds the samples, second by second from the first one's start, as a run's workers
/// would have handed them over.
fn build(
    samples: Vec<Sample>,
    endpoints: &[(String, String)],
    scenario: &str,
    target: String,
    tool: &str,
) -> RunResult {
    let first = samples.iter().map(|s| s.start_ms).min().unwrap_or(0);
    let last = samples
        .iter()
        .map(|s| s.start_ms + s.elapsed_ms)
        .max()
        .unwrap_or(first);
    let mut seconds: BTreeMap<u64, Recorder> = BTreeMap::new();
    let mut peak_users = 0;
    for s in samples {
        let rec = seconds
            .entry((s.start_ms - first) / 1000)
            .or_insert_with(|| Recorder::new(endpoints.len(), 0));
        rec.users = rec.users.max(s.users);
        peak_users = peak_users.max(s.users);
        let us = s.elapsed_ms * 1000;
        rec.status(s.endpoint, s.status);
        if let Some(ms) = s.connect_ms {
            rec.connected(s.endpoint, ms * 1000);
        }
        match s.failure {
            Some(f) => rec.failure(s.endpoint, us, f),
            None => rec.success(s.endpoint, us, s.ttfb_ms.map_or(us, |ms| ms * 1000)),
        }
    }
    let mut collector = Collector::new(endpoints, &[], 1);
    for (t, rec) in seconds {
        collector.add(t, rec);
    }
    let (endpoints, total, series, tasks) = collector.finish();
    let duration_s = (last - first) as f64 / 1000.0;
    let started = SystemTime::UNIX_EPOCH + Duration::from_millis(first);
    let ended = SystemTime::UNIX_EPOCH + Duration::from_millis(last);
    let mut result = RunResult {
        schema_version: crate::metrics::SCHEMA_VERSION,
        tool: format!(
            "{tool} (imported by perfgate {})",
            env!("CARGO_PKG_VERSION")
        ),
        scenario: ScenarioInfo {
            name: scenario.to_string(),
            description: format!("imported from {tool}"),
            model: "closed".into(),
            users: peak_users,
            rate: None,
            duration_s,
            segment: None,
            shape: Vec::new(),
        },
        environment: None,
        target,
        git: GitInfo::detect(),
        started_at: humantime::format_rfc3339_millis(started).to_string(),
        ended_at: humantime::format_rfc3339_millis(ended).to_string(),
        duration_s,
        stop: StopReason::Completed,
        // Not measured: the other tool's load generator did not report on itself.
        generator: Generator::default(),
        total,
        endpoints,
        series,
        tasks,
    };
    result.refresh();
    result
}
