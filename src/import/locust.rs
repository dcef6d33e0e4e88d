//! Locust's statistics in JSON (`locust --json-file NAME`, or `--json` on standard
//! output): per endpoint the request and failure counts, every response time in Locust's
//! own buckets (whole milliseconds below 100 ms, then 2 significant digits), and the
//! requests and failures of each second. With `--csv NAME` beside it, failure reasons come
//! from `NAME_failures.csv` and the users of each second from `NAME_stats_history.csv`.
//!
//! Locust keeps no per-request log, so some things are not in the result: which second a
//! response time belongs to (the per-second series has counts, not latencies), time to
//! first byte, status codes, and the target's address.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{build, Sample};
use crate::metrics::{Failure, RunResult};

/// One entry of Locust's `serialize_stats()`.
#[derive(Deserialize)]
struct Entry {
    name: String,
    method: Option<String>,
    start_time: f64,
    last_request_timestamp: Option<f64>,
    num_requests: u64,
    #[serde(default)]
    num_none_requests: u64,
    num_failures: u64,
    /// Response time in ms (Locust's bucket) → requests.
    response_times: BTreeMap<String, u64>,
    /// Epoch second → requests.
    num_reqs_per_sec: BTreeMap<String, u64>,
    #[serde(default)]
    num_fail_per_sec: BTreeMap<String, u64>,
}

/// Reads Locust's JSON statistics into a result for scenario `scenario`.
pub fn locust(path: &Path, scenario: &str) -> Result<RunResult, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let entries: Vec<Entry> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{name}:{}:{}: not Locust's JSON statistics (locust --json-file NAME): {e}",
            e.line(),
            e.column()
        )
    })?;
    if entries.iter().all(|e| e.num_requests == 0) {
        return Err(format!("{name}: no requests"));
    }
    let mut reasons = match beside(path, "failures") {
        Some(p) => read_failures(&p)?,
        None => BTreeMap::new(),
    };
    let users = match beside(path, "stats_history") {
        Some(p) => read_users(&p)?,
        None => Vec::new(),
    };
    let endpoints: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e.name.clone(), e.method.clone().unwrap_or_default()))
        .collect();
    let mut samples = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let key = (endpoints[i].1.clone(), e.name.clone());
        let reasons = reasons.remove(&key).unwrap_or_default();
        samples.extend(entry_samples(i, e, reasons).map_err(|what| format!("{name}: {what}"))?);
    }
    // Each request gets the users of the last count at or before its second.
    for s in &mut samples {
        let i = users.partition_point(|(t, _)| t * 1_000_000 <= s.start_us);
        s.users = users.get(i.wrapping_sub(1)).map_or(0, |(_, n)| *n);
    }
    let mut result = build(samples, &endpoints, scenario, String::new(), "Locust");
    // The run's span as Locust timed it (the samples only know their second).
    let first = entries
        .iter()
        .map(|e| e.start_time)
        .fold(f64::MAX, f64::min);
    let last = entries
        .iter()
        .filter_map(|e| e.last_request_timestamp)
        .fold(first, f64::max);
    let at = |t: f64| {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(t.max(0.0));
        humantime::format_rfc3339_millis(when).to_string()
    };
    result.started_at = at(first);
    result.ended_at = at(last);
    result.duration_s = last - first;
    result.scenario.duration_s = result.duration_s;
    result.refresh();
    for interval in &mut result.series {
        for e in &mut interval.endpoints {
            e.latency = Default::default();
        }
    }
    result.scenario.description = "imported from Locust's statistics: response times \
        for the whole run only (none per second), no time to first byte"
        .into();
    let untimed: u64 = entries.iter().map(|e| e.num_none_requests).sum();
    if untimed > 0 {
        let _ = write!(
            result.scenario.description,
            "; {untimed} requests Locust logged without a response time are left out"
        );
    }
    Ok(result)
}

/// The samples of one endpoint: its response times dealt out in the seconds Locust
/// counted its requests in; the first requests of each second counted as its failures.
fn entry_samples(
    endpoint: usize,
    e: &Entry,
    reasons: Vec<(String, u64)>,
) -> Result<Vec<Sample>, String> {
    let timed: u64 = e.response_times.values().sum();
    if timed + e.num_none_requests != e.num_requests {
        return Err(format!(
            "{:?}: {} response times and {} without one, but {} requests",
            e.name, timed, e.num_none_requests, e.num_requests
        ));
    }
    let mut times = Vec::with_capacity(e.response_times.len());
    for (ms, n) in &e.response_times {
        let ms: f64 = ms
            .parse()
            .map_err(|_| format!("{:?}: response time {ms:?} is not a number", e.name))?;
        times.push(((ms * 1000.0).round() as u64, *n));
    }
    let mut times = times
        .into_iter()
        .flat_map(|(us, n)| (0..n).map(move |_| us));
    let mut reasons = reasons
        .into_iter()
        .flat_map(|(reason, n)| (0..n).map(move |_| reason.clone()));
    let mut seconds: Vec<(u64, u64)> = Vec::new();
    for (t, n) in &e.num_reqs_per_sec {
        let t: u64 = t
            .parse()
            .map_err(|_| format!("{:?}: second {t:?} is not a number", e.name))?;
        seconds.push((t, *n));
    }
    seconds.sort_unstable();
    // Locust counts every request in a second: should a count be missing, the rest go
    // in the last second.
    let counted: u64 = seconds.iter().map(|(_, n)| n).sum();
    if counted < e.num_requests {
        let last = seconds.last().map_or(e.start_time as u64, |(t, _)| *t);
        seconds.push((last, e.num_requests - counted));
    }
    let mut failures_left = e.num_failures;
    let mut samples = Vec::with_capacity(timed as usize);
    for (t, n) in seconds {
        let failed_here = e
            .num_fail_per_sec
            .get(&t.to_string())
            .copied()
            .unwrap_or(0)
            .min(n)
            .min(failures_left);
        for k in 0..n {
            // Requests Locust logged without a response time (its async ones) are left
            // out: a made-up time would skew the percentiles.
            let Some(elapsed_us) = times.next() else {
                break;
            };
            let failed = k < failed_here;
            samples.push(Sample {
                start_us: t * 1_000_000,
                elapsed_us,
                endpoint,
                status: None,
                failure: failed.then(|| failure(reasons.next())),
                ttfb_us: None,
                connect_us: None,
                users: 0,
            });
        }
        failures_left -= failed_here;
    }
    // Failures Locust counted outside its per-second figures: the last requests.
    for s in samples.iter_mut().rev().take(failures_left as usize) {
        s.failure = Some(failure(reasons.next()));
    }
    Ok(samples)
}

/// A failure as Locust's failures CSV gave its reason, read as perfgate names its own
/// ("HTTP 503", "connection refused") whichever Locust client saw it.
fn failure(reason: Option<String>) -> Failure {
    let Some(reason) = reason else {
        return Failure::Expect("failed (reason not in Locust's output)".into());
    };
    // FastHttpUser: "LocustBadStatusCode(code=503)"; HttpUser: "HTTPError('503 Server
    // Error: ...')".
    let code = reason
        .strip_prefix("LocustBadStatusCode(code=")
        .or_else(|| reason.strip_prefix("HTTPError('"))
        .and_then(|rest| rest.get(..3))
        .and_then(|digits| digits.parse::<u16>().ok());
    if let Some(code @ 100..=599) = code {
        return Failure::Status(code);
    }
    let lower = reason.to_ascii_lowercase();
    if lower.contains("connection refused") || lower.contains("connectionrefused") {
        Failure::Refused
    } else if lower.contains("connection reset") || lower.contains("connectionreset") {
        Failure::Reset
    } else if lower.contains("timed out") || lower.contains("timeout") {
        Failure::Timeout
    } else {
        // CatchResponseError('...') of a script's own check, among others.
        Failure::Expect(reason)
    }
}

/// `NAME_KIND.csv` beside `NAME.json`, as `--csv NAME --json-file NAME` write them, if
/// it is there.
fn beside(json: &Path, kind: &str) -> Option<PathBuf> {
    let stem = json.file_stem()?.to_str()?;
    Some(json.with_file_name(format!("{stem}_{kind}.csv"))).filter(|p| p.exists())
}

/// (epoch second, users) from Locust's stats history CSV (its `Aggregated` rows).
fn read_users(path: &Path) -> Result<Vec<(u64, u64)>, String> {
    let name = path.display();
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{name}: {e}"))?
        .clone();
    let column = |wanted: &str| {
        headers
            .iter()
            .position(|h| h == wanted)
            .ok_or_else(|| format!("{name}:1: not Locust's stats history: no `{wanted}` column"))
    };
    let (at, users, entry) = (column("Timestamp")?, column("User Count")?, column("Name")?);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{name}: {e}"))?;
        if record.get(entry) != Some("Aggregated") {
            continue;
        }
        let number = |i: usize| record.get(i).and_then(|v| v.trim().parse::<u64>().ok());
        if let (Some(t), Some(n)) = (number(at), number(users)) {
            out.push((t, n));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// (method, name) → (reason, occurrences).
type Reasons = BTreeMap<(String, String), Vec<(String, u64)>>;

/// Locust's failures CSV (`Method,Name,Error,Occurrences`).
fn read_failures(path: &Path) -> Result<Reasons, String> {
    let name = path.display();
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let mut out = Reasons::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{name}: {e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").trim().to_string();
        let n = field(3).parse::<u64>().map_err(|_| {
            format!(
                "{name}:{line}: occurrences {:?} is not a whole number (Locust's failures CSV \
                 has Method,Name,Error,Occurrences)",
                field(3)
            )
        })?;
        out.entry((field(0), field(1)))
            .or_default()
            .push((field(2), n));
    }
    Ok(out)
}
