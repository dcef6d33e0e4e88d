//! k6's JSON output (`k6 run --out json=FILE`).

use std::path::Path;
use std::time::SystemTime;

use super::{origin, Folder, Sample};
use crate::metrics::{Failure, RunResult};

/// Reads k6's JSON output (`k6 run --out json=FILE`, one JSON object a line): each
/// `http_req_duration` point is a request, named by its `name` tag (the URL unless the
/// script names it), failed when `expected_response` is false; `http_req_receiving`
/// gives its time to first byte (the duration less the receiving), `http_req_connecting`
/// its connect time, `vus` the users (the last count read before the request's points).
/// Times are to the microsecond. Read as a stream: a request is folded once its
/// `http_req_receiving` point has come (the last k6 writes for it).
pub fn k6(path: &Path, scenario: &str) -> Result<RunResult, String> {
    use std::io::BufRead;
    let name = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let mut folder = Folder::new();
    // The request each (time, name) pair stands for, until its last point has come.
    let mut pending: std::collections::HashMap<(String, String), Sample> = Default::default();
    let mut target = String::new();
    // The last `vus` count read: k6 writes one a second, in time order with the requests.
    let mut users = 0;
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
        let name = endpoint_name(tag("name"), tag("url"));
        let key = (time.to_string(), name.to_string());
        let us = (value * 1000.0).round().max(0.0) as u64;
        match v["metric"].as_str().unwrap_or_default() {
            "vus" => users = value as u64,
            "http_req_duration" => {
                let start_us = rfc3339_us(time)
                    .ok_or_else(|| at(&format!("time {time:?} is not RFC 3339")))?;
                let endpoint = folder.endpoint(name, tag("method"));
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
                let sample = Sample {
                    start_us,
                    elapsed_us: us,
                    endpoint,
                    status,
                    failure,
                    ttfb_us: None,
                    connect_us: None,
                    users,
                };
                // A request whose last point never came is folded as it is.
                if let Some(earlier) = pending.insert(key, sample) {
                    folder.push(earlier);
                }
                if pending.len() > MAX_PENDING {
                    pending.drain().for_each(|(_, s)| folder.push(s));
                }
            }
            "http_req_connecting" if us > 0 => {
                if let Some(s) = pending.get_mut(&key) {
                    s.connect_us = Some(us);
                }
            }
            "http_req_receiving" => {
                if let Some(mut s) = pending.remove(&key) {
                    s.ttfb_us = Some(s.elapsed_us.saturating_sub(us));
                    folder.push(s);
                }
            }
            _ => {}
        }
    }
    pending.into_values().for_each(|s| folder.push(s));
    if folder.is_empty() {
        return Err(format!(
            "{name}: no http_req_duration points (k6 run --out json=FILE writes them)"
        ));
    }
    folder.finish(scenario, target, "k6")
}

/// Requests waiting for their last point: k6 writes a request's points together, so
/// more than this many open at once means those points are not coming.
const MAX_PENDING: usize = 100_000;

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

/// An endpoint's name: the script's own `name` tag, or, where k6 names a request by its
/// URL (its default), the URL's path, as perfgate names its own endpoints (the host is
/// the result's target), so `[endpoints."/health"]` judges an imported run too.
fn endpoint_name<'a>(name: &'a str, url: &str) -> &'a str {
    if name != url {
        return name;
    }
    let origin = super::origin(url);
    match name.strip_prefix(origin.as_str()) {
        Some("") => "/",
        Some(path) if !origin.is_empty() => path,
        _ => name,
    }
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

    #[test]
    fn requests_named_by_their_url_are_named_by_its_path() {
        let url = "http://127.0.0.1:8000/api/x?id=1";
        assert_eq!(endpoint_name(url, url), "/api/x?id=1");
        let root = "https://example.test";
        assert_eq!(endpoint_name(root, root), "/");
        assert_eq!(
            endpoint_name("login", url),
            "login",
            "the script's own name"
        );
        assert_eq!(endpoint_name("not a url", "not a url"), "not a url");
    }
}
