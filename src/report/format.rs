//! The one place numbers become text: milliseconds, percentages, rates, counts, durations
//! and commits, the same way in the terminal, Markdown, JUnit, HTML, annotations and the
//! history table.

use std::fmt;

use crate::metrics::{Metric, Op, Scope, Stats};

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Avg => write!(f, "avg latency"),
            Metric::Min => write!(f, "min latency"),
            Metric::Max => write!(f, "max latency"),
            Metric::Percentile(p) => write!(f, "p{} latency", trim(*p)),
            Metric::ErrorRate => write!(f, "error rate"),
            Metric::Rps => write!(f, "throughput"),
            Metric::Requests => write!(f, "requests"),
            Metric::Dropped => write!(f, "dropped arrivals"),
            Metric::Ttfb(p) => write!(f, "p{} time to first byte", trim(*p)),
            Metric::Connect(p) => write!(f, "p{} connect time", trim(*p)),
            Metric::Checks => write!(f, "checks passed"),
            Metric::BodySize => write!(f, "average response body"),
            Metric::Custom(name, p) => write!(f, "p{} {name}", trim(*p)),
        }
    }
}

/// A value in the metric's unit as people read it: "215 ms", "0.25%", "180 rps", "12".
pub fn value(metric: Metric, v: f64) -> String {
    match metric {
        m if m.is_latency() => latency_ms(v),
        Metric::ErrorRate | Metric::Checks => format!("{}%", trim(v * 100.0)),
        Metric::BodySize => bytes(v),
        Metric::Rps => format!("{} rps", trim(v)),
        Metric::Custom(..) => significant(v),
        _ => trim(v),
    }
}

/// A number read from responses, to the three significant digits its histogram keeps:
/// 3.5 (stored as 3.503), 12.5, 1250, 0.0123.
pub fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return trim(v);
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    let scale = 10f64.powi(2 - magnitude);
    let rounded = (v * scale).round() / scale;
    let s = format!("{rounded:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// "≤" / ">" for an upper bound that held / failed; "≥" / "<" for a lower bound.
pub fn symbol(op: Op, holds: bool) -> &'static str {
    match (op, holds) {
        (Op::AtMost, true) => "≤",
        (Op::AtMost, false) => ">",
        (Op::AtLeast, true) => "≥",
        (Op::AtLeast, false) => "<",
    }
}

/// "p99 latency" or "p99 latency on /api/verify-proof".
pub fn subject(metric: Metric, scope: &Scope) -> String {
    match scope.label() {
        None => metric.to_string(),
        Some(e) => format!("{metric} on {e}"),
    }
}

/// A number without needless decimals: 3, 12.5, 0.125.
pub fn trim(v: f64) -> String {
    if v == v.round() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
#[test]
fn numbers_read_from_responses_keep_three_significant_digits() {
    for (v, want) in [
        (3.503, "3.5"),
        (12.504, "12.5"),
        (1250.6, "1250"),
        (0.012_34, "0.0123"),
        (7.0, "7"),
        (0.0, "0"),
    ] {
        assert_eq!(significant(v), want, "{v}");
    }
}

/// A latency for sentences: "1.2 s", "215 ms", "21.5 ms", "0.3 ms", "0.01 ms".
pub fn latency_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", trim(ms / 1000.0))
    } else if ms >= 100.0 {
        format!("{:.0} ms", ms)
    } else if ms >= 0.1 || ms == 0.0 {
        format!("{} ms", trim((ms * 10.0).round() / 10.0))
    } else {
        // Below a tenth of a millisecond, two significant digits: a limit of 0.01 ms
        // reads as itself, not as "0 ms".
        let digits = (-ms.log10().floor()) as usize + 1;
        let s = format!("{ms:.digits$}");
        format!("{} ms", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// Milliseconds for tables: "0.42", "12.3", "1,234".
pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        thousands(v.round() as u64)
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A latency figure of `s` for tables, or "-" when it has no latency at all (no request
/// was answered): 0.00 would read as fast.
pub fn ms_of(s: &Stats, v: f64) -> String {
    if s.latency.count() == 0 {
        "-".to_string()
    } else {
        ms(v)
    }
}

/// "+12.3%" / "-4.0%" for a relative change given as a fraction.
pub fn signed_pct(f: f64) -> String {
    format!("{:+.1}%", f * 100.0)
}

/// A fraction as a percentage with two decimals for tables: "0.25%".
pub fn pct2(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

/// "2.4 s", "45 s", "3 min 20 s", "2 h 5 min": tenths below ten seconds, else rounded.
pub fn seconds(s: f64) -> String {
    if s < 9.95 && s.fract() != 0.0 {
        return format!("{s:.1} s");
    }
    let s = s.round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 if s % 60 == 0 => format!("{} min", s / 60),
        120..=7199 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

/// 15432 → "15,432".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A commit for people: its first 7 characters, or `missing` when there is none.
pub fn short_commit(commit: Option<&str>, missing: &str) -> String {
    commit.map_or(missing.to_string(), |c| c.chars().take(7).collect())
}

/// A message with every quoted value longer than `MAX_QUOTE` characters cut, saying so:
/// an error must not echo a 5 MB config value back. Messages quote values as Rust does
/// (`"..."`, with `\"` inside).
pub fn cut_long_quotes(message: &str) -> String {
    const MAX_QUOTE: usize = 80;
    let mut out = String::with_capacity(message.len().min(4096));
    let mut chars = message.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        // Inside a quote: keep up to MAX_QUOTE characters, count the rest.
        let (mut kept, mut cut, mut escaped) = (0usize, 0usize, false);
        for (_, c) in chars.by_ref() {
            if c == '"' && !escaped {
                if cut > 0 {
                    out.push_str(&format!("…[{cut} more characters cut]"));
                }
                out.push('"');
                break;
            }
            escaped = c == '\\' && !escaped;
            if kept < MAX_QUOTE {
                out.push(c);
                kept += 1;
            } else {
                cut += 1;
            }
        }
    }
    out
}

/// An endpoint's name with its tags: "/api/pay [flow=checkout]".
pub fn tagged_name(s: &crate::metrics::Stats) -> String {
    if s.tags.is_empty() {
        return s.name.clone();
    }
    let tags: Vec<String> = s.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} [{}]", s.name, tags.join(", "))
}

/// "12.3 KiB", "512 B": a byte count as a person reads it.
pub fn bytes(v: f64) -> String {
    match v {
        v if v >= 1024.0 * 1024.0 => format!("{} MiB", trim(v / (1024.0 * 1024.0))),
        v if v >= 1024.0 => format!("{} KiB", trim(v / 1024.0)),
        v => format!("{} B", trim(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(seconds(14.0), "14 s");
        assert_eq!(seconds(8.0), "8 s");
        assert_eq!(seconds(2.998), "3.0 s");
        assert_eq!(seconds(0.42), "0.4 s");
        assert_eq!(seconds(9.96), "10 s");
        assert_eq!(seconds(59.6), "60 s");
        assert_eq!(seconds(119.0), "119 s");
        assert_eq!(seconds(180.0), "3 min");
        assert_eq!(seconds(462.0), "7 min 42 s");
        assert_eq!(seconds(7500.0), "2 h 5 min");
    }

    #[test]
    fn latencies_keep_what_a_limit_says() {
        for (ms, text) in [
            (0.0, "0 ms"),
            (0.01, "0.01 ms"),
            (0.045, "0.045 ms"),
            (0.3, "0.3 ms"),
            (1.26, "1.3 ms"),
            (21.5, "21.5 ms"),
            (214.655, "215 ms"),
            (1500.0, "1.5 s"),
        ] {
            assert_eq!(latency_ms(ms), text, "{ms}");
        }
    }

    #[test]
    fn a_latency_with_no_sample_reads_as_a_dash() {
        let mut s = Stats {
            requests: 3,
            failures: 3,
            ..Stats::default()
        };
        assert_eq!(ms_of(&s, 0.0), "-");
        s.latency.record_us(1500);
        assert_eq!(ms_of(&s, 1.5), "1.50");
    }

    #[test]
    fn long_quoted_values_are_cut_and_say_so() {
        let long = "x".repeat(5000);
        let msg = format!("invalid duration {long:?}: write e.g. \"30s\"");
        let cut = cut_long_quotes(&msg);
        assert!(cut.len() < 200, "{cut}");
        assert!(cut.contains("…[4920 more characters cut]\""), "{cut}");
        assert!(cut.ends_with(": write e.g. \"30s\""), "{cut}");
        let escaped = format!("{:?} then {:?}", "a\"b", "short");
        assert_eq!(cut_long_quotes(&escaped), escaped);
    }

    #[test]
    fn values_read_in_their_metric_unit() {
        assert_eq!(value(Metric::ErrorRate, 0.0025), "0.25%");
        assert_eq!(value(Metric::Rps, 180.0), "180 rps");
        assert_eq!(value(Metric::Percentile(99.9), 1.0), "1 ms");
        assert_eq!(Metric::Percentile(99.9).to_string(), "p99.9 latency");
        assert_eq!(short_commit(Some("0123456789"), "-"), "0123456");
        assert_eq!(thousands(15432), "15,432");
    }
}
