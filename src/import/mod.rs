//! Importers: another load tool's per-request log turned into a `RunResult`, so the gate,
//! comparisons, history and reports work on it exactly as on a run of perfgate's own.
//! Every request is a sample, so the histograms are as exact as the log's resolution:
//! JMeter's JTL (`jmeter`) and k6's JSON output (`k6`). Locust keeps no such log: its
//! JSON statistics (`locust`) give whole-run histograms and per-second counts.

mod jmeter;
mod k6;
mod locust;

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::metrics::{
    Collector, Failure, Generator, GitInfo, Names, Recorder, RunResult, ScenarioInfo, StopReason,
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

/// How far out of time order a log's samples may come: a second is folded (its
/// histograms packed) once the log has moved this far past it, and a sample for a second
/// already folded is late: counted, said, and left out.
const WINDOW_S: u64 = 5;

/// Folds a log's samples second by second as they are read, as a run's workers hand
/// their seconds over: memory holds the window's seconds and the endpoints, not the
/// run's length (a two-hour JTL took 9.7 GB when every second stayed open to the end).
struct Folder {
    names: Arc<Names>,
    collector: Collector,
    /// The first samples, until the log has gone a window past the earliest: then the
    /// run's first second is known.
    early: Vec<Sample>,
    /// The earliest start among `early`.
    earliest_us: u64,
    origin_us: Option<u64>,
    open: BTreeMap<u64, Recorder>,
    /// Seconds before this one are folded.
    folded_before: u64,
    last_us: u64,
    peak_users: u64,
    samples: u64,
    late: u64,
}

impl Folder {
    fn new() -> Folder {
        let names = Arc::new(Names::default());
        Folder {
            collector: Collector::new(&[], &[], 1).with_names(names.clone()),
            names,
            early: Vec::new(),
            earliest_us: u64::MAX,
            origin_us: None,
            open: BTreeMap::new(),
            folded_before: 0,
            last_us: 0,
            peak_users: 0,
            samples: 0,
            late: 0,
        }
    }

    /// The index of the endpoint called `name` (new ones sent with `method`).
    fn endpoint(&self, name: &str, method: &str) -> usize {
        self.names.endpoint(name, method)
    }

    fn is_empty(&self) -> bool {
        self.samples == 0
    }

    fn push(&mut self, s: Sample) {
        self.samples += 1;
        if self.samples % (1 << 20) == 0 && std::io::stderr().is_terminal() {
            eprint!(
                "\rread {} samples, {} seconds folded",
                self.samples, self.folded_before
            );
        }
        match self.origin_us {
            Some(_) => self.place(s),
            None => {
                // Past the window from the earliest so far (this one not counted).
                let past_window =
                    s.start_us >= self.earliest_us.saturating_add(WINDOW_S * 1_000_000);
                self.earliest_us = self.earliest_us.min(s.start_us);
                self.early.push(s);
                if past_window {
                    self.settle_origin();
                }
            }
        }
    }

    /// The run starts at the earliest of the first samples; they are placed.
    fn settle_origin(&mut self) {
        self.origin_us = self.early.iter().map(|e| e.start_us).min();
        for s in std::mem::take(&mut self.early) {
            self.place(s);
        }
    }

    fn place(&mut self, s: Sample) {
        let origin = self.origin_us.unwrap_or(0);
        let Some(t) = s.start_us.checked_sub(origin).map(|us| us / 1_000_000) else {
            self.late += 1;
            return;
        };
        if t < self.folded_before {
            self.late += 1;
            return;
        }
        self.last_us = self.last_us.max(s.start_us.saturating_add(s.elapsed_us));
        self.peak_users = self.peak_users.max(s.users);
        let n = s.endpoint + 1;
        let rec = self.open.entry(t).or_insert_with(|| Recorder::new(n, 0));
        if rec.endpoints.len() < n {
            rec.endpoints.resize_with(n, Default::default);
        }
        rec.users = rec.users.max(s.users);
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
        self.fold_before(t.saturating_sub(WINDOW_S));
    }

    /// Hands every open second before `t` to the collector, in order.
    fn fold_before(&mut self, t: u64) {
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= t {
                break;
            }
            let (second, rec) = entry.remove_entry();
            self.collector.add(second, rec);
            self.folded_before = second + 1;
        }
    }

    /// The result of every sample pushed; the late ones said on stderr.
    fn finish(mut self, scenario: &str, target: String, tool: &str) -> Result<RunResult, String> {
        if self.origin_us.is_none() {
            self.settle_origin();
        }
        self.fold_before(u64::MAX);
        if self.samples >= 1 << 20 && std::io::stderr().is_terminal() {
            eprintln!();
        }
        if self.late > 0 {
            errln!(
                "import: {} of {} samples came more than {WINDOW_S} s out of time order and were left out",
                self.late,
                self.samples
            );
        }
        let folded = Folded {
            first_us: self.origin_us.unwrap_or(0),
            last_us: self.last_us,
            peak_users: self.peak_users,
        };
        finish(self.collector, folded, scenario, target, tool)
    }
}

/// The span of what was folded, in microseconds since the epoch, and the most users.
struct Folded {
    first_us: u64,
    last_us: u64,
    peak_users: u64,
}

fn finish(
    collector: Collector,
    folded: Folded,
    scenario: &str,
    target: String,
    tool: &str,
) -> Result<RunResult, String> {
    let Folded {
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
