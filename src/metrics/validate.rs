//! A saved result is checked before anything is judged on it: a corrupt or forged file
//! (a baseline anyone can commit) must never pass or fail a build. Duplicate keys, a
//! histogram blob whose declared length is not its length, counts that disagree with
//! their histograms, totals that are not the sum of their endpoints or of their seconds,
//! negative or non-finite numbers: each is refused, saying what disagrees.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{RunResult, Stats};

/// Refuses JSON in which an object names a key twice (serde_json keeps the last silently).
pub fn no_duplicate_keys(text: &str) -> Result<(), String> {
    let mut d = serde_json::Deserializer::from_str(text);
    d.deserialize_any(Unique(String::new()))
        .map_err(|e| e.to_string())
}

/// Visits a JSON value; `.0` is where it is, for the message.
struct Unique(String);

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "key {key:?} appears twice in {}",
                    if self.0.is_empty() {
                        "the result"
                    } else {
                        &self.0
                    }
                )));
            }
            map.next_value_seed(Unique(format!("{}/{key}", self.0)))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Unique(format!("{}/{i}", self.0)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

impl<'de> de::DeserializeSeed<'de> for Unique {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// The counts of a parsed result agree with each other.
pub fn consistent(r: &RunResult) -> Result<(), String> {
    for (what, v) in [
        ("duration_s", r.duration_s),
        ("scenario.duration_s", r.scenario.duration_s),
        ("generator.cpu_seconds", r.generator.cpu_seconds),
        ("generator.wait_seconds", r.generator.wait_seconds),
        ("generator.schedule_lag_ms", r.generator.schedule_lag_ms),
        (
            "generator.timer_delay_p99_ms",
            r.generator.timer_delay_p99_ms,
        ),
    ]
    .into_iter()
    .chain(r.scenario.rate.map(|v| ("scenario.rate", v)))
    {
        if !v.is_finite() || v < 0.0 {
            return Err(format!("{what} is {v}: it must be a number of 0 or more"));
        }
    }
    times(r)?;
    if let Some(t) = r.tasks.iter().find(|t| t.code_failures > t.iterations) {
        return Err(format!(
            "task {}.{}: {} code failures in {} iterations",
            t.user, t.task, t.code_failures, t.iterations
        ));
    }
    for s in r.endpoints.iter().chain(std::iter::once(&r.total)) {
        stats(s)?;
    }
    // Tasks timed as a whole ("task:NAME") count requests their endpoints count too.
    let sum = |f: fn(&Stats) -> u64| {
        r.endpoints
            .iter()
            .filter(|e| !super::is_transaction(&e.name))
            .map(f)
            .fold(0u64, u64::saturating_add)
    };
    for (what, total, of_endpoints) in [
        ("requests", r.total.requests, sum(|s| s.requests)),
        ("failures", r.total.failures, sum(|s| s.failures)),
        ("interrupted", r.total.interrupted, sum(|s| s.interrupted)),
        (
            "latency samples",
            r.total.latency.count(),
            sum(|s| s.latency.count()),
        ),
    ] {
        if total != of_endpoints {
            return Err(format!(
                "the total's {what} ({total}) is not the sum of its endpoints' ({of_endpoints})"
            ));
        }
    }
    if !r.series.is_empty() {
        let (mut requests, mut failures) = (0u64, 0u64);
        for i in &r.series {
            for e in &i.endpoints {
                if e.latency.count() > e.requests {
                    return Err(format!(
                        "second {} of {}: {} latency samples for {} requests",
                        i.t,
                        e.name,
                        e.latency.count(),
                        e.requests
                    ));
                }
                if super::is_transaction(&e.name) {
                    continue;
                }
                requests = requests.saturating_add(e.requests);
                failures = failures.saturating_add(e.failures);
            }
        }
        if (requests, failures) != (r.total.requests, r.total.failures) {
            return Err(format!(
                "its seconds add up to {requests} requests and {failures} failures, its total says {} and {}",
                r.total.requests, r.total.failures
            ));
        }
    }
    Ok(())
}

/// When a result says it ran must be a time that can be: after 2000, not in the
/// future (10 minutes of clock skew allowed), ended after it started, and its duration
/// no longer than that span (a second or 1% of leeway).
fn times(r: &RunResult) -> Result<(), String> {
    use std::time::{Duration, SystemTime};
    let at = |what: &str, s: &str| {
        humantime::parse_rfc3339_weak(s).map_err(|_| {
            format!("{what} {s:?} is not a time (RFC 3339, e.g. 2026-12-01T10:00:00Z)")
        })
    };
    let (start, end) = (
        at("started_at", &r.started_at)?,
        at("ended_at", &r.ended_at)?,
    );
    let y2000 = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    if start < y2000 {
        return Err(format!("started_at {} is before 2000", r.started_at));
    }
    if end > SystemTime::now() + Duration::from_secs(600) {
        return Err(format!("ended_at {} is in the future", r.ended_at));
    }
    let Ok(span) = end.duration_since(start) else {
        return Err(format!(
            "ended_at {} is before started_at {}",
            r.ended_at, r.started_at
        ));
    };
    let span = span.as_secs_f64();
    if r.duration_s > span + (span * 0.01).max(1.0) {
        return Err(format!(
            "duration_s is {:e} s but the run lasted {span} s (from started_at to ended_at)",
            r.duration_s
        ));
    }
    Ok(())
}

fn stats(s: &Stats) -> Result<(), String> {
    let name = if s.name.is_empty() {
        "the total"
    } else {
        &s.name
    };
    let reasons = s
        .failure_reasons
        .values()
        .fold(0u64, |a, n| a.saturating_add(*n));
    let statuses = s
        .status_classes
        .values()
        .fold(0u64, |a, n| a.saturating_add(*n));
    let problem = if s.failures > s.requests {
        format!("{} failures in {} requests", s.failures, s.requests)
    } else if reasons != s.failures {
        format!(
            "failure reasons add up to {reasons}, failures are {}",
            s.failures
        )
    } else if s.latency.count() > s.requests {
        format!(
            "{} latency samples for {} requests",
            s.latency.count(),
            s.requests
        )
    } else if s.ttfb.count() > s.requests {
        format!(
            "{} time-to-first-byte samples for {} requests",
            s.ttfb.count(),
            s.requests
        )
    } else if statuses > s.requests {
        format!(
            "status classes add up to {statuses}, more than its {} requests",
            s.requests
        )
    } else {
        return Ok(());
    };
    Err(format!("{name}: {problem}"))
}
