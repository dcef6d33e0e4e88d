//! Live export while the load runs: Prometheus remote write, InfluxDB line protocol
//! (v1 `/write` and v2 `/api/v2/write`), and a Prometheus scrape endpoint.
//!
//! The load never waits for a metrics backend: snapshots go through a bounded queue to
//! one exporter thread, and when that queue is full the snapshot is dropped and
//! counted. Every request has a 5-second timeout. At the end the final snapshot — equal
//! to the RunResult — is sent and given a few seconds to arrive.

mod influx;
pub mod prometheus;
mod scrape;
pub mod snapshot;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

use crate::metrics::{Collector, RunResult};
use snapshot::Snapshot;

/// Snapshots that may wait for a slow backend before new ones are dropped.
const QUEUE: usize = 4;
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the end of a run waits for the final snapshot to be delivered.
const FINAL_WAIT: Duration = Duration::from_secs(8);

/// Where `--export` sends: `prometheus=URL` (remote write) or `influxdb=URL`.
#[derive(Clone, Debug, PartialEq)]
pub enum Sink {
    Prometheus(String),
    Influx { url: String, v2: bool },
}

impl Sink {
    pub fn parse(spec: &str) -> Result<Sink> {
        let (kind, url) = spec
            .split_once('=')
            .with_context(|| format!("--export {spec:?}: write KIND=URL, e.g. prometheus=http://127.0.0.1:9090/api/v1/write"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--export {spec:?}: the URL must start with http:// or https://");
        }
        Ok(match kind {
            "prometheus" => Sink::Prometheus(url.to_string()),
            "influxdb" | "influx" => {
                let (url, v2) = influx::endpoint(url);
                Sink::Influx { url, v2 }
            }
            other => bail!("--export: unknown kind {other:?}; use prometheus or influxdb"),
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Sink::Prometheus(_) => "prometheus",
            Sink::Influx { .. } => "influxdb",
        }
    }
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

enum Job {
    Send(Arc<Snapshot>),
    Flush(SyncSender<()>),
}

pub struct Exporter {
    scenario: String,
    environment: String,
    start_ms: Option<i64>,
    every_s: f64,
    last_push: f64,
    next_t: u64,
    queue: Option<SyncSender<Job>>,
    sinks: Vec<Sink>,
    counts: Arc<Counts>,
    scrape: Option<scrape::Server>,
}

impl Exporter {
    /// Checks every sink and binds the scrape endpoint now, before any load.
    pub fn new(
        specs: &[String],
        every: Duration,
        listen: Option<&str>,
        scenario: &str,
        environment: Option<&str>,
        influx_token: Option<String>,
    ) -> Result<Option<Exporter>> {
        let sinks = specs
            .iter()
            .map(|s| Sink::parse(s))
            .collect::<Result<Vec<_>>>()?;
        if sinks.is_empty() && listen.is_none() {
            return Ok(None);
        }
        let scrape = listen
            .map(|addr| {
                scrape::Server::start(addr)
                    .with_context(|| format!("--metrics-listen: cannot listen on {addr}"))
            })
            .transpose()?;
        if let Some(s) = &scrape {
            outln!("metrics for Prometheus at http://{}/metrics", s.addr);
        }
        let counts = Arc::new(Counts::default());
        let queue = (!sinks.is_empty()).then(|| {
            spawn(
                sinks.clone(),
                counts.clone(),
                scenario,
                environment,
                influx_token,
            )
        });
        Ok(Some(Exporter {
            scenario: scenario.to_string(),
            environment: environment.unwrap_or("none").to_string(),
            start_ms: None,
            every_s: every.as_secs_f64().max(0.1),
            last_push: f64::NEG_INFINITY,
            next_t: 0,
            queue,
            sinks,
            counts,
            scrape,
        }))
    }

    /// Called once a second by the engine: refreshes the scrape endpoint and pushes
    /// every few seconds.
    pub fn tick(&mut self, c: &Collector, elapsed: f64) {
        let start = *self
            .start_ms
            .get_or_insert_with(|| snapshot::now_ms() - (elapsed * 1000.0) as i64);
        // Ticks come about once a second; allow for their jitter.
        let push = elapsed - self.last_push >= self.every_s - 0.1;
        if !push && self.scrape.is_none() {
            return;
        }
        let from = if push { self.next_t } else { u64::MAX };
        let (snap, next) = snapshot::live(c, start, from);
        if let Some(s) = &self.scrape {
            s.publish(prometheus::exposition(
                &snap,
                &self.scenario,
                &self.environment,
            ));
        }
        if push {
            self.last_push = elapsed;
            self.next_t = next;
            self.enqueue(Arc::new(snap));
        }
    }

    fn enqueue(&self, snap: Arc<Snapshot>) {
        if let Some(q) = &self.queue {
            if let Err(TrySendError::Full(_)) = q.try_send(Job::Send(snap)) {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Sends the final snapshot (equal to `r`), waits a little for it to arrive and for
    /// one last scrape, and says what was delivered.
    pub fn finish(mut self, r: &RunResult) {
        self.end_load(r);
        self.close();
    }

    /// A load ended (a run, or one step of a capacity search), `r` its whole result:
    /// its seconds not pushed yet go out with its complete counts, and the next load's
    /// seconds are stamped from its own start.
    pub fn end_load(&mut self, r: &RunResult) {
        let start = self
            .start_ms
            .unwrap_or_else(|| snapshot::now_ms() - (r.duration_s * 1000.0) as i64);
        let snap = snapshot::last(r, start, self.next_t);
        if let Some(s) = &self.scrape {
            s.publish(prometheus::exposition(
                &snap,
                &self.scenario,
                &self.environment,
            ));
        }
        if let Some(q) = &self.queue {
            // The load's last snapshot waits for room (it carries the complete counts),
            // but never more than FINAL_WAIT: a dead backend cannot hold the exit.
            let _ = send_within(q, Job::Send(Arc::new(snap)), FINAL_WAIT);
        }
        self.start_ms = None;
        self.next_t = 0;
        self.last_push = f64::NEG_INFINITY;
    }

    /// After the last load: waits a little for what was sent to arrive and for one last
    /// scrape, and says what was delivered.
    pub fn close(self) {
        if let Some(q) = &self.queue {
            let deadline = Instant::now() + FINAL_WAIT;
            let left = || deadline.saturating_duration_since(Instant::now());
            let (ack, done) = sync_channel(1);
            let delivered =
                send_within(q, Job::Flush(ack), left()) && done.recv_timeout(left()).is_ok();
            let c = &self.counts;
            let names: Vec<&str> = self.sinks.iter().map(Sink::name).collect();
            errln!(
                "export ({}): {} sent, {} failed, {} dropped (queue full){}",
                names.join(", "),
                c.sent.load(Ordering::Relaxed),
                c.failed.load(Ordering::Relaxed),
                c.dropped.load(Ordering::Relaxed),
                if delivered {
                    ""
                } else {
                    "; the last ones may not have arrived"
                }
            );
        }
        if let Some(s) = self.scrape {
            s.linger(Duration::from_secs(15));
        }
    }
}

/// `send` with a deadline (std's SyncSender has none): polls `try_send`.
fn send_within(q: &SyncSender<Job>, mut job: Job, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match q.try_send(job) {
            Ok(()) => return true,
            Err(TrySendError::Disconnected(_)) => return false,
            Err(TrySendError::Full(j)) if Instant::now() < deadline => {
                job = j;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(TrySendError::Full(_)) => return false,
        }
    }
}

/// The exporter thread: sends each snapshot to every sink, counting what failed.
fn spawn(
    sinks: Vec<Sink>,
    counts: Arc<Counts>,
    scenario: &str,
    environment: Option<&str>,
    token: Option<String>,
) -> SyncSender<Job> {
    let (tx, rx) = sync_channel::<Job>(QUEUE);
    let scenario = scenario.to_string();
    let environment = environment.unwrap_or("none").to_string();
    std::thread::Builder::new()
        .name("perfgate-export".into())
        .spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(TIMEOUT))
                .build()
                .into();
            let mut warned = false;
            for job in rx {
                let snap = match job {
                    Job::Send(s) => s,
                    Job::Flush(ack) => {
                        let _ = ack.send(());
                        continue;
                    }
                };
                for sink in &sinks {
                    let sent = match sink {
                        Sink::Prometheus(url) => agent
                            .post(url)
                            .header("Content-Encoding", "snappy")
                            .header("Content-Type", "application/x-protobuf")
                            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                            .send(&prometheus::remote_write(&snap, &scenario, &environment)[..]),
                        Sink::Influx { url, v2 } => {
                            let mut req = agent.post(url).header("Content-Type", "text/plain");
                            if let (true, Some(t)) = (v2, &token) {
                                req = req.header("Authorization", &format!("Token {t}"));
                            }
                            req.send(influx::lines(&snap, &scenario, &environment).as_str())
                        }
                    };
                    match sent {
                        Ok(_) => counts.sent.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            if !warned {
                                errln!("warning: export to {} failed: {e} (the load goes on; later failures are counted, not shown)", sink.name());
                                warned = true;
                            }
                            counts.failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            }
        })
        .expect("spawn the exporter thread");
    tx
}
