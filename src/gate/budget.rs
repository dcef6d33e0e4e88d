//! The budget grammar: parsing budget tables into typed objectives.
//!
//! ```text
//! budget     = { entry }
//! entry      = metric "=" limit | metric "=" "{" options "}"
//! metric     = "avg" | "min" | "max" | "p" NUMBER          (latency, e.g. p95, p99.9)
//!            | "error_rate" | "min_rps" | "rps" | "min_requests" | "requests" | "dropped"
//! limit      = DURATION ("150ms", "1s")                    for latency metrics
//!            | PERCENT  ("0.1%")                           for error_rate
//!            | NUMBER                                      for rps, requests, dropped
//! options    = ("max" | "min") "=" limit                   (default: max; min_* metrics: min)
//!              [ "window" = DURATION "in_at_least" = PERCENT [ "after" = DURATION ] ]
//!              [ "abort_on_fail" = BOOL [ "grace" = DURATION ] ]
//! ```
//!
//! A latency or error-rate limit is an upper bound; `min_rps` and `min_requests` are lower
//! bounds; `dropped` is an upper bound. Table keys that are not metrics (`description`,
//! `endpoints`) are read by the caller.

use serde::Serialize;
use toml::Spanned;

use crate::config::{percent, ConfigError, Dur, RawBudget, Source};
use crate::metrics::{Metric, Op, Scope};

/// "p99 < limit in at least 95% of 10-second windows, after a 30 s warm-up".
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    pub seconds: u64,
    /// Fraction of windows that must hold (0.95).
    pub at_least: f64,
    pub after_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Objective {
    pub metric: Metric,
    pub op: Op,
    /// In ms for latency, a fraction for error_rate, per second for rps, else a count.
    pub limit: f64,
    pub scope: Scope,
    pub window: Option<Window>,
    /// Stop the run early when this fails, after `grace` seconds.
    pub abort_after_s: Option<f64>,
    /// Where it came from: "production", "endpoint SLO", "MAX_P99_LATENCY_MS", ...
    pub origin: String,
}

/// Parses every metric key of `table`; other keys must be in `allowed_extra`.
pub fn parse_table(
    table: &RawBudget,
    scope: &Scope,
    origin: &str,
    allowed_extra: &[&str],
    source: &Source,
) -> Result<Vec<Objective>, ConfigError> {
    let mut out = Vec::new();
    for (key, value) in table {
        if allowed_extra.contains(&key.as_str()) {
            continue;
        }
        let (metric, op) = Metric::parse(key).ok_or_else(|| {
            source.error(value.span(), format!(
                "unknown budget metric {key:?}: use avg, min, max, p50 … p99.99, error_rate, min_rps, min_requests, dropped, ttfb_p95 (time to first byte), connect_p99 (connect time), avg_body (response size) or checks"
            ))
        })?;
        out.push(parse_objective(metric, op, value, scope, origin, source)?);
    }
    Ok(out)
}

fn parse_objective(
    metric: Metric,
    default_op: Op,
    value: &Spanned<toml::Value>,
    scope: &Scope,
    origin: &str,
    source: &Source,
) -> Result<Objective, ConfigError> {
    let err = |msg: String| source.error(value.span(), msg);
    let mut o = Objective {
        metric,
        op: default_op,
        limit: 0.0,
        scope: scope.clone(),
        window: None,
        abort_after_s: None,
        origin: origin.to_string(),
    };
    match value.get_ref() {
        toml::Value::Table(t) => {
            let mut limit = None;
            let (mut window, mut in_at_least, mut after, mut abort, mut grace) =
                (None, None, None, false, None);
            for (k, v) in t {
                match k.as_str() {
                    "max" => limit = Some((Op::AtMost, v)),
                    "min" => limit = Some((Op::AtLeast, v)),
                    "window" => window = Some(dur(v).map_err(&err)?),
                    "in_at_least" => in_at_least = Some(percent(v).map_err(&err)?),
                    "after" => after = Some(dur(v).map_err(&err)?),
                    "abort_on_fail" => abort = v.as_bool().ok_or_else(|| err("abort_on_fail must be true or false".into()))?,
                    "grace" => grace = Some(dur(v).map_err(&err)?),
                    other if other.chars().all(|c| c.is_ascii_digit()) => {
                        return Err(err(format!("write a fractional percentile with quotes: \"{metric_key}.{other}\" = … (TOML reads {metric_key}.{other} as a table)", metric_key = key_of(metric))))
                    }
                    other => return Err(err(format!("unknown objective option {other:?}: use max, min, window, in_at_least, after, abort_on_fail, grace"))),
                }
            }
            let (op, v) =
                limit.ok_or_else(|| err(format!("{metric} needs a limit: max = … or min = …")))?;
            o.op = op;
            o.limit = parse_limit(metric, v).map_err(&err)?;
            if let Some(w) = window {
                if !metric.in_series() {
                    return Err(err(format!(
                        "{metric} is not kept second by second: a window judges latency, error_rate, min_rps and min_requests"
                    )));
                }
                if w.0.as_secs() == 0 {
                    return Err(err("window must be at least 1s".into()));
                }
                o.window = Some(Window {
                    seconds: w.0.as_secs(),
                    at_least: in_at_least.unwrap_or(1.0),
                    after_s: after.map_or(0.0, |a| a.secs()),
                });
            } else if in_at_least.is_some() || after.is_some() {
                return Err(err("in_at_least and after need a window = \"10s\"".into()));
            }
            if abort {
                o.abort_after_s = Some(grace.map_or(0.0, |g| g.secs()));
            }
        }
        v => o.limit = parse_limit(metric, v).map_err(err)?,
    }
    Ok(o)
}

fn key_of(metric: Metric) -> String {
    match metric {
        Metric::Percentile(p) => format!("p{p}"),
        Metric::Ttfb(p) => format!("ttfb_p{p}"),
        Metric::Connect(p) => format!("connect_p{p}"),
        Metric::Custom(name, p) => format!("{name}_p{p}"),
        other => other.to_string(),
    }
}

/// Parses a limit in the metric's unit.
pub fn parse_limit(metric: Metric, v: &toml::Value) -> Result<f64, String> {
    if metric.is_latency() {
        return Ok(dur(v)?.secs() * 1000.0);
    }
    match metric {
        Metric::ErrorRate | Metric::Checks => percent(v),
        Metric::BodySize => match v {
            toml::Value::String(s) => crate::config::Size::parse(s).map(|s| s.0 as f64),
            toml::Value::Integer(n) if *n >= 0 => Ok(*n as f64),
            _ => Err("avg_body wants a size, e.g. \"64KB\"".into()),
        },
        _ => match v {
            toml::Value::Integer(n) if *n >= 0 => Ok(*n as f64),
            toml::Value::Float(f) if *f >= 0.0 => Ok(*f),
            toml::Value::String(s) if metric == Metric::Rps => {
                crate::config::Rate::parse(s).map(|r| r.0)
            }
            _ => Err(format!("{metric} wants a number, e.g. 200")),
        },
    }
}

fn dur(v: &toml::Value) -> Result<Dur, String> {
    match v {
        toml::Value::String(s) => Dur::parse(s),
        other => Err(format!(
            "expected a duration such as \"150ms\", found {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Objective>, ConfigError> {
        let source = Source {
            file: "b.toml".into(),
            text: text.into(),
        };
        let table: RawBudget = toml::from_str(text).unwrap();
        parse_table(&table, &Scope::Total, "test", &["description"], &source)
    }

    #[test]
    fn grammar_table() {
        let cases: &[(&str, Metric, Op, f64)] = &[
            (
                "p99 = \"150ms\"",
                Metric::Percentile(99.0),
                Op::AtMost,
                150.0,
            ),
            (
                "\"p99.9\" = \"1s\"",
                Metric::Percentile(99.9),
                Op::AtMost,
                1000.0,
            ),
            ("avg = \"50ms\"", Metric::Avg, Op::AtMost, 50.0),
            ("max = \"2s\"", Metric::Max, Op::AtMost, 2000.0),
            (
                "error_rate = \"0.1%\"",
                Metric::ErrorRate,
                Op::AtMost,
                0.001,
            ),
            ("error_rate = 1", Metric::ErrorRate, Op::AtMost, 0.01),
            ("min_rps = 200", Metric::Rps, Op::AtLeast, 200.0),
            ("rps = { min = \"1200/m\" }", Metric::Rps, Op::AtLeast, 20.0),
            ("min_requests = 50", Metric::Requests, Op::AtLeast, 50.0),
            ("dropped = 0", Metric::Dropped, Op::AtMost, 0.0),
            (
                "p95 = { max = \"100ms\" }",
                Metric::Percentile(95.0),
                Op::AtMost,
                100.0,
            ),
        ];
        for (text, metric, op, limit) in cases {
            let o = &parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))[0];
            assert_eq!((o.metric, o.op), (*metric, *op), "{text}");
            assert!((o.limit - limit).abs() < 1e-9, "{text}: {}", o.limit);
        }
    }

    #[test]
    fn windows_and_abort() {
        let o = &parse("p99 = { max = \"150ms\", window = \"10s\", in_at_least = \"95%\", after = \"30s\", abort_on_fail = true, grace = \"5s\" }").unwrap()[0];
        assert_eq!(
            o.window,
            Some(Window {
                seconds: 10,
                at_least: 0.95,
                after_s: 30.0
            })
        );
        assert_eq!(o.abort_after_s, Some(5.0));
    }

    #[test]
    fn errors_are_located_and_say_what_to_fix() {
        for (text, needle) in [
            ("p999x = \"1ms\"", "unknown budget metric"),
            // Issue 26: it read as p100.
            (
                "\"p99.99999999999999999999\" = \"1ms\"",
                "unknown budget metric",
            ),
            ("p99.9 = \"1ms\"", "with quotes: \"p99.9\""),
            ("p99 = \"150\"", "no unit"),
            ("error_rate = \"abc\"", "percentage"),
            ("error_rate = \"150%\"", "outside"),
            ("min_rps = \"fast\"", "invalid rate"),
            ("p99 = { window = \"10s\" }", "needs a limit"),
            (
                "p99 = { max = \"1s\", in_at_least = \"95%\" }",
                "need a window",
            ),
            (
                "p99 = { max = \"1s\", colour = 1 }",
                "unknown objective option",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.message.contains(needle), "{text}: {e}");
            assert_eq!(e.line, 1);
        }
    }
}
