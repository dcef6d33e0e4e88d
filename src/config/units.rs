//! Values with units as written in perfgate.toml and on the command line:
//! durations ("30s", "2m", "500ms", "1h30m") and rates ("400/s", "1200/m").

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written as text, e.g. "30s", "2m", "500ms".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn parse(text: &str) -> Result<Dur, String> {
        let t = text.trim();
        if t.chars().all(|c| c.is_ascii_digit() || c == '.') && !t.is_empty() {
            return Err(format!(
                "duration {text:?} has no unit: write e.g. \"{t}s\" or \"{t}ms\""
            ));
        }
        let d = humantime::parse_duration(t).map_err(|_| {
            format!("invalid duration {text:?}: write e.g. \"30s\", \"2m\", \"500ms\" or \"1h30m\"")
        })?;
        // Longer would overflow the clock arithmetic a run's schedule does.
        if d > Duration::from_secs(366 * 24 * 3600) {
            return Err(format!("duration {text:?} is longer than a year"));
        }
        Ok(Dur(d))
    }

    pub fn secs(self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() != 0 || d.is_zero() {
            write!(f, "{}ms", d.as_millis())
        } else if d.as_secs() % 3600 == 0 {
            write!(f, "{}h", d.as_secs() / 3600)
        } else if d.as_secs() % 60 == 0 {
            write!(f, "{}m", d.as_secs() / 60)
        } else {
            write!(f, "{}s", d.as_secs())
        }
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Arrivals a second one process is allowed to schedule.
pub const MAX_RATE: f64 = 10_000_000.0;

/// An arrival rate in requests per second, written "400/s", "1200/m" or a bare number.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Rate(pub f64);

impl Rate {
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        let (num, per) = match t.split_once('/') {
            Some((n, u)) => (n.trim(), u.trim()),
            None => (t, "s"),
        };
        let secs = match per {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => {
                return Err(format!(
                    "invalid rate {text:?}: write e.g. \"400/s\" or \"1200/m\""
                ))
            }
        };
        match num.parse::<f64>() {
            Ok(n) if n / secs > MAX_RATE => Err(format!(
                "rate {text:?} is more than {MAX_RATE} arrivals a second, beyond one process: split the load with --segment"
            )),
            Ok(n) if n > 0.0 && n.is_finite() => Ok(Rate(n / secs)),
            _ => Err(format!(
                "invalid rate {text:?}: write a positive number, e.g. \"400/s\""
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Rate::parse(&n.to_string()).map_err(serde::de::Error::custom),
            Raw::Text(t) => Rate::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A size in bytes, written as a number of bytes or with a unit: "512KB", "10MB",
/// "1MiB" (KB and MB are 1000s, KiB and MiB 1024s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size(pub u64);

impl Size {
    pub fn parse(text: &str) -> Result<Size, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let bad = || format!("invalid size {text:?}: write e.g. 1048576, \"512KB\" or \"10MiB\"");
        let n: u64 = n.parse().map_err(|_| bad())?;
        let unit = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" => 1 << 10,
            "mb" => 1_000_000,
            "mib" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            _ => return Err(bad()),
        };
        n.checked_mul(unit).map(Size).ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(Size(n)),
            Raw::Text(t) => Size::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A percentage written in a config: "0.1%" → 0.001. A bare number is a percentage too,
/// as MAX_FAIL_RATE is.
pub fn percent(v: &toml::Value) -> Result<f64, String> {
    let pct = match v {
        toml::Value::String(s) => s
            .trim()
            .strip_suffix('%')
            .and_then(|n| n.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("expected a percentage such as \"0.1%\", found {s:?}"))?,
        toml::Value::Integer(n) => *n as f64,
        toml::Value::Float(f) => *f,
        other => {
            return Err(format!(
                "expected a percentage such as \"0.1%\", found {other}"
            ))
        }
    };
    if !(0.0..=100.0).contains(&pct) {
        return Err(format!("percentage {pct}% is outside 0–100%"));
    }
    Ok(pct / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_units_and_round_trip() {
        assert_eq!(Dur::parse("30s").unwrap().0, Duration::from_secs(30));
        assert_eq!(Dur::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert_eq!(Dur::parse("1h30m").unwrap().0, Duration::from_secs(5400));
        assert!(Dur::parse("30").unwrap_err().contains("no unit"));
        assert!(Dur::parse("3x").is_err());
        assert_eq!(Dur::parse("2m").unwrap().to_string(), "2m");
        assert_eq!(Dur::parse("1500ms").unwrap().to_string(), "1500ms");
    }

    #[test]
    fn rates_per_second_or_minute() {
        assert_eq!(Rate::parse("400/s").unwrap().0, 400.0);
        assert_eq!(Rate::parse("1200/m").unwrap().0, 20.0);
        assert_eq!(Rate::parse("50").unwrap().0, 50.0);
        assert!(Rate::parse("0/s").is_err());
        assert!(Rate::parse("5/fortnight").is_err());
    }
}
