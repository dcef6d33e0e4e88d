//! The noise model: a block bootstrap over one-second intervals.
//!
//! Each run is a sequence of one-second intervals. Resampling whole intervals (with
//! replacement) keeps whatever happens inside a second together — bursts, GC pauses,
//! a slow disk — so the spread of the resampled statistic is the run's own noise.
//! Latencies are kept in 1%-wide logarithmic buckets, so a resampled percentile is
//! within 1% of the exact one and costs a few thousand additions.

use crate::metrics::RunResult;
use crate::metrics::{Metric, Scope};

/// Resamples per comparison: enough for stable 2.5% / 97.5% quantiles.
pub const RESAMPLES: usize = 1000;
/// Fewer one-second intervals than this in either run: inconclusive. A bootstrap over
/// fewer blocks underestimates the spread (measured: 5-second runs gave 5% false alarms).
pub const MIN_INTERVALS: usize = 10;

const BUCKET_GROWTH: f64 = 1.01;
/// Bucket count covering 1 µs … 100 s at 1% steps.
const BUCKETS: usize = 1853;

/// One second of one scope.
struct Slot {
    /// How much of the second the run covered (the last one may be partial).
    seconds: f64,
    requests: u64,
    failures: u64,
    latency_count: u64,
    latency_sum_us: f64,
    buckets: Vec<(u16, u32)>,
}

/// One run's per-second data for one scope.
pub struct Sample {
    slots: Vec<Slot>,
}

fn bucket(us: u64) -> u16 {
    ((us.max(1) as f64).ln() / BUCKET_GROWTH.ln()) as u16
}

fn bucket_value_ms(b: usize) -> f64 {
    BUCKET_GROWTH.powf(b as f64 + 0.5) / 1000.0
}

impl Sample {
    /// The seconds of `r` for `scope`; a trailing second the run covered less than half
    /// of is left out.
    pub fn of(r: &RunResult, scope: &Scope) -> Sample {
        let slots = r
            .series
            .iter()
            .map(|i| (i, (r.duration_s - i.t as f64).clamp(0.0, 1.0)))
            .filter(|(_, covered)| *covered >= 0.5)
            .map(|(i, covered)| {
                let mut s = Slot {
                    seconds: covered,
                    requests: 0,
                    failures: 0,
                    latency_count: 0,
                    latency_sum_us: 0.0,
                    buckets: Vec::new(),
                };
                for e in &i.endpoints {
                    if let Scope::Endpoint(name) = scope {
                        if &e.name != name {
                            continue;
                        }
                    }
                    s.requests += e.requests;
                    s.failures += e.failures;
                    let n = e.latency.count();
                    if n == 0 {
                        continue;
                    }
                    let latency = e.latency.unpack();
                    s.latency_count += n;
                    s.latency_sum_us += latency.mean_us() * n as f64;
                    for (v, c) in latency.recorded() {
                        s.buckets.push((bucket(v), c as u32));
                    }
                }
                s
            })
            .collect();
        Sample { slots }
    }

    pub fn intervals(&self) -> usize {
        self.slots.len()
    }

    pub fn latency_samples(&self) -> u64 {
        self.slots.iter().map(|s| s.latency_count).sum()
    }

    pub fn requests(&self) -> u64 {
        self.slots.iter().map(|s| s.requests).sum()
    }

    /// The seconds the slots cover.
    pub fn seconds(&self) -> f64 {
        self.slots.iter().map(|s| s.seconds).sum()
    }

    /// The metric over the slots, each weighted by how often the resample drew it.
    fn statistic(&self, metric: Metric, weights: &[u32], scratch: &mut [u64]) -> Option<f64> {
        let sum = |f: &dyn Fn(&Slot) -> f64| -> f64 {
            self.slots
                .iter()
                .zip(weights)
                .map(|(s, w)| f(s) * *w as f64)
                .sum()
        };
        match metric {
            Metric::Rps => {
                let secs = sum(&|s| s.seconds);
                (secs > 0.0).then(|| sum(&|s| s.requests as f64) / secs)
            }
            Metric::ErrorRate => {
                let req = sum(&|s| s.requests as f64);
                (req > 0.0).then(|| sum(&|s| s.failures as f64) / req)
            }
            Metric::Avg => {
                let n = sum(&|s| s.latency_count as f64);
                (n > 0.0).then(|| sum(&|s| s.latency_sum_us) / n / 1000.0)
            }
            Metric::Percentile(p) => {
                scratch.iter_mut().for_each(|c| *c = 0);
                let mut total = 0u64;
                for (s, w) in self.slots.iter().zip(weights) {
                    if *w == 0 {
                        continue;
                    }
                    for (b, c) in &s.buckets {
                        let add = *c as u64 * *w as u64;
                        scratch[*b as usize] += add;
                        total += add;
                    }
                }
                if total == 0 {
                    return None;
                }
                let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
                let mut seen = 0;
                for (b, c) in scratch.iter().enumerate() {
                    seen += c;
                    if seen >= rank {
                        return Some(bucket_value_ms(b));
                    }
                }
                None
            }
            _ => None,
        }
    }

    /// The statistic over every slot once (for checks and tests).
    pub fn whole(&self, metric: Metric) -> Option<f64> {
        let weights = vec![1; self.slots.len()];
        self.statistic(metric, &weights, &mut vec![0; BUCKETS])
    }
}

/// `RESAMPLES` paired draws of (current statistic, baseline statistic), from a fixed
/// seed so the same two results always give the same answer.
pub fn resample(current: &Sample, baseline: &Sample, metric: Metric) -> Vec<(f64, f64)> {
    let mut rng = fastrand::Rng::with_seed(0x5eed_9a7e);
    let mut scratch = vec![0u64; BUCKETS];
    let mut wc = vec![0u32; current.slots.len()];
    let mut wb = vec![0u32; baseline.slots.len()];
    let mut out = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        draw(&mut rng, &mut wc);
        draw(&mut rng, &mut wb);
        let c = current.statistic(metric, &wc, &mut scratch);
        let b = baseline.statistic(metric, &wb, &mut scratch);
        if let (Some(c), Some(b)) = (c, b) {
            out.push((c, b));
        }
    }
    out
}

fn draw(rng: &mut fastrand::Rng, weights: &mut [u32]) {
    weights.iter_mut().for_each(|w| *w = 0);
    let n = weights.len();
    for _ in 0..n {
        weights[rng.usize(..n)] += 1;
    }
}

/// The q-quantile (0–1) of `values`, which it sorts.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_within_one_percent() {
        for us in [1u64, 7, 150, 9_999, 123_456, 99_000_000] {
            let v = bucket_value_ms(bucket(us) as usize) * 1000.0;
            assert!((v / us as f64 - 1.0).abs() <= 0.011, "{us} µs → {v}");
        }
        assert!((bucket(100_000_000) as usize) < BUCKETS);
    }
}
