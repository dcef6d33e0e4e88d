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
//!
//! k6's JSON output: see `k6`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::metrics::{
    Collector, Failure, Generator, GitInfo, Recorder, RunResult, ScenarioInfo, StopReason,
};

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

/// Reads a log of either kind, told apart by its first character: k6's JSON lines open
/// with `{`, a JTL with its CSV header.
pub fn read(path: &Path, scenario: &str) -> Result<RunResult, String> {
    use std::io::Read;
    let mut first = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut first))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match first[..n].iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => k6(path, scenario),
        _ => jmeter(path, scenario),
    }
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
        let us = |i: Option<usize>| field(i).parse::<u64>().ok().map(|ms| ms * 1000);
        samples.push(Sample {
            start_us: start_ms * 1000,
            elapsed_us: elapsed_ms * 1000,
            endpoint,
            status,
            failure,
            ttfb_us: us(latency),
            connect_us: us(connect).filter(|us| *us > 0),
            users: field(threads).parse().unwrap_or(0),
        });
    }
    if samples.is_empty() {
        return Err(format!("{name}: no samples"));
    }
    Ok(build(samples, &endpoints, scenario, target, "JMeter"))
}

/// Reads k6's JSON output (`k6 run --out json=FILE`, one JSON object a line): each
/// `http_req_duration` point is a request, named by its `name` tag (the URL unless the
/// script names it), failed when `expected_response` is false; `http_req_receiving`
/// gives its time to first byte (the duration less the receiving), `http_req_connecting`
/// its connect time, `vus` the users. Times are to the microsecond.
pub fn k6(path: &Path, scenario: &str) -> Result<RunResult, String> {
    use std::io::BufRead;
    let name = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let mut endpoints: Vec<(String, String)> = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    // The request each (time, name) pair stands for, until its last point has come.
    let mut pending: std::collections::HashMap<(String, String), usize> = Default::default();
    let mut target = String::new();
    // (time, VUs) of the `vus` points: k6 writes them once a second, not per request.
    let mut vus: Vec<(u64, u64)> = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {name}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |what: &str| format!("{name}:{}: {what}", n + 1);
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| at(&format!("not k6 JSON output: {e}")))?;
        if v["type"] != "Point" {
            continue;
        }
        let data = &v["data"];
        let value = data["value"]
            .as_f64()
            .ok_or_else(|| at("a point without a value"))?;
        let time = data["time"].as_str().unwrap_or_default();
        let tag = |key: &str| data["tags"][key].as_str().unwrap_or_default();
        let key = (time.to_string(), tag("name").to_string());
        let us = (value * 1000.0).round().max(0.0) as u64;
        match v["metric"].as_str().unwrap_or_default() {
            "vus" => {
                if let Some(t) = rfc3339_us(time) {
                    vus.push((t, value as u64));
                }
            }
            "http_req_duration" => {
                let start_us = rfc3339_us(time)
                    .ok_or_else(|| at(&format!("time {time:?} is not RFC 3339")))?;
                let endpoint = match endpoints.iter().position(|(e, _)| e == tag("name")) {
                    Some(i) => i,
                    None => {
                        endpoints.push((tag("name").to_string(), tag("method").to_string()));
                        endpoints.len() - 1
                    }
                };
                let status = tag("status").parse::<u16>().unwrap_or(0);
                let failed = match tag("expected_response") {
                    "" => status == 0 || status >= 400,
                    expected => expected == "false",
                };
                let said = || match tag("error") {
                    "" => "no response".to_string(),
                    e => e.to_string(),
                };
                let failure = failed.then(|| match status {
                    0 => Failure::Connect(said()),
                    400.. => Failure::Status(status),
                    _ => Failure::Expect(format!("HTTP {status} was not an expected response")),
                });
                if target.is_empty() {
                    target = origin(tag("url"));
                }
                pending.insert(key, samples.len());
                samples.push(Sample {
                    start_us,
                    elapsed_us: us,
                    endpoint,
                    status,
                    failure,
                    ttfb_us: None,
                    connect_us: None,
                    users: 0,
                });
            }
            "http_req_connecting" if us > 0 => {
                if let Some(&i) = pending.get(&key) {
                    samples[i].connect_us = Some(us);
                }
            }
            "http_req_receiving" => {
                if let Some(i) = pending.remove(&key) {
                    samples[i].ttfb_us = Some(samples[i].elapsed_us.saturating_sub(us));
                }
            }
            _ => {}
        }
    }
    if samples.is_empty() {
        return Err(format!(
            "{name}: no http_req_duration points (k6 run --out json=FILE writes them)"
        ));
    }
    // Each request gets the VUs of the last count before it (the first, before any).
    vus.sort_unstable();
    for s in &mut samples {
        let i = vus.partition_point(|(t, _)| *t <= s.start_us);
        s.users = vus.get(i.saturating_sub(1)).map_or(0, |(_, n)| *n);
    }
    Ok(build(samples, &endpoints, scenario, target, "k6"))
}

/// Microseconds since the epoch of an RFC 3339 time with any offset, as k6 writes them
/// ("2025-06-02T18:44:55.8795741+02:00").
fn rfc3339_us(time: &str) -> Option<u64> {
    let (base, offset_s) = match time.strip_suffix('Z') {
        Some(base) => (base, 0i64),
        None => {
            let i = time.len().checked_sub(6)?;
            let (base, offset) = time.split_at(i);
            let sign = match offset.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = offset[1..].split_once(':')?;
            (
                base,
                sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60),
            )
        }
    };
    let utc = humantime::parse_rfc3339_weak(base).ok()?;
    let us = utc.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_micros() as i64;
    u64::try_from(us - offset_s * 1_000_000).ok()
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
    let first = samples.iter().map(|s| s.start_us).min().unwrap_or(0);
    let last = samples
        .iter()
        .map(|s| s.start_us + s.elapsed_us)
        .max()
        .unwrap_or(first);
    let mut seconds: BTreeMap<u64, Recorder> = BTreeMap::new();
    let mut peak_users = 0;
    for s in samples {
        let rec = seconds
            .entry((s.start_us - first) / 1_000_000)
            .or_insert_with(|| Recorder::new(endpoints.len(), 0));
        rec.users = rec.users.max(s.users);
        peak_users = peak_users.max(s.users);
        rec.status(s.endpoint, s.status);
        if let Some(us) = s.connect_us {
            rec.connected(s.endpoint, us);
        }
        match s.failure {
            Some(f) => rec.failure(s.endpoint, s.elapsed_us, f),
            None => rec.success(s.endpoint, s.elapsed_us, s.ttfb_us.unwrap_or(s.elapsed_us)),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k6_times_read_with_any_offset() {
        assert_eq!(
            rfc3339_us("2025-06-02T18:44:55.8795741+02:00"),
            Some(1_748_882_695_879_574)
        );
        assert_eq!(
            rfc3339_us("2020-03-22T17:18:13.464932-07:00"),
            Some(1_584_922_693_464_932)
        );
        assert_eq!(
            rfc3339_us("2022-10-11T03:29:03.91100717Z"),
            rfc3339_us("2022-10-11T05:29:03.91100717+02:00")
        );
        assert_eq!(rfc3339_us("yesterday"), None);
    }
}
