//! Fault injection for the demo service: latency, jitter, an error ratio per endpoint,
//! and a periodic stall (every response frozen until the stall window ends).

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Knob {
    pub latency: Duration,
    /// Up to this much more, uniformly at random.
    pub jitter: Duration,
    /// Fraction of requests answered 503 (0.05 = 5%).
    pub error_rate: f64,
}

/// What the demo service does wrong on purpose: added latency, jitter, errors, stalls
/// and a capacity, per endpoint (`perfgate demo --latency ... --error-rate ...`).
#[derive(Clone, Debug, Default)]
pub struct Knobs {
    /// Per endpoint path; "*" applies to every endpoint without its own.
    pub endpoints: BTreeMap<String, Knob>,
    /// (freeze, every): each `every`, responses are held for `freeze`.
    pub stall: Option<(Duration, Duration)>,
    /// Requests per second served, one at a time; beyond it they queue.
    pub capacity: Option<f64>,
}

impl Knobs {
    /// The bundled "degraded" service: slow login/transaction verification and a
    /// flaky biometric endpoint, so the demo budget fails.
    pub fn degraded() -> Knobs {
        let mut k = Knobs::default();
        k.endpoints.insert(
            "/api/verify-proof".into(),
            Knob {
                latency: Duration::from_millis(180),
                jitter: Duration::from_millis(60),
                error_rate: 0.0,
            },
        );
        k.endpoints.insert(
            "/api/verify-biometric-proof".into(),
            Knob {
                error_rate: 0.2,
                ..Knob::default()
            },
        );
        k
    }

    /// Parses "PATH=VALUE" as given to `--latency`, `--jitter` or `--error-rate`.
    pub fn set(&mut self, what: &str, spec: &str) -> Result<(), String> {
        let (path, value) = spec
            .split_once('=')
            .ok_or_else(|| format!("--{what} wants PATH=VALUE, e.g. /api/verify-proof=50ms"))?;
        let knob = self.endpoints.entry(path.to_string()).or_default();
        match what {
            "latency" => knob.latency = crate::config::Dur::parse(value)?.0,
            "jitter" => knob.jitter = crate::config::Dur::parse(value)?.0,
            "error-rate" => {
                let v = value.trim_end_matches('%');
                let pct: f64 = v
                    .parse()
                    .map_err(|_| format!("--error-rate {value:?}: write e.g. 5%"))?;
                if !(0.0..=100.0).contains(&pct) {
                    return Err(format!(
                        "--error-rate {value:?} must be between 0% and 100%"
                    ));
                }
                knob.error_rate = pct / 100.0;
            }
            _ => unreachable!("only the three knob flags call this"),
        }
        Ok(())
    }

    /// Parses `--stall FREEZE/EVERY`, e.g. "1s/5s".
    pub fn set_stall(&mut self, spec: &str) -> Result<(), String> {
        let (f, e) = spec
            .split_once('/')
            .ok_or("--stall wants FREEZE/EVERY, e.g. 1s/5s")?;
        let (freeze, every) = (
            crate::config::Dur::parse(f)?.0,
            crate::config::Dur::parse(e)?.0,
        );
        if freeze >= every {
            return Err("--stall: the freeze must be shorter than the period".into());
        }
        self.stall = Some((freeze, every));
        Ok(())
    }

    /// Parses `--capacity RATE`, e.g. "300/s".
    pub fn set_capacity(&mut self, spec: &str) -> Result<(), String> {
        let rate = crate::config::Rate::parse(spec).map_err(|e| format!("--capacity: {e}"))?;
        if rate.0 <= 0.0 {
            return Err("--capacity must be above 0, e.g. 300/s".into());
        }
        self.capacity = Some(rate.0);
        Ok(())
    }

    /// For a request to `path` arriving `now` after start: how long to hold it, and
    /// whether to fail it.
    pub fn decide(&self, path: &str, now: Duration) -> (Duration, bool) {
        let mut delay = Duration::ZERO;
        let mut fail = false;
        if let Some(k) = self.endpoints.get(path).or_else(|| self.endpoints.get("*")) {
            delay = k.latency;
            if !k.jitter.is_zero() {
                delay += Duration::from_micros(fastrand::u64(0..=k.jitter.as_micros() as u64));
            }
            fail = k.error_rate > 0.0 && fastrand::f64() < k.error_rate;
        }
        if let Some((freeze, every)) = self.stall {
            let into = Duration::from_nanos((now.as_nanos() % every.as_nanos()) as u64);
            if into < freeze {
                delay += freeze - into;
            }
        }
        (delay, fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_holds_until_the_window_ends() {
        let mut k = Knobs::default();
        k.set_stall("1s/5s").unwrap();
        assert_eq!(
            k.decide("/x", Duration::from_millis(10_250)).0,
            Duration::from_millis(750)
        );
        assert_eq!(
            k.decide("/x", Duration::from_millis(11_250)).0,
            Duration::ZERO
        );
    }

    #[test]
    fn flags_parse_and_reject() {
        let mut k = Knobs::default();
        k.set("latency", "/a=50ms").unwrap();
        k.set("error-rate", "/a=5%").unwrap();
        assert_eq!(k.endpoints["/a"].latency, Duration::from_millis(50));
        assert_eq!(k.endpoints["/a"].error_rate, 0.05);
        assert!(k.set("error-rate", "/a=150%").is_err());
        assert!(k.set("latency", "nopath").is_err());
        assert!(k.set_stall("5s/1s").is_err());
    }
}
