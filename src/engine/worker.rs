//! A worker thread: a single-threaded tokio runtime driving its share of the virtual
//! users, recording into its own `Recorder` and handing it to the collector every second.
//! Nothing on the request path is shared with other threads except atomics.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant as TokioInstant;

use super::connector::Connector;
use super::log::Log;
use super::open::{schedule, Arrivals, Schedule};
use super::shape::{Live, Shape};
use super::user::User;
use super::GRACE;
use crate::config::{Model, Plan};
use crate::metrics::{Failure, Latency, Names, Recorder};

/// What a worker tells the coordinator.
pub enum Msg {
    /// Everything recorded in interval `t` (seconds since start).
    Interval { t: u64, rec: Recorder },
    /// The worker finished: its CPU seconds and health figures.
    Done {
        cpu_seconds: f64,
        /// Seconds ready to run but waiting for a core.
        wait_seconds: f64,
        /// Worst lateness of an open-model arrival past its due time.
        schedule_lag: Duration,
        /// How late this thread's once-a-second timer fired, in µs: the runtime's
        /// scheduling delay.
        timer_delays: Latency,
        /// Virtual users that ended on a panic (a perfgate bug), with the first message.
        crashed: u64,
        crash: Option<String>,
    },
}

/// A user that has started; see `Worker::join`.
pub struct Joined<'a> {
    w: &'a Worker,
    owes: bool,
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        if self.owes {
            self.w.leaving.set(self.w.leaving.get() - 1);
            self.w.settle();
        }
    }
}

/// What all workers share.
#[derive(Clone)]
pub struct Shared {
    pub plan: Arc<Plan>,
    pub start: Instant,
    pub stop: watch::Receiver<bool>,
    pub tx: mpsc::UnboundedSender<Msg>,
    /// Iterations left, when the run is bounded by a count.
    pub iterations: Option<Arc<AtomicU64>>,
    pub log: Arc<Log>,
    /// One per load of the plan.
    pub shapes: Vec<Shape>,
    /// Each load's shape again whenever the run is steered (None: steering is off).
    pub steer: Option<watch::Receiver<Vec<Shape>>>,
    /// Endpoints, checks and numbers named by Rust tasks as they run.
    pub names: Arc<Names>,
    /// The functions of tasks written in Rust, by `PlannedTask::code`.
    pub code: Arc<[Arc<dyn super::Task>]>,
}

pub struct Worker {
    pub plan: Arc<Plan>,
    /// The functions of tasks written in Rust, by `PlannedTask::code`.
    pub code: Arc<[Arc<dyn super::Task>]>,
    pub connector: Connector,
    pub recorder: RefCell<Recorder>,
    pub start: Instant,
    /// The run is stopping: no new request starts.
    stopping: Cell<bool>,
    /// Requests on the wire, and a wake-up for when the last one lands while stopping.
    in_flight: Cell<u64>,
    settled: Notify,
    /// Users that still owe their `on_stop`: the stop waits for them too (within GRACE).
    leaving: Cell<u64>,
    stop: watch::Receiver<bool>,
    start_tokio: TokioInstant,
    iterations: Option<Arc<AtomicU64>>,
    log: Arc<Log>,
    schedule_lag: Cell<Duration>,
    timer_delays: RefCell<Latency>,
    pub(super) names: Arc<Names>,
    /// This thread's copy of what it has looked up in `names`.
    pub(super) known: RefCell<super::known::Known>,
    /// Body buffers dropped replies gave back (see `code::Reply`).
    bodies: RefCell<Vec<Vec<u8>>>,
}

impl Worker {
    /// False once the run is stopping: start no new request.
    pub fn running(&self) -> bool {
        !self.stopping.get()
    }

    /// Marks a request as sent until `InFlight::land`; dropped unlanded (the stop cut it)
    /// it counts as interrupted.
    pub fn take_off(&self, endpoint: usize) -> InFlight<'_> {
        self.in_flight.set(self.in_flight.get() + 1);
        InFlight { w: self, endpoint }
    }

    fn landed(&self) {
        self.in_flight.set(self.in_flight.get() - 1);
        self.settle();
    }

    /// Wakes the stop when nothing is left to wait for.
    fn settle(&self) {
        if self.in_flight.get() == 0 && self.leaving.get() == 0 && self.stopping.get() {
            self.settled.notify_one();
        }
    }

    /// A user has started (its on_start done): with `owes_on_stop`, the run's stop waits
    /// for it to send its on_stop until the guard is dropped.
    pub fn join(&self, owes_on_stop: bool) -> Joined<'_> {
        if owes_on_stop {
            self.leaving.set(self.leaving.get() + 1);
        }
        Joined {
            w: self,
            owes: owes_on_stop,
        }
    }

    /// Sleeps `d`, or less when the run stops meanwhile.
    pub async fn pause(&self, d: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }

    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn instant_at(&self, secs: f64) -> TokioInstant {
        self.start_tokio + Duration::from_secs_f64(secs.max(0.0))
    }

    /// Claims one iteration of an iteration-bounded run.
    pub fn take_iteration(&self) -> bool {
        match &self.iterations {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }

    /// The failure with every secret value (see `Plan::secrets`) replaced: reasons go to
    /// the log, the result and every report.
    pub fn redact(&self, f: Failure) -> Failure {
        let hide = |text: String| {
            self.plan
                .secrets
                .iter()
                .fold(text, |t, s| t.replace(s.as_str(), "[redacted]"))
        };
        match f {
            Failure::Expect(t) => Failure::Expect(hide(t)),
            Failure::Redirect(t) => Failure::Redirect(hide(t)),
            Failure::Code(t) => Failure::Code(hide(t)),
            Failure::Protocol(t) => Failure::Protocol(hide(t)),
            Failure::Template(t) => Failure::Template(hide(t)),
            Failure::Connect(t) => Failure::Connect(hide(t)),
            other => other,
        }
    }

    pub fn log_failure(&self, endpoint: usize, f: &Failure) {
        let name = self.endpoint_name(endpoint);
        self.log.line(format_args!("request failed: {name} - {f}"));
    }

    #[inline]
    pub fn log_slow(&self, endpoint: usize, us: u64) {
        if self.log.slow_us > 0 && us > self.log.slow_us {
            let name = self.endpoint_name(endpoint);
            self.log
                .line(format_args!("slow request: {name} took {} ms", us / 1000));
        }
    }

    /// The plan's endpoints, then those Rust tasks named as the run went on.
    fn endpoint_name(&self, endpoint: usize) -> std::borrow::Cow<'_, str> {
        match self.plan.endpoints.get(endpoint) {
            Some((name, _)) => name.into(),
            None => self.names.endpoint_name(endpoint).into(),
        }
    }

    /// A body buffer a reply gave back, or a new one.
    pub fn spare_body(&self) -> Vec<u8> {
        self.bodies.borrow_mut().pop().unwrap_or_default()
    }

    /// Keeps a reply's body buffer for the next response (a few, not too large).
    pub fn give_body(&self, mut body: Vec<u8>) {
        let mut spare = self.bodies.borrow_mut();
        if spare.len() < 64 && body.capacity() <= 64 * 1024 {
            body.clear();
            spare.push(body);
        }
    }

    /// Notes that an open-model arrival was handed out `lag` after its due time.
    pub fn schedule_late(&self, lag: Duration) {
        if lag > self.schedule_lag.get() {
            self.schedule_lag.set(lag);
        }
    }

    /// Records how late a timer due `at` fired.
    fn timer_fired(&self, at: TokioInstant) {
        let late = TokioInstant::now().saturating_duration_since(at);
        self.timer_delays
            .borrow_mut()
            .record_us(late.as_micros() as u64);
    }
}

/// Starts worker `index` of `threads` on its own OS thread.
pub fn spawn(index: usize, threads: usize, shared: Shared) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("perfgate-worker-{index}"))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, work(index, threads, shared));
        })
        .expect("spawning a worker thread")
}

async fn work(index: usize, threads: usize, s: Shared) {
    let plan = s.plan.clone();
    let recorder =
        Recorder::new(plan.endpoints.len(), plan.tasks.len()).with_checks(plan.checks.len());
    let elapsed_now = s.start.elapsed();
    let w = Rc::new(Worker {
        connector: Connector::new(&plan, index, threads),
        plan: plan.clone(),
        code: s.code.clone(),
        recorder: RefCell::new(recorder),
        stopping: Cell::new(false),
        in_flight: Cell::new(0),
        settled: Notify::new(),
        leaving: Cell::new(0),
        stop: s.stop.clone(),
        start: s.start,
        start_tokio: TokioInstant::now() - elapsed_now,
        iterations: s.iterations.clone(),
        log: s.log.clone(),
        schedule_lag: Cell::new(Duration::ZERO),
        timer_delays: RefCell::default(),
        names: s.names.clone(),
        known: RefCell::default(),
        bodies: RefCell::default(),
    });
    let classes = class_sequence(&plan);
    // User number and arrival number k are this thread's when
    // k = segment + segments × (index + threads × j): segments, then threads, interleave.
    let seg = plan.segment;
    let lane = (seg.index + seg.count * index as u64) as usize;
    let lanes = (seg.count * threads as u64) as usize;
    let mut tasks = tokio::task::JoinSet::new();
    let mut queues = Vec::new();
    let mut lives = Vec::new();
    // Per closed load, the next user number of this thread not yet spawned.
    let mut unspawned = Vec::new();
    let closed_user = |id: u64| User::new(id, classes[id as usize % classes.len()], &w);
    for (load, shape) in plan.loads.iter().zip(&s.shapes) {
        let shape = Rc::new(Live::new(shape.clone(), s.steer.is_some()));
        lives.push(shape.clone());
        match load.model {
            Model::Closed { .. } => {
                // User number `id` runs while the shape is above `id`.
                let total = shape.get().max().ceil() as u64;
                let mut id = lane as u64;
                while id < total {
                    tasks.spawn_local(closed_user(id).run_closed(w.clone(), shape.clone()));
                    id += lanes as u64;
                }
                unspawned.push(id);
            }
            Model::Open {
                max_users,
                arrivals,
                ..
            } => {
                unspawned.push(u64::MAX);
                // Idle users by class: arrivals follow the class weights, whichever
                // class happens to answer fastest.
                let queue = Rc::new(Arrivals::new(plan.users.len()));
                queues.push(queue.clone());
                for id in (lane as u64..max_users).step_by(lanes) {
                    let class = classes[id as usize % classes.len()];
                    let user = User::new(id, class, &w);
                    tasks.spawn_local(user.run_open(w.clone(), queue.clone()));
                }
                let end = (load.start + load.duration).as_secs_f64();
                tasks.spawn_local(schedule(
                    w.clone(),
                    Schedule {
                        queue,
                        lane,
                        lanes,
                        arrivals,
                        classes: classes.clone(),
                        shape,
                        end,
                    },
                ));
            }
        }
    }
    let ticker = tokio::task::spawn_local(tick(w.clone(), s.tx.clone()));
    // Users end by themselves (load over, iterations used up) or at the run's stop: then
    // nothing new starts, requests on the wire get GRACE to land, and the rest is cut
    // (counted as interrupted). Steering meanwhile replaces the shapes, and users beyond
    // the planned peak are spawned as they are asked for.
    let mut stop = s.stop.clone();
    let mut steer = s.steer.clone();
    let crashes = Crashes::default();
    loop {
        tokio::select! {
            () = crashes.join_all(&mut tasks) => break,
            shapes = steered(&mut steer) => {
                for ((live, shape), next) in lives.iter().zip(shapes).zip(&mut unspawned) {
                    let total = shape.max().ceil() as u64;
                    live.set(shape);
                    while *next < total {
                        tasks.spawn_local(closed_user(*next).run_closed(w.clone(), live.clone()));
                        *next += lanes as u64;
                    }
                }
            }
            _ = stop.wait_for(|s| *s) => {
                w.stopping.set(true);
                let grace = tokio::time::sleep(GRACE);
                tokio::pin!(grace);
                while w.in_flight.get() > 0 || w.leaving.get() > 0 {
                    tokio::select! {
                        () = w.settled.notified() => {}
                        () = &mut grace => break,
                    }
                }
                tasks.abort_all();
                crashes.join_all(&mut tasks).await;
                for q in &queues {
                    q.interrupt_left(&w);
                }
                break;
            }
        }
    }
    ticker.abort();
    let t = w.elapsed() as u64;
    let rec = w.recorder.borrow_mut().take();
    let _ = s.tx.send(Msg::Interval { t, rec });
    let _ = s.tx.send(Msg::Done {
        cpu_seconds: thread_cpu_seconds(),
        wait_seconds: thread_wait_seconds(),
        schedule_lag: w.schedule_lag.get(),
        timer_delays: w.timer_delays.take(),
        crashed: crashes.count.get(),
        crash: crashes.first.take(),
    });
}

/// The shapes again after the run was steered; pending for ever when steering is off
/// or over.
async fn steered(rx: &mut Option<watch::Receiver<Vec<Shape>>>) -> Vec<Shape> {
    let Some(r) = rx else {
        return std::future::pending().await;
    };
    if r.changed().await.is_err() {
        *rx = None;
        return std::future::pending().await;
    }
    r.borrow_and_update().clone()
}

/// User tasks that panicked: counted, so a bug shows in the verdict instead of quietly
/// running less load than asked.
#[derive(Default)]
struct Crashes {
    count: Cell<u64>,
    first: RefCell<Option<String>>,
}

impl Crashes {
    async fn join_all(&self, tasks: &mut tokio::task::JoinSet<()>) {
        while let Some(done) = tasks.join_next().await {
            let Err(e) = done else { continue };
            if let Ok(panic) = e.try_into_panic() {
                self.count.set(self.count.get() + 1);
                let mut first = self.first.borrow_mut();
                if first.is_none() {
                    *first = Some(match panic.downcast::<String>() {
                        Ok(s) => *s,
                        Err(p) => p.downcast::<&str>().map_or("?".into(), |s| s.to_string()),
                    });
                }
            }
        }
    }
}

/// Hands the recorder to the collector at every whole second since the start, noting how
/// late the timer fired: the runtime's scheduling delay. (A 10 ms probe timer would
/// sample it more often, but cost 6% of the requests per CPU-second on a VM.)
async fn tick(w: Rc<Worker>, tx: mpsc::UnboundedSender<Msg>) {
    let mut t = w.elapsed() as u64;
    loop {
        let at = w.instant_at((t + 1) as f64);
        tokio::time::sleep_until(at).await;
        w.timer_fired(at);
        let rec = w.recorder.borrow_mut().take();
        if tx.send(Msg::Interval { t, rec }).is_err() {
            return;
        }
        t += 1;
    }
}

/// A request on the wire (see `Worker::take_off`).
pub struct InFlight<'a> {
    w: &'a Worker,
    endpoint: usize,
}

impl InFlight<'_> {
    /// The exchange ended (response, failure or timeout).
    pub fn land(self) {
        self.w.landed();
        std::mem::forget(self);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.w.recorder.borrow_mut().interrupted(self.endpoint);
        self.w.landed();
    }
}

/// User classes in proportion to their weights: weights [1, 1, 3] give [0, 1, 2, 2, 2],
/// and user number i gets entry i modulo its length.
fn class_sequence(plan: &Plan) -> Vec<usize> {
    let seq: Vec<usize> = plan
        .users
        .iter()
        .enumerate()
        .flat_map(|(i, u)| std::iter::repeat_n(i, u.weight as usize))
        .collect();
    debug_assert!(
        !seq.is_empty(),
        "the plan checks that class weights add up above 0"
    );
    seq
}

/// Seconds this thread spent ready to run but waiting for a core (Linux schedstat's
/// run-queue wait; 0 where the kernel does not keep it).
fn thread_wait_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let waited_ns: u64 = stat
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    waited_ns as f64 / 1e9
}

/// CPU seconds (user + system) this thread has used; 0 where the OS does not say per
/// thread (macOS, Windows: there the CPU-bound generator check sees no CPU and only the
/// schedule and timer checks judge it).
#[cfg(not(target_os = "linux"))]
fn thread_cpu_seconds() -> f64 {
    0.0
}

/// CPU seconds (user + system) this thread has used.
#[cfg(target_os = "linux")]
fn thread_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_THREAD, &mut u) != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panicked_user_tasks_are_counted_with_the_first_message() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let crashes = Crashes::default();
        local.block_on(&rt, async {
            let mut tasks = tokio::task::JoinSet::new();
            tasks.spawn_local(async {});
            tasks.spawn_local(async { panic!("user {} broke", 7) });
            tasks.spawn_local(async { panic!("a static message") });
            tasks.spawn_local(std::future::pending());
            tokio::task::yield_now().await; // every task runs once
            tasks.abort_all();
            crashes.join_all(&mut tasks).await;
        });
        // The aborted task is not a crash; both panics are, whichever came first.
        assert_eq!(crashes.count.get(), 2);
        let first = crashes.first.take().unwrap();
        assert!(
            first == "user 7 broke" || first == "a static message",
            "{first}"
        );
    }
}
