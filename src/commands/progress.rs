//! Live progress on stderr: an indicatif bar on a terminal (elapsed/total, users, rps,
//! p95/p99 so far, failures, and each budget objective in red while it is failing); in CI
//! or when piped, one plain line every five seconds instead.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::gate::{self, Budget};
use crate::metrics::Collector;
use crate::report::table::Paint;

/// Seconds between plain lines when stderr is not a terminal.
const PLAIN_EVERY_S: f64 = 5.0;

pub struct Progress {
    bar: Option<ProgressBar>,
    budget: Budget,
    paint: Paint,
    last_line: f64,
}

impl Progress {
    pub fn new(total: Duration, budget: &Budget) -> Progress {
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
            paint: Paint::stderr(),
            last_line: 0.0,
        }
    }

    pub fn tick(&mut self, c: &Collector, elapsed: f64) {
        let t = c.total();
        let failing = gate::live_failing(&self.budget, c, elapsed);
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
            gate::format_ms(t.latency.percentile_us(95.0) as f64 / 1000.0),
            gate::format_ms(t.latency.percentile_us(99.0) as f64 / 1000.0),
            t.failures
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(elapsed as u64);
                bar.set_message(line);
            }
            None if elapsed - self.last_line >= PLAIN_EVERY_S => {
                self.last_line = elapsed;
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
