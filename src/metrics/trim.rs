//! A result from a given second on: a capacity step judged after its warm-up.

use super::{RunResult, Stats};

impl RunResult {
    /// The result from second `from` of the load on, rebuilt from the per-second series:
    /// requests, failures, latency and dropped arrivals. What the series does not keep
    /// is left out (time to first byte, connect time, status classes, body bytes), and
    /// the failure reasons are the whole run's. The whole result when `from` is 0.
    pub fn from_second(&self, from: u64) -> RunResult {
        let mut out = self.clone();
        if from == 0 {
            return out;
        }
        out.series.retain(|i| i.t >= from);
        out.duration_s = (self.duration_s - from as f64).max(0.001);
        out.total = Stats {
            failure_reasons: self.total.failure_reasons.clone(),
            ..Stats::named(&self.total.name, &self.total.method)
        };
        for e in &mut out.endpoints {
            let mut kept = Stats {
                failure_reasons: std::mem::take(&mut e.failure_reasons),
                ..Stats::named(&e.name, &e.method)
            };
            for i in &out.series {
                for s in i.endpoints.iter().filter(|s| s.name == e.name) {
                    kept.requests += s.requests;
                    kept.failures += s.failures;
                    kept.latency.add(&s.latency.unpack());
                }
            }
            if !super::is_transaction(&e.name) {
                out.total.requests += kept.requests;
                out.total.failures += kept.failures;
                out.total.latency.add(&kept.latency);
            }
            *e = kept;
        }
        out.total.dropped = out.series.iter().map(|i| i.dropped).sum();
        out.refresh();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Interval, IntervalStats, Latency, Packed};
    use super::*;

    #[test]
    fn keeps_the_seconds_from_the_one_given() {
        let second = |t: u64, us: u64, n: u64| {
            let mut l = Latency::default();
            l.record_n_us(us, n);
            Interval {
                t,
                users: 1,
                dropped: t,
                endpoints: vec![IntervalStats {
                    name: "a".into(),
                    requests: n,
                    failures: 1,
                    latency: Packed::pack(&l),
                }],
            }
        };
        let mut r = RunResult {
            duration_s: 4.0,
            endpoints: vec![Stats::named("a", "GET")],
            series: (0..4).map(|t| second(t, 1000 * (t + 1), 10)).collect(),
            ..RunResult::default()
        };
        r.total = Stats::named("total", "");
        let after = r.from_second(2);
        assert_eq!(after.total.requests, 20);
        assert_eq!(after.total.failures, 2);
        assert_eq!(after.total.dropped, 5);
        assert_eq!(after.total.latency.min_us() / 1000, 3);
        assert_eq!(after.endpoints[0].requests, 20);
        assert_eq!(after.total.summary.rps, 10.0);
        assert_eq!(r.from_second(0).series.len(), 4);
    }
}
