//! JMeter's JTL in CSV with a header row (`jmeter.save.saveservice.print_field_names`,
//! the default since JMeter 2.13): `timeStamp` (ms since the epoch, the sample's start),
//! `elapsed` (ms), `label` (the endpoint), `success`; read when present: `responseCode`,
//! `responseMessage`, `failureMessage`, `Latency` (time to first byte, ms), `Connect`
//! (ms), `allThreads` (active users), `URL` (the target). Its times are whole
//! milliseconds.

use std::path::Path;

use super::{origin, Folder, Sample};
use crate::metrics::{Failure, RunResult};

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
    let mut folder = Folder::new();
    let mut target = String::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{name}: {e}"))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        // In µs; a number of ms too large for that is refused (it overflowed).
        let number = |i: usize, what: &str| {
            field(Some(i))
                .parse::<u64>()
                .ok()
                .and_then(|ms| ms.checked_mul(1000))
                .ok_or_else(|| {
                    format!(
                        "{name}:{line}: {what} {:?} is not a whole number of milliseconds",
                        field(Some(i))
                    )
                })
        };
        let start_us = number(at, "timeStamp")?;
        let elapsed_us = number(elapsed, "elapsed")?;
        let ok = match field(Some(success)) {
            "true" => true,
            "false" => false,
            other => {
                return Err(format!(
                    "{name}:{line}: success {other:?} is not true or false"
                ))
            }
        };
        let endpoint = folder.endpoint(field(Some(label)), "");
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
        let us = |i: Option<usize>| {
            field(i)
                .parse::<u64>()
                .ok()
                .and_then(|ms| ms.checked_mul(1000))
        };
        folder.push(Sample {
            start_us,
            elapsed_us,
            endpoint,
            status,
            failure,
            ttfb_us: us(latency),
            connect_us: us(connect).filter(|us| *us > 0),
            users: field(threads).parse().unwrap_or(0),
        });
    }
    if folder.is_empty() {
        return Err(format!("{name}: no samples"));
    }
    folder.finish(scenario, target, "JMeter")
}
