//! Folds the workers' per-interval recorders into running totals and a time series.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::recorder::{EndpointRecorder, Recorder};
use super::{
    is_transaction, CheckCount, Interval, IntervalStats, Latency, Names, Packed, Stats, TaskCount,
};

/// Seconds an interval stays open for late hand-overs before its histograms are packed.
const OPEN_SECONDS: u64 = 3;

pub struct Collector {
    /// Cumulative, one per endpoint, in the plan's order.
    pub endpoints: Vec<Stats>,
    tasks: Vec<TaskCount>,
    series: BTreeMap<u64, Interval>,
    /// Latency of the recent intervals, still taking samples, per endpoint.
    open: BTreeMap<u64, Vec<Latency>>,
    dropped: u64,
    /// Workers still running, and how many have handed over each recent interval: the
    /// live users figure reads the latest interval all of them have handed over (with two
    /// workers, the newest interval often holds one worker's half for a moment).
    workers: usize,
    reports: BTreeMap<u64, usize>,
    whole: Option<u64>,
    /// Each soft check's counts, in the plan's order.
    pub checks: Vec<CheckCount>,
    /// The names of the numbers read from responses, in the plan's order.
    metrics: Vec<String>,
    /// Where the names user code brings while running are (None: only the plan's).
    names: Option<Arc<Names>>,
}

impl Collector {
    /// `endpoints` are (name, method); `tasks` are (user class, task); `workers` hand
    /// over one recording per interval each.
    pub fn new(
        endpoints: &[(String, String)],
        tasks: &[(String, String)],
        workers: usize,
    ) -> Collector {
        Collector {
            endpoints: endpoints.iter().map(|(n, m)| Stats::named(n, m)).collect(),
            tasks: tasks
                .iter()
                .map(|(u, t)| TaskCount {
                    user: u.clone(),
                    task: t.clone(),
                    iterations: 0,
                    code_failures: 0,
                })
                .collect(),
            series: BTreeMap::new(),
            open: BTreeMap::new(),
            dropped: 0,
            workers,
            reports: BTreeMap::new(),
            whole: None,
            checks: Vec::new(),
            metrics: Vec::new(),
            names: None,
        }
    }

    /// Takes endpoints, checks and numbers user code names while running from `names`.
    pub fn with_names(mut self, names: Arc<Names>) -> Collector {
        self.names = Some(names);
        self
    }

    /// Takes in the names user code brought since the last recording.
    fn grow(&mut self, rec: &Recorder) {
        let Some(names) = &self.names else {
            return;
        };
        if rec.endpoints.len() > self.endpoints.len() {
            let new = names.endpoints_from(self.endpoints.len());
            self.endpoints
                .extend(new.iter().map(|(n, m)| Stats::named(n, m)));
        }
        if rec.checks.len() > self.checks.len() {
            let new = names.checks_from(self.checks.len());
            self.checks
                .extend(new.into_iter().map(|(endpoint, check)| CheckCount {
                    endpoint,
                    check,
                    passed: 0,
                    failed: 0,
                }));
        }
        let metrics = rec.endpoints.iter().map(|e| e.metrics.len()).max();
        if metrics.unwrap_or(0) > self.metrics.len() {
            let new = names.metrics_from(self.metrics.len());
            self.metrics.extend(new);
        }
    }

    /// Tags each endpoint (the plan's order) as the config does.
    pub fn with_tags(mut self, tags: &[BTreeMap<String, String>]) -> Collector {
        for (e, t) in self.endpoints.iter_mut().zip(tags) {
            e.tags = t.clone();
        }
        self
    }

    /// Names the numbers read from responses (`metrics = { ... }`), in the plan's order.
    pub fn with_metrics(mut self, names: &[String]) -> Collector {
        self.metrics = names.to_vec();
        self
    }

    /// Counts these soft checks, (endpoint, what it checks) each.
    pub fn with_checks(mut self, checks: &[(String, String)]) -> Collector {
        self.checks = checks
            .iter()
            .map(|(endpoint, check)| CheckCount {
                endpoint: endpoint.clone(),
                check: check.clone(),
                passed: 0,
                failed: 0,
            })
            .collect();
        self
    }

    /// A worker has stopped: it hands over no more intervals.
    pub fn worker_done(&mut self) {
        self.workers = self.workers.saturating_sub(1);
        self.settle();
    }

    /// Moves `whole` to the latest interval every running worker has handed over.
    fn settle(&mut self) {
        let latest = self
            .reports
            .iter()
            .rev()
            .find(|(_, n)| **n >= self.workers)
            .map(|(t, _)| *t);
        self.whole = self.whole.max(latest);
    }

    /// Adds one worker's recording of interval `t` (seconds since start).
    pub fn add(&mut self, t: u64, rec: Recorder) {
        self.grow(&rec);
        let interval = self.series.entry(t).or_insert_with(|| Interval {
            t,
            ..Interval::default()
        });
        // Every endpoint has its slot, those user code named after this began included.
        let have = interval.endpoints.len();
        interval
            .endpoints
            .extend(self.endpoints[have..].iter().map(|e| IntervalStats {
                name: e.name.clone(),
                ..IntervalStats::default()
            }));
        interval.users += rec.users;
        interval.dropped += rec.dropped;
        self.dropped += rec.dropped;
        for (i, [n, failed]) in rec.tasks.iter().enumerate() {
            self.tasks[i].iterations += n;
            self.tasks[i].code_failures += failed;
        }
        for (c, [held, not]) in self.checks.iter_mut().zip(&rec.checks) {
            c.passed += held;
            c.failed += not;
        }
        let n = self.endpoints.len();
        let open = self.open.entry(t).or_default();
        open.resize(n, Latency::default());
        for (i, e) in rec.endpoints.into_iter().enumerate() {
            let slot = &mut interval.endpoints[i];
            slot.requests += e.requests;
            slot.failures += e.failures;
            open[i].add(&e.latency);
            fold(&mut self.endpoints[i], e, &self.metrics);
        }
        *self.reports.entry(t).or_default() += 1;
        self.settle();
        self.pack_before(t.saturating_sub(OPEN_SECONDS));
    }

    /// Packs the histograms of every open interval before `t`.
    fn pack_before(&mut self, t: u64) {
        self.reports.retain(|k, _| *k >= t);
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= t {
                break;
            }
            let (t, latencies) = entry.remove_entry();
            let interval = self
                .series
                .get_mut(&t)
                .expect("open intervals are in the series");
            for (slot, l) in interval.endpoints.iter_mut().zip(latencies) {
                slot.latency = Packed::pack(&l);
            }
            // An endpoint that got no request in a second costs nothing in it: an hour
            // of 300 mostly idle endpoints kept 300 slots a second, ~1 million in all.
            interval.endpoints.retain(|e| e.requests > 0);
        }
    }

    pub fn total(&self) -> Stats {
        let mut total = Stats::named("Total", "");
        for e in self.endpoints.iter().filter(|e| !is_transaction(&e.name)) {
            total.add(e);
        }
        total.dropped = self.dropped;
        total
    }

    /// The intervals from `t` on whose histograms are packed: no more samples arrive.
    pub fn closed_intervals(&self, t: u64) -> impl Iterator<Item = &Interval> {
        let open = self.open.keys().next().copied().unwrap_or(u64::MAX);
        self.series.range(t..open.max(t)).map(|(_, i)| i)
    }

    /// Users active in the latest interval every worker has handed over.
    pub fn users(&self) -> u64 {
        self.whole
            .and_then(|t| self.series.get(&t))
            .map_or(0, |i| i.users)
    }

    /// Endpoints sorted by name, the total, the series and the task counts.
    pub fn finish(mut self) -> (Vec<Stats>, Stats, Vec<Interval>, Vec<TaskCount>) {
        self.pack_before(u64::MAX);
        let total = self.total();
        let mut endpoints = self.endpoints;
        endpoints.sort_by(|a, b| a.name.cmp(&b.name));
        let mut series: Vec<Interval> = self.series.into_values().collect();
        for i in &mut series {
            i.endpoints.retain(|e| e.requests > 0);
        }
        (endpoints, total, series, self.tasks)
    }
}

fn fold(into: &mut Stats, e: EndpointRecorder, metrics: &[String]) {
    into.requests += e.requests;
    into.failures += e.failures;
    into.interrupted += e.interrupted;
    for (reason, n) in e.reasons {
        *into.failure_reasons.entry(reason.to_string()).or_default() += n;
    }
    for (class, n) in e.status.iter().enumerate().filter(|(_, n)| **n > 0) {
        *into.status_classes.entry(status_class(class)).or_default() += n;
    }
    into.body_bytes += e.body_bytes;
    into.retries += e.retries;
    into.http2_connections += e.http2_connections;
    into.checks_passed += e.checks_passed;
    into.checks_failed += e.checks_failed;
    into.messages_sent += e.messages_sent;
    into.messages_received += e.messages_received;
    into.latency.add(&e.latency);
    into.ttfb.add(&e.ttfb);
    into.connect.add(&e.connect);
    for (l, name) in e.metrics.iter().zip(metrics).filter(|(l, _)| l.count() > 0) {
        into.metrics.entry(name.clone()).or_default().add(l);
    }
}

/// "none" for index 0, else "1xx" … "5xx".
pub fn status_class(index: usize) -> String {
    if index == 0 {
        "none".to_string()
    } else {
        format!("{index}xx")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(users: u64) -> Recorder {
        Recorder {
            users,
            ..Recorder::new(1, 1)
        }
    }

    #[test]
    fn live_users_wait_for_every_worker_of_an_interval() {
        let endpoints = [("/".to_string(), "GET".to_string())];
        let tasks = [("U".to_string(), "t".to_string())];
        let mut c = Collector::new(&endpoints, &tasks, 2);
        assert_eq!(c.users(), 0);
        c.add(0, rec(5));
        assert_eq!(c.users(), 0, "half of second 0 is not its user count");
        c.add(0, rec(5));
        assert_eq!(c.users(), 10);
        c.add(1, rec(5));
        assert_eq!(c.users(), 10, "second 1 has one worker's half so far");
        c.add(1, rec(6));
        assert_eq!(c.users(), 11);
        // One worker stops: the other's intervals are whole on their own.
        c.add(2, rec(6));
        c.worker_done();
        assert_eq!(c.users(), 6);
        c.add(3, rec(4));
        assert_eq!(c.users(), 4);
    }

    #[test]
    fn a_packed_second_keeps_only_the_endpoints_that_got_requests() {
        let endpoints: Vec<(String, String)> = (0..300)
            .map(|i| (format!("/e{i}"), "GET".to_string()))
            .collect();
        let mut c = Collector::new(&endpoints, &[], 1);
        for t in 0..10 {
            let mut r = Recorder::new(300, 0);
            r.answered(7, 1_000);
            c.add(t, r);
        }
        // Seconds past the open window are packed: one slot each, the busy endpoint's.
        let packed: Vec<&Interval> = c.closed_intervals(0).collect();
        assert!(packed.len() >= 6, "{}", packed.len());
        for i in packed {
            assert_eq!(i.endpoints.len(), 1, "second {}", i.t);
            assert_eq!(
                (i.endpoints[0].name.as_str(), i.endpoints[0].requests),
                ("/e7", 1)
            );
        }
        let (_, total, series, _) = c.finish();
        assert_eq!(total.requests, 10);
        assert_eq!(series.len(), 10);
    }
}
