//! Importers: another load tool's per-request log turned into a `RunResult`, so the gate,
//! comparisons, history and reports work on it exactly as on a run of perfgate's own.
//! Every request is a sample, so the histograms are as exact as the log's resolution:
//! JMeter's JTL (`jmeter`) and k6's JSON output (`k6`). Locust keeps no such log: its
//! JSON statistics (`locust`) give whole-run histograms and per-second counts.

mod jmeter;
mod k6;
mod locust;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::metrics::{
    Collector, Failure, Generator, GitInfo, Recorder, RunResult, ScenarioInfo, StopReason,
};

pub use jmeter::jmeter;
pub use k6::k6;
pub use locust::locust;

/// One request of the log, its times in microseconds.
struct Sample {
    /// Since the epoch, when it was sent.
    start_us: u64,
    elapsed_us: u64,
    endpoint: usize,
    /// 0: no HTTP response.
    status: u16,
    failure: Option<Failure>,
    ttfb_us: Option<u64>,
    connect_us: Option<u64>,
    users: u64,
}

/// Reads a log of any kind, told apart by its first character: k6's JSON lines open
/// with `{`, Locust's JSON statistics with `[`, a JTL with its CSV header.
pub fn read(path: &Path, scenario: &str) -> Result<RunResult, String> {
    use std::io::Read;
    let mut first = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut first))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if first[..n].iter().all(u8::is_ascii_whitespace) {
        return Err(format!("{}: the file is empty", path.display()));
    }
    let head = String::from_utf8_lossy(&first[..n]);
    if ["Type,Name,", "Method,Name,Error", "Timestamp,User Count"]
        .iter()
        .any(|h| head.starts_with(h))
    {
        return Err(format!(
            "{}: this is one of Locust's --csv files, which hold percentiles, not response \
             times; run Locust with --json-file NAME (beside --csv NAME) and import NAME.json",
            path.display()
        ));
    }
    match first[..n].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => k6(path, scenario),
        Some(b'[') => locust(path, scenario),
        _ => jmeter(path, scenario),
    }
}

/// "http://host:port" of a sample's URL, or "" when it has none.
fn origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// What a log holds once folded second by second, as a run's workers would have handed
/// it over: one recorder a second (numbered from the first), the span in microseconds
/// since the epoch, and the most users seen.
struct Folded {
    seconds: BTreeMap<u64, Recorder>,
    first_us: u64,
    last_us: u64,
    peak_users: u64,
}

/// A result of the samples of a per-request log.
fn build(
    samples: Vec<Sample>,
    endpoints: &[(String, String)],
    scenario: &str,
    target: String,
    tool: &str,
) -> Result<RunResult, String> {
    let folded = fold(samples, endpoints.len());
    finish(folded, endpoints, scenario, target, tool)
}

fn fold(samples: Vec<Sample>, endpoints: usize) -> Folded {
    let first = samples.iter().map(|s| s.start_us).min().unwrap_or(0);
    let last = samples
        .iter()
        .map(|s| s.start_us.saturating_add(s.elapsed_us))
        .max()
        .unwrap_or(first);
    let mut seconds: BTreeMap<u64, Recorder> = BTreeMap::new();
    let mut peak_users = 0;
    for s in samples {
        let rec = seconds
            .entry((s.start_us - first) / 1_000_000)
            .or_insert_with(|| Recorder::new(endpoints, 0));
        rec.users = rec.users.max(s.users);
        peak_users = peak_users.max(s.users);
        rec.status(s.endpoint, s.status);
        if let Some(us) = s.connect_us {
            rec.connected(s.endpoint, us);
        }
        match s.failure {
            Some(f) => rec.failure(s.endpoint, s.elapsed_us, f),
            None => match s.ttfb_us {
                Some(ttfb) => rec.success(s.endpoint, s.elapsed_us, ttfb),
                None => rec.answered(s.endpoint, s.elapsed_us),
            },
        }
    }
    Folded {
        seconds,
        first_us: first,
        last_us: last,
        peak_users,
    }
}

fn finish(
    folded: Folded,
    endpoints: &[(String, String)],
    scenario: &str,
    target: String,
    tool: &str,
) -> Result<RunResult, String> {
    let Folded {
        seconds,
        first_us: first,
        last_us: last,
        peak_users,
    } = folded;
    // RFC 3339 ends with year 9999 (a later time made the formatting panic: found by
    // the fuzzer).
    const YEAR_10000_US: u64 = 253_402_300_800_000_000;
    if last >= YEAR_10000_US {
        return Err(format!(
            "a time in the log is after the year 9999 ({last} µs since 1970): is it in the unit {tool} writes?"
        ));
    }
    let mut collector = Collector::new(endpoints, &[], 1);
    for (t, rec) in seconds {
        collector.add(t, rec);
    }
    let (endpoints, total, series, tasks) = collector.finish();
    let duration_s = (last - first) as f64 / 1e6;
    let started = SystemTime::UNIX_EPOCH + Duration::from_micros(first);
    let ended = SystemTime::UNIX_EPOCH + Duration::from_micros(last);
    let mut result = RunResult {
        schema_version: crate::metrics::SCHEMA_VERSION,
        tool: format!(
            "{tool} (imported by perfgate {})",
            env!("CARGO_PKG_VERSION")
        ),
        scenario: ScenarioInfo {
            name: scenario.to_string(),
            description: format!("imported from {tool}"),
            model: crate::metrics::LoadModel::Closed,
            users: peak_users,
            rate: None,
            duration_s,
            segment: None,
            shape: Vec::new(),
            changes: Vec::new(),
            run: None,
            merged: None,
        },
        environment: None,
        target,
        tls_insecure: false,
        git: GitInfo::default(),
        started_at: humantime::format_rfc3339_millis(started).to_string(),
        ended_at: humantime::format_rfc3339_millis(ended).to_string(),
        duration_s,
        stop: StopReason::Completed,
        stopped_segments: Default::default(),
        stopped_by: None,
        // Not measured: the other tool's load generator did not report on itself.
        generator: Generator::default(),
        total,
        endpoints,
        series,
        tasks,
        checks: Vec::new(),
    };
    result.refresh();
    Ok(result)
}
