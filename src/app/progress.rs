//! Live progress on stderr: an indicatif bar on a terminal (elapsed/total, users, rps,
//! p95/p99 so far, failures, and each budget objective in red while it is failing); in CI
//! or when piped, one plain line every five seconds instead.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::gate::{self, Budget};
use crate::metrics::Collector;
use crate::report::format::latency_ms;
use crate::report::{table::Paint, words};

/// Seconds between plain lines when stderr is not a terminal.
const PLAIN_EVERY_S: f64 = 5.0;

pub struct Progress {
    bar: Option<ProgressBar>,
    budget: Budget,
    paint: Paint,
    last_line: f64,
}

impl Progress {
    pub fn new(total: Duration, budget: &Budget, color: bool) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total.as_secs().max(1)),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} / {len}s [{bar:24}] {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            budget: budget.clone(),
            paint: Paint::stderr(color),
            last_line: 0.0,
        }
    }

    pub fn tick(&mut self, c: &Collector, elapsed: f64) {
        let t = c.total();
        let failing: Vec<String> = gate::live_failing(&self.budget, c, elapsed)
            .into_iter()
            .map(words::objective_name)
            .collect();
        let status = if failing.is_empty() {
            String::new()
        } else {
            format!(
                " | {}",
                self.paint.red(&format!("failing: {}", failing.join(", ")))
            )
        };
        let dropped = if t.dropped > 0 {
            format!(" | {} dropped", t.dropped)
        } else {
            String::new()
        };
        let line = format!(
            "users {} | {} requests | {:.1} rps | p95 {} p99 {} | {} failed{dropped}{status}",
            c.users(),
            t.requests,
            t.requests as f64 / elapsed.max(1e-9),
            latency_ms(t.latency.percentile_us(95.0) as f64 / 1000.0),
            latency_ms(t.latency.percentile_us(99.0) as f64 / 1000.0),
            t.failures
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(elapsed as u64);
                bar.set_message(line);
            }
            None if plain_line_due(self.last_line, elapsed) => {
                self.last_line = elapsed.round();
                errln!("[{elapsed:>5.0}s] {line}");
            }
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Whether a plain line is due, `last` being the whole second of the one before. Whole
/// seconds: ticks come about a second apart, a little early or late, and comparing raw
/// times skipped a line whenever one came early (lines at 5 s, 11 s, 16 s, 21 s, 27 s).
fn plain_line_due(last: f64, elapsed: f64) -> bool {
    elapsed.round() - last >= PLAIN_EVERY_S
}

#[cfg(test)]
mod tests {
    use super::plain_line_due;

    #[test]
    fn plain_lines_come_every_five_seconds_whatever_the_tick_jitter() {
        let ticks = [
            1.002, 2.001, 3.004, 4.0, 5.003, 6.0, 7.0, 8.0, 9.0, 9.998, 11.0, 15.0,
        ];
        let mut last = 0.0;
        let mut lines = Vec::new();
        for t in ticks {
            if plain_line_due(last, t) {
                last = f64::round(t);
                lines.push(last);
            }
        }
        assert_eq!(lines, [5.0, 10.0, 15.0]);
    }
}
