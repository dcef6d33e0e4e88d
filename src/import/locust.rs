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

use super::{finish, Folded};
use crate::metrics::{Collector, Failure, Recorder, RunResult};

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
    #[serde(default)]
    total_content_length: u64,
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
    let first = entries
        .iter()
        .map(|e| e.start_time)
        .fold(f64::MAX, f64::min);
    let last = entries
        .iter()
        .filter_map(|e| e.last_request_timestamp)
        .fold(first, f64::max);
    // Seconds are numbered from the run's first (Locust counts in epoch seconds).
    let t0 = first as u64;
    let mut seconds = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let key = (endpoints[i].1.clone(), e.name.clone());
        let reasons = reasons.remove(&key).unwrap_or_default();
        fold_entry(i, e, reasons, t0, endpoints.len(), &mut seconds)
            .map_err(|what| format!("{name}: {what}"))?;
    }
    // Each second gets the users of the last count at or before it.
    let mut peak_users = 0;
    for (t, rec) in &mut seconds {
        let i = users.partition_point(|(at, _)| *at <= t0 + *t);
        rec.users = users.get(i.wrapping_sub(1)).map_or(0, |(_, n)| *n);
        peak_users = peak_users.max(rec.users);
    }
    let folded = Folded {
        first_us: (first * 1e6) as u64,
        last_us: (last * 1e6) as u64,
        peak_users,
    };
    // Locust's statistics are small (a histogram an endpoint, counts a second): folded
    // whole, not streamed.
    let mut collector = Collector::new(&endpoints, &[], 1);
    for (t, rec) in seconds {
        collector.add(t, rec);
    }
    let mut result = finish(collector, folded, scenario, String::new(), "Locust")?;
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

/// Adds one endpoint to `seconds`: its requests and failures in the seconds Locust
/// counted them in, failure reasons in the order the failures CSV lists them, and its
/// response times (Locust's buckets, whole-run only) all in its last second, which the
/// per-second series then leaves out. Counts, not samples: memory stays that of the
/// histograms however long the run was.
fn fold_entry(
    endpoint: usize,
    e: &Entry,
    reasons: Vec<(String, u64)>,
    t0: u64,
    endpoints: usize,
    seconds: &mut BTreeMap<u64, Recorder>,
) -> Result<(), String> {
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
    let mut per_second: Vec<(u64, u64)> = Vec::new();
    for (t, n) in &e.num_reqs_per_sec {
        let t: u64 = t
            .parse()
            .map_err(|_| format!("{:?}: second {t:?} is not a number", e.name))?;
        per_second.push((t.saturating_sub(t0), *n));
    }
    per_second.sort_unstable();
    // Locust counts every request in a second: should a count be missing, the rest go
    // in the last second.
    let counted: u64 = per_second.iter().map(|(_, n)| n).sum();
    if counted < timed {
        let last = per_second.last().map_or(0, |(t, _)| *t);
        per_second.push((last, timed - counted));
    }
    let mut reasons: Vec<(Failure, u64)> = reasons
        .into_iter()
        .map(|(reason, n)| (failure(Some(reason)), n))
        .collect();
    // Requests Locust logged without a response time (its async ones) are left out:
    // a made-up time would skew the percentiles.
    let mut requests_left = timed;
    let mut failures_left = e.num_failures.min(timed);
    let mut last = 0;
    for (t, n) in per_second {
        let n = n.min(requests_left);
        if n == 0 {
            continue;
        }
        let failed = e
            .num_fail_per_sec
            .get(&(t0 + t).to_string())
            .copied()
            .unwrap_or(0)
            .min(n)
            .min(failures_left);
        let rec = seconds
            .entry(t)
            .or_insert_with(|| Recorder::new(endpoints, 0));
        rec.endpoints[endpoint].requests += n;
        add_failures(rec, endpoint, failed, &mut reasons);
        requests_left -= n;
        failures_left -= failed;
        last = t;
    }
    // Failures Locust counted outside its per-second figures, the body bytes and the
    // response times go in the last second.
    if let Some(rec) = seconds.get_mut(&last) {
        add_failures(rec, endpoint, failures_left, &mut reasons);
        let whole_run = &mut rec.endpoints[endpoint];
        whole_run.body_bytes += e.total_content_length;
        for (us, n) in times {
            whole_run.latency.record_n_us(us, n);
        }
    }
    Ok(())
}

/// Counts `n` failures of `endpoint` in `rec`, their reasons taken in order from
/// `reasons` (what Locust's failures CSV gave) while it lasts.
fn add_failures(rec: &mut Recorder, endpoint: usize, n: u64, reasons: &mut Vec<(Failure, u64)>) {
    let e = &mut rec.endpoints[endpoint];
    let mut left = n;
    while left > 0 {
        let Some((reason, available)) = reasons.first_mut() else {
            e.count_failures(failure(None), left);
            return;
        };
        let k = left.min(*available);
        if k > 0 {
            e.count_failures(reason.clone(), k);
        }
        *available -= k;
        left -= k;
        if *available == 0 {
            reasons.remove(0);
        }
    }
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
