//! Regression rules: how far a metric may move from its baseline.
//!
//! ```text
//! [regression]
//! confidence = "95%"                   how sure perfgate must be before saying "regressed"
//! p99   = "max(+10%, +1ms)"            the Locust setup's 10%, not sub-millisecond changes
//! rps   = "-10%"
//! [regression.endpoints."/api/verify-proof"]
//! p95   = "max(baseline * 1.3, baseline + 50ms)"
//!
//! rule   = term | ("max" | "min") "(" term { "," term } ")"
//! term   = ("+" | "-") NUMBER "%"              relative: baseline × (1 ± N/100)
//!        | ("+" | "-") AMOUNT                  absolute: baseline ± AMOUNT
//!        | "baseline" [ "*" NUMBER | ("+" | "-") AMOUNT ]
//! AMOUNT = DURATION ("50ms") for latency, PERCENT ("0.1%") for error_rate, NUMBER for rps
//! ```
//!
//! `+N%` is always relative to the baseline; an absolute error-rate step is written
//! `baseline + 0.1%`.
//!
//! Metrics: `avg`, any percentile `pNN`, `error_rate` (a limit above the baseline) and
//! `rps` (a limit below it). Rules apply to the whole run and to every endpoint; an
//! endpoint's own table replaces the rules of the metrics it names. Without a
//! `[regression]` table the Locust setup's defaults apply: `p99 = "max(+10%, +1ms)"` and
//! `rps = "-10%"`.

use serde::Serialize;

use crate::config::{percent, ConfigError, Dur, RawBudget, Source};
use crate::metrics::{Metric, Scope};

/// `baseline * factor + offset` (offset in the metric's unit: ms, fraction, rps).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Term {
    pub factor: f64,
    pub offset: f64,
}

/// The value a metric may reach (latency, errors) or must keep (rps), given its baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    pub metric: Metric,
    pub scope: Scope,
    /// As written, for people.
    pub text: String,
    pub terms: Vec<Term>,
    /// With several terms: true takes the largest limit, false the smallest.
    pub take_max: bool,
}

impl Rule {
    /// True when a larger value is worse (latency, error rate).
    pub fn upward(&self) -> bool {
        self.metric != Metric::Rps
    }

    /// The allowed value for a baseline value `b`.
    pub fn limit(&self, b: f64) -> f64 {
        let vals = self.terms.iter().map(|t| b * t.factor + t.offset);
        if self.take_max {
            vals.fold(f64::MIN, f64::max)
        } else {
            vals.fold(f64::MAX, f64::min)
        }
    }

    /// The mirror image of the limit: a change at least this good counts as improved.
    pub fn improved_below(&self, b: f64) -> f64 {
        2.0 * b - self.limit(b)
    }
}

/// Every rule of a config, and the confidence level the comparison needs.
#[derive(Clone, Debug, Serialize)]
pub struct Rules {
    pub confidence: f64,
    /// For the whole run and for every endpoint without its own rule of that metric.
    pub common: Vec<Rule>,
    /// Rules for one endpoint (scope = that endpoint).
    pub endpoints: Vec<Rule>,
}

impl Rules {
    /// The Locust setup's defaults: p99 at most 10% (and 1 ms) slower, rps at most 10% lower.
    pub fn defaults() -> Rules {
        let rule = |key, text| parse_rule(key, text, &Scope::Total).expect("default rule parses");
        Rules {
            confidence: 0.95,
            common: vec![rule("p99", "max(+10%, +1ms)"), rule("rps", "-10%")],
            endpoints: vec![],
        }
    }

    /// Reads `[regression]`; an empty table means the defaults.
    pub fn from_config(table: &RawBudget, source: &Source) -> Result<Rules, ConfigError> {
        if table.is_empty() {
            return Ok(Rules::defaults());
        }
        let mut rules = Rules {
            confidence: 0.95,
            common: vec![],
            endpoints: vec![],
        };
        for (key, value) in table {
            let err = |msg: String| source.error(value.span(), msg);
            match key.as_str() {
                "confidence" => {
                    let c = percent(value.get_ref()).map_err(err)?;
                    if !(0.5..1.0).contains(&c) {
                        return Err(source.error(
                            value.span(),
                            "confidence must be at least 50% and below 100%, e.g. \"95%\"",
                        ));
                    }
                    rules.confidence = c;
                }
                "endpoints" => {
                    let eps = value.get_ref().as_table().ok_or_else(|| {
                        err("endpoints must be a table: [regression.endpoints.\"/path\"]".into())
                    })?;
                    for (name, t) in eps {
                        let t = t.as_table().ok_or_else(|| {
                            err(format!(
                                "[regression.endpoints.{name:?}] must be a table of rules"
                            ))
                        })?;
                        for (k, v) in t {
                            let scope = Scope::Endpoint(name.clone());
                            rules
                                .endpoints
                                .push(rule_value(k, v, &scope).map_err(&err)?);
                        }
                    }
                }
                _ => rules
                    .common
                    .push(rule_value(key, value.get_ref(), &Scope::Total).map_err(err)?),
            }
        }
        Ok(rules)
    }

    /// The rules that apply to `scope`: an endpoint's own, then the common ones for
    /// metrics it does not name.
    pub fn for_scope(&self, scope: &Scope) -> Vec<Rule> {
        let own: Vec<Rule> = self
            .endpoints
            .iter()
            .filter(|r| &r.scope == scope)
            .cloned()
            .collect();
        let mut out = own.clone();
        for r in &self.common {
            if !own.iter().any(|o| o.metric == r.metric) {
                out.push(Rule {
                    scope: scope.clone(),
                    ..r.clone()
                });
            }
        }
        out
    }
}

fn rule_value(key: &str, v: &toml::Value, scope: &Scope) -> Result<Rule, String> {
    let text = v.as_str().ok_or_else(|| {
        format!("regression rule {key} must be a string such as \"+10%\" or \"max(+10%, +5ms)\"")
    })?;
    parse_rule(key, text, scope)
}

/// Parses one rule; the error says what to write instead.
pub fn parse_rule(key: &str, text: &str, scope: &Scope) -> Result<Rule, String> {
    let metric = match Metric::parse(key) {
        Some((m @ (Metric::Avg | Metric::Percentile(_) | Metric::ErrorRate | Metric::Rps), _)) => m,
        _ => {
            return Err(format!(
                "unknown regression metric {key:?}: use avg, p50 … p99.9, error_rate or rps (or confidence, endpoints)"
            ))
        }
    };
    let t = text.trim();
    let (take_max, body) = if let Some(inner) = fn_args(t, "max") {
        (true, inner)
    } else if let Some(inner) = fn_args(t, "min") {
        (false, inner)
    } else {
        (true, t)
    };
    let terms = body
        .split(',')
        .map(|s| term(metric, s.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key} = {text:?}: {e}"))?;
    let upward = metric != Metric::Rps;
    for t in &terms {
        let loose = if upward {
            t.factor >= 1.0 && t.offset >= 0.0
        } else {
            t.factor <= 1.0 && t.offset <= 0.0
        };
        if !loose {
            return Err(format!(
                "{key} = {text:?}: a {} limit must allow {} the baseline, or every unchanged run would regress",
                metric,
                if upward { "at least" } else { "at most" }
            ));
        }
    }
    Ok(Rule {
        metric,
        scope: scope.clone(),
        text: text.to_string(),
        terms,
        take_max,
    })
}

fn fn_args<'a>(t: &'a str, name: &str) -> Option<&'a str> {
    t.strip_prefix(name)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn term(metric: Metric, s: &str) -> Result<Term, String> {
    let hint = "write +10%, -10%, +5ms, baseline * 1.3 or baseline + 50ms";
    if let Some(rest) = s.strip_prefix("baseline") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Ok(Term {
                factor: 1.0,
                offset: 0.0,
            });
        }
        if let Some(n) = rest.strip_prefix('*') {
            let factor: f64 = n
                .trim()
                .parse()
                .map_err(|_| format!("{n:?} is not a number; {hint}"))?;
            return Ok(Term {
                factor,
                offset: 0.0,
            });
        }
        let (sign, amt) = signed(rest).ok_or_else(|| format!("{s:?}: {hint}"))?;
        return Ok(Term {
            factor: 1.0,
            offset: sign * amount(metric, amt)?,
        });
    }
    let (sign, rest) = signed(s).ok_or_else(|| format!("{s:?}: {hint}"))?;
    if let Some(pct) = rest.strip_suffix('%') {
        let p: f64 = pct.trim().parse().map_err(|_| format!("{s:?}: {hint}"))?;
        return Ok(Term {
            factor: 1.0 + sign * p / 100.0,
            offset: 0.0,
        });
    }
    Ok(Term {
        factor: 1.0,
        offset: sign * amount(metric, rest)?,
    })
}

fn signed(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    if let Some(r) = s.strip_prefix('+') {
        Some((1.0, r.trim()))
    } else {
        s.strip_prefix('-').map(|r| (-1.0, r.trim()))
    }
}

/// An absolute amount in the metric's unit.
fn amount(metric: Metric, s: &str) -> Result<f64, String> {
    if metric.is_latency() {
        Ok(Dur::parse(s)?.secs() * 1000.0)
    } else if metric == Metric::ErrorRate {
        percent(&toml::Value::String(s.to_string()))
    } else {
        s.parse::<f64>()
            .map_err(|_| format!("{s:?}: an rps amount is a number, e.g. -50"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(key: &str, text: &str) -> Rule {
        parse_rule(key, text, &Scope::Total).unwrap()
    }

    #[test]
    fn grammar() {
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} != {b}");
        close(rule("p99", "+10%").limit(100.0), 110.0);
        close(rule("p99", "+5ms").limit(100.0), 105.0);
        let r = rule("p95", "max(baseline * 1.3, baseline + 50ms)");
        close(r.limit(100.0), 150.0);
        close(r.limit(1000.0), 1300.0);
        let floor = rule("p99", "max(+10%, +1ms)");
        assert!((floor.limit(2.0) - 3.0).abs() < 1e-9);
        assert!((floor.improved_below(2.0) - 1.0).abs() < 1e-9);
        let rps = rule("rps", "-10%");
        assert!(!rps.upward());
        assert!((rps.limit(200.0) - 180.0).abs() < 1e-9);
        assert!((rps.improved_below(200.0) - 220.0).abs() < 1e-9);
        let err = rule("error_rate", "baseline + 0.1%");
        assert!((err.limit(0.002) - 0.003).abs() < 1e-12);
        close(rule("avg", "min(+20%, +100ms)").limit(100.0), 120.0);
    }

    #[test]
    fn mistakes_say_what_to_write() {
        let e = parse_rule("p99", "-10%", &Scope::Total).unwrap_err();
        assert!(e.contains("at least the baseline"), "{e}");
        let e = parse_rule("max", "+10%", &Scope::Total).unwrap_err();
        assert!(e.contains("unknown regression metric"), "{e}");
        let e = parse_rule("p99", "ten percent", &Scope::Total).unwrap_err();
        assert!(e.contains("+10%"), "{e}");
    }

    #[test]
    fn endpoint_rules_replace_common_ones_of_their_metric() {
        let text = "[regression]\np99 = \"+10%\"\nrps = \"-10%\"\n[regression.endpoints.\"/a\"]\np99 = \"+50%\"\n";
        let (c, s) = crate::config::Config::parse("t.toml", text).unwrap();
        let rules = Rules::from_config(&c.regression, &s).unwrap();
        let a = rules.for_scope(&Scope::Endpoint("/a".into()));
        assert_eq!(a.len(), 2);
        assert_eq!(
            a.iter().find(|r| r.metric != Metric::Rps).unwrap().text,
            "+50%"
        );
        assert_eq!(rules.for_scope(&Scope::Total)[0].text, "+10%");
    }
}
