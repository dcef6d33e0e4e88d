//! The load engine: worker threads (one single-threaded runtime per core) drive virtual
//! users; a coordinator on the caller's runtime collects intervals, watches the clock,
//! the shutdown signal and the live hook, and builds the `RunResult`.

mod code;
mod connect;
mod connector;
mod cookies;
mod grpc;
mod h2;
mod http;
mod known;
mod limits;
mod log;
mod open;
mod record;
mod request;
mod response;
mod shape;
mod speaks;
mod task;
mod tls;
mod user;
mod worker;
mod ws;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

use crate::config::{Model, Plan};
use crate::metrics::{
    Collector, Generator, GitInfo, Latency, LoadChange, LoadModel, Names, Overload, RunResult,
    ScenarioInfo, StopReason,
};

pub use code::{fail, Outcome, Reply, Request};
pub use connect::probe;
pub use limits::check as check_limits;
#[doc(hidden)]
pub use request::write_for_fuzzing as write_request_for_fuzzing;
pub use response::read_for_fuzzing as read_response_for_fuzzing;
pub use shape::Shape;
pub use task::{Code, Task};
pub use user::User;

/// Called about once a second with what has been collected and the seconds elapsed.
/// Returning `Some` stops the run with that reason (e.g. an `abort_on_fail` objective).
pub type Hook<'a> = Box<dyn FnMut(&Collector, f64) -> Option<StopReason> + 'a>;

/// What a run needs besides its plan: where its result says it ran, what to log, a
/// hook called once a second (progress, exports, `abort_on_fail`), steering, and the
/// functions of tasks written in Rust.
#[derive(Default)]
pub struct RunOptions<'a> {
    pub environment: Option<String>,
    /// The commit and branch the result carries.
    pub git: GitInfo,
    /// The run this one is part of (`--run-id` and its fallbacks), which the result carries.
    pub run_id: Option<String>,
    /// Slow-request log threshold (None: off).
    pub slow_request: Option<Duration>,
    /// Log failed and slow requests to stderr (rate-limited).
    pub log_requests: bool,
    pub hook: Option<Hook<'a>>,
    /// Changes to the load asked while it runs (the dashboard's users or rate).
    pub steering: Option<mpsc::UnboundedReceiver<Steer>>,
    /// The functions the plan's tasks written in Rust call (`PlannedTask::code`).
    pub code: Vec<Arc<dyn Task>>,
}

/// A change to a running load: its users (closed model, reached at its spawn rate) or
/// its arrivals per second (open model, at once), from now to its end.
#[derive(Clone, Debug)]
pub struct Steer {
    pub value: f64,
    /// Who asked, for the result ("the dashboard").
    pub by: String,
}

/// What a run can be steered to, if anything: a single load not bounded by iterations.
/// (kind, value now, highest value allowed).
pub fn steerable(plan: &Plan) -> Result<(LoadModel, f64, f64), String> {
    let [load] = &plan.loads[..] else {
        return Err("several loads run together: steer one scenario at a time".into());
    };
    if plan.iterations.is_some() {
        return Err("the run is bounded by iterations".into());
    }
    Ok(match load.model {
        Model::Closed { users, .. } => (LoadModel::Closed, users as f64, limits::max_users()),
        Model::Open { rate, .. } => (LoadModel::Open, rate, crate::config::MAX_RATE),
    })
}

/// How long in-flight requests get to finish after the stop before they are cut.
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// Runs `plan` to completion, or until `shutdown` resolves (then the result is partial
/// and marked interrupted).
pub async fn run(
    mut plan: Plan,
    mut opts: RunOptions<'_>,
    shutdown: impl Future<Output = ()>,
) -> RunResult {
    prepare_fixed_requests(&mut plan);
    let plan = Arc::new(plan);
    let mut shapes: Vec<Shape> = plan.loads.iter().map(Shape::of_load).collect();
    let steering = opts.steering.take().filter(|_| steerable(&plan).is_ok());
    let (steer_tx, steer_rx) = watch::channel(shapes.clone());
    let mut changes: Vec<LoadChange> = Vec::new();
    let duration = plan.duration;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let started_at = SystemTime::now();
    let start = Instant::now();
    let log = Arc::new(log::Log::new(
        opts.slow_request.map_or(0, |d| d.as_micros() as u64),
        opts.log_requests,
    ));
    let names = Arc::new(Names::new(&plan.endpoints, &plan.checks, &plan.metrics));
    let shared = worker::Shared {
        names: names.clone(),
        plan: plan.clone(),
        start,
        stop: stop_rx,
        tx,
        iterations: plan.iterations.map(|n| Arc::new(AtomicU64::new(n))),
        log: log.clone(),
        shapes: shapes.clone(),
        steer: steering.is_some().then_some(steer_rx),
        code: std::mem::take(&mut opts.code).into(),
    };
    let mut steering = steering;
    let threads = plan.threads;
    let handles: Vec<_> = (0..threads)
        .map(|i| worker::spawn(i, threads, shared.clone()))
        .collect();
    drop(shared);

    let mut collector = Collector::new(&plan.endpoints, &plan.tasks, threads)
        .with_checks(&plan.checks)
        .with_metrics(&plan.metrics)
        .with_tags(&plan.endpoint_tags)
        .with_names(names);
    let mut done = 0;
    let (mut cpu_seconds, mut wait_seconds) = (0.0, 0.0);
    let (mut schedule_lag, mut timer_delays) = (Duration::ZERO, Latency::default());
    let (mut crashed, mut crash) = (0, None);
    let mut stop = StopReason::Completed;
    let deadline = tokio::time::Instant::now() + duration;
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    tokio::pin!(shutdown);
    let mut stopped_at = None;
    while done < threads {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(worker::Msg::Interval { t, rec }) => collector.add(t, rec),
                Some(worker::Msg::Done {
                    cpu_seconds: c,
                    wait_seconds: wait,
                    schedule_lag: s,
                    timer_delays: t,
                    crashed: n,
                    crash: why,
                }) => {
                    done += 1;
                    collector.worker_done();
                    cpu_seconds += c;
                    wait_seconds += wait;
                    schedule_lag = schedule_lag.max(s);
                    timer_delays.add(&t);
                    crashed += n;
                    crash = crash.or(why);
                }
                None => break,
            },
            _ = tokio::time::sleep_until(deadline), if stopped_at.is_none() => {
                stopped_at = Some(Instant::now());
                let _ = stop_tx.send(true);
            }
            _ = &mut shutdown, if stopped_at.is_none() => {
                stop = StopReason::Interrupted;
                stopped_at = Some(Instant::now());
                let _ = stop_tx.send(true);
            }
            s = next_steer(&mut steering), if stopped_at.is_none() => {
                let at = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
                let (change, ramp) = match plan.loads[0].model {
                    Model::Closed { spawn_rate, .. } => {
                        (LoadChange { at_s: at, users: Some(s.value as u64), rate: None, by: s.by }, spawn_rate)
                    }
                    Model::Open { .. } => {
                        (LoadChange { at_s: at, users: None, rate: Some(s.value), by: s.by }, 0.0)
                    }
                };
                shapes[0] = shapes[0].steered(at, s.value.floor().max(0.0), ramp);
                changes.push(change);
                let _ = steer_tx.send(shapes.clone());
            }
            _ = ticks.tick() => {
                if let Some(hook) = opts.hook.as_mut() {
                    if let (Some(reason), None) = (hook(&collector, start.elapsed().as_secs_f64()), stopped_at) {
                        stop = reason;
                        stopped_at = Some(Instant::now());
                        let _ = stop_tx.send(true);
                    }
                }
                if stopped_at.is_some_and(|t| t.elapsed() > GRACE * 3) {
                    break; // a worker is wedged: report what we have
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    for h in handles {
        if done >= threads {
            let _ = h.join();
        }
    }
    let wall = stopped_at
        .unwrap_or_else(Instant::now)
        .duration_since(start)
        .as_secs_f64();
    let checks = std::mem::take(&mut collector.checks);
    let (endpoints, total, series, tasks) = collector.finish();
    let suppressed = log.suppressed.load(std::sync::atomic::Ordering::Relaxed);
    if suppressed > 0 {
        errln!("({suppressed} more failed/slow request lines were not printed)");
    }
    let mut generator = Generator {
        threads: threads as u32,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        cpu_seconds,
        wait_seconds,
        schedule_lag_ms: schedule_lag.as_secs_f64() * 1000.0,
        timer_delay_p99_ms: timer_delays.percentile_us(99.0) as f64 / 1000.0,
        ..Generator::default()
    };
    // Users lost to a bug: the load was less than asked, so the run is inconclusive
    // like any other generator failure (judge_generator counts every note).
    if crashed > 0 {
        let why = crash.unwrap_or_default();
        errln!("error: {crashed} virtual users stopped on an internal error (a perfgate bug; please report it): {why}");
        generator.notes.push(Overload::UsersLost {
            users: crashed,
            first: why,
        });
    }
    judge_generator(&mut generator, wall);
    // A segment reports its share: merged, the segments add up to the whole run.
    let seg = plan.segment;
    // What the result says of a single load's ramp: its stages, and what steering did.
    let shape = match (&plan.loads[..], &shapes[..]) {
        ([load], [s]) if !load.stages.is_empty() || !changes.is_empty() => s.points(),
        _ => Vec::new(),
    };
    let (mut model, mut users, mut rate) = (None, 0, None::<f64>);
    for load in &plan.loads {
        let (m, r) = match load.model {
            Model::Closed { .. } => (LoadModel::Closed, None),
            Model::Open { rate, .. } => (LoadModel::Open, Some(rate / seg.count as f64)),
        };
        let u = seg.share(load.peak_users());
        model = match model {
            None => Some(m),
            Some(was) if was == m => Some(m),
            Some(_) => Some(LoadModel::Mixed),
        };
        users += u;
        if let Some(r) = r {
            rate = Some(rate.unwrap_or(0.0) + r);
        }
    }
    let mut result = RunResult {
        schema_version: crate::metrics::SCHEMA_VERSION,
        tool: concat!("perfgate ", env!("CARGO_PKG_VERSION")).to_string(),
        scenario: ScenarioInfo {
            name: plan.scenario.clone(),
            description: plan.description.clone(),
            model: model.unwrap_or_default(),
            users,
            rate,
            duration_s: duration.as_secs_f64(),
            segment: (seg.count > 1).then(|| seg.to_string()),
            shape,
            changes,
            run: opts.run_id.clone(),
            merged: None,
        },
        environment: opts.environment.clone(),
        target: plan.target.url(),
        tls_insecure: plan.target.tls && plan.tls.insecure,
        git: opts.git.clone(),
        started_at: humantime::format_rfc3339_millis(started_at).to_string(),
        ended_at: humantime::format_rfc3339_millis(started_at + Duration::from_secs_f64(wall))
            .to_string(),
        duration_s: wall,
        stop,
        stopped_segments: Default::default(),
        stopped_by: None,
        generator,
        total,
        endpoints,
        series,
        tasks,
        checks,
    };
    result.refresh();
    result
}

/// The next change asked for; pending for ever without steering.
async fn next_steer(rx: &mut Option<mpsc::UnboundedReceiver<Steer>>) -> Steer {
    if let Some(r) = rx {
        if let Some(s) = r.recv().await {
            return s;
        }
        *rx = None;
    }
    std::future::pending().await
}

/// Serialises, once, every request that has no template in it.
fn prepare_fixed_requests(plan: &mut Plan) {
    let mut users = std::mem::take(&mut plan.users);
    for req in users
        .iter_mut()
        .flat_map(|u| u.tasks.iter_mut())
        .flat_map(|t| t.steps.iter_mut())
    {
        if req.is_static() {
            let mut out = Vec::new();
            let ok = request::write_request(
                plan,
                req,
                &minijinja::Value::UNDEFINED,
                &mut out,
                &mut String::new(),
            );
            req.fixed = ok.ok().map(|()| out);
        }
    }
    plan.users = users;
}

/// The generator was the bottleneck when its threads were nearly always running or
/// waiting for a core, or its schedule or timers ran late: then latency includes
/// perfgate's own queueing. Notes already there (users lost to a bug) count as well.
fn judge_generator(g: &mut Generator, wall: f64) {
    // More threads than cores (say, pinned with taskset) share the cores they have.
    let cores_used = g.threads.min(g.cores).max(1);
    let share = |seconds: f64, of: u32| {
        if wall > 0.0 {
            seconds / (wall * of as f64)
        } else {
            0.0
        }
    };
    let busy = share(g.cpu_seconds, cores_used);
    // Running, or ready and kept off a core (by the service under test on the same
    // machine, say): either way requests waited for perfgate.
    let wanted = share(g.cpu_seconds + g.wait_seconds, g.threads.max(1));
    if busy > 0.9 {
        g.notes.push(Overload::Cpu {
            busy,
            cores: cores_used,
            threads: g.threads,
        });
    } else if wanted > 0.9 {
        g.notes.push(Overload::Waiting { wanted, busy });
    }
    if g.schedule_lag_ms > 100.0 {
        g.notes.push(Overload::ScheduleLag {
            ms: g.schedule_lag_ms,
        });
    }
    if g.timer_delay_p99_ms > 100.0 {
        g.notes.push(Overload::TimerDelay {
            ms: g.timer_delay_p99_ms,
        });
    }
    g.overloaded = !g.notes.is_empty();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(threads: u32, cores: u32, cpu_seconds: f64) -> Generator {
        let mut g = Generator {
            threads,
            cores,
            cpu_seconds,
            ..Generator::default()
        };
        judge_generator(&mut g, 10.0);
        g
    }

    #[test]
    fn a_busy_generator_is_judged_against_the_cores_it_has() {
        assert!(!judged(2, 2, 12.0).overloaded, "60% of two threads");
        assert!(judged(2, 2, 19.0).overloaded, "95% of two threads");
        // Two threads pinned to one core: 9.5 CPU-seconds in 10 s is that core, full.
        let pinned = judged(2, 1, 9.5);
        assert!(pinned.overloaded);
        let busy = 0.95;
        assert_eq!(
            pinned.notes,
            [Overload::Cpu {
                busy,
                cores: 1,
                threads: 2
            }]
        );
    }

    #[test]
    fn threads_kept_waiting_for_a_core_are_a_bottleneck_too() {
        let mut g = judged(1, 2, 7.0);
        assert!(!g.overloaded, "70% of one thread");
        g.wait_seconds = 2.5;
        judge_generator(&mut g, 10.0);
        assert!(
            matches!(g.notes[..], [Overload::Waiting { wanted, busy }] if (wanted - 0.95).abs() < 1e-9 && (busy - 0.7).abs() < 1e-9),
            "{:?}",
            g.notes
        );
    }

    #[test]
    fn a_late_schedule_and_late_timers_are_named_apart() {
        let mut g = judged(2, 2, 1.0);
        assert!(!g.overloaded);
        g.schedule_lag_ms = 250.0;
        g.timer_delay_p99_ms = 99.0;
        judge_generator(&mut g, 10.0);
        assert_eq!(g.notes, [Overload::ScheduleLag { ms: 250.0 }]);
        g.notes.clear();
        g.schedule_lag_ms = 3.0;
        g.timer_delay_p99_ms = 140.0;
        judge_generator(&mut g, 10.0);
        assert!(g.overloaded);
        assert_eq!(g.notes, [Overload::TimerDelay { ms: 140.0 }]);
    }
}
