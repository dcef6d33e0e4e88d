//! A virtual user: one connection, its own extracted variables, looping over tasks.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use minijinja::Value;
use tokio::time::{Instant as TokioInstant, Sleep};

use super::http::{Conn, Keep};
use super::open::Arrivals;
use super::record::{let_go_of_big_body, unsent};
use super::request::write_request;
use super::shape::Live;
use super::worker::{Joined, Worker};
use crate::config::{PlannedStep, PlannedTask, PlannedUser, Repeat, StepKind, Wait};
use crate::metrics::Failure;

/// Memory a user keeps for response bodies between iterations.
pub(super) const KEPT_BODY_BYTES: usize = 64 * 1024;

/// A virtual user: what a task written in Rust is handed (see [`super::Task`]). Its
/// requests go out on its own connection, with its cookies.
pub struct User {
    pub(super) id: u64,
    class: usize,
    pub(super) conn: Conn,
    pub(super) timeout: Timeout,
    pub(super) vars: BTreeMap<String, Value>,
    iteration: u64,
    pub(super) out: Vec<u8>,
    scratch: String,
    pub(super) body: Vec<u8>,
    /// Sending its on_stop after the run stopped (within the grace).
    pub(super) stopping: bool,
    /// Its worker thread (Rust tasks send through it).
    pub(super) w: Rc<Worker>,
    /// A Rust task's first request counts its latency from here (the open model's
    /// scheduled arrival).
    pub(super) due: Option<Instant>,
    /// The endpoint of the last request a Rust task sent, and the task's own.
    pub(super) last: Option<usize>,
    pub(super) task_endpoint: Option<usize>,
    /// `User::state`.
    pub(super) state: Option<Box<dyn std::any::Any>>,
    /// The task's WebSocket session, while one is open.
    pub(super) ws: Option<Box<super::ws::Session>>,
}

/// How a task ended.
#[derive(Debug, PartialEq)]
pub enum Ended {
    Done,
    Failed(Failure),
    /// The run stopped before its end.
    Stopped,
}

/// What a sent request asks next.
pub(super) enum Sent {
    Done,
    /// `repeat = { until }` does not hold yet.
    Again,
}

impl User {
    pub(super) fn new(id: u64, class: usize, w: &Rc<Worker>) -> User {
        User {
            id,
            class,
            conn: Conn::default(),
            timeout: Timeout::new(w.plan.timeout),
            vars: BTreeMap::new(),
            iteration: 0,
            out: Vec::new(),
            scratch: String::new(),
            body: Vec::new(),
            stopping: false,
            w: w.clone(),
            due: None,
            last: None,
            task_endpoint: None,
            state: None,
            ws: None,
        }
    }

    /// Closed model: iterate with think time while the load shape keeps this user on.
    /// A user joins with its `on_start` (tried again before the next iteration when it
    /// failed) and leaves with its `on_stop`: when the shape parks it (a ramp-down; it
    /// joins again if brought back), when its load is over, or at the run's stop (which
    /// waits for it, within the grace for requests in flight).
    pub(super) async fn run_closed(mut self, w: Rc<Worker>, shape: Rc<Live>) {
        let class = &w.plan.users[self.class];
        let level = self.id as f64;
        let mut active = Active::new(&w);
        let mut joined = None;
        loop {
            let started = Instant::now();
            // Park until the shape wants this user (spawn ramp, stages, steering), or
            // leave: when nothing brings it back before the load ends.
            let now = started.duration_since(w.start).as_secs_f64();
            let next = shape.get().next_above(level, now);
            match next {
                None if !shape.steerable || shape.get().ended(now) => break,
                Some(t) if t <= now => active.set(true),
                _ => {
                    self.leave(&w, class, joined.take()).await;
                    active.set(false);
                    match next {
                        Some(t) => _ = shape.sleep_until(w.instant_at(t)).await,
                        None => shape.changed().await,
                    }
                    continue;
                }
            }
            if !w.running() {
                break;
            }
            if joined.is_none() {
                let ok = match &class.on_start {
                    Some(on_start) => {
                        self.run_task(&w, on_start, started, None).await == Ended::Done
                    }
                    None => true,
                };
                joined = ok.then(|| w.join(class.on_stop.is_some()));
            }
            if joined.is_some() {
                if !w.take_iteration() {
                    break;
                }
                let task = self.next_task(class);
                self.run_task(&w, task, started, None).await;
            }
            let_go_of_big_body(&mut self.body);
            let pause = match class.wait {
                Wait::Constant(d) => d.0,
                Wait::Between([lo, hi]) => {
                    let span = hi.0.saturating_sub(lo.0).as_micros() as u64;
                    lo.0 + Duration::from_micros(fastrand::u64(0..=span))
                }
                Wait::Pacing(p) => p.0.saturating_sub(started.elapsed()),
            };
            match (pause.is_zero(), class.on_stop.is_some()) {
                (true, _) => {}
                // A user that owes an on_stop wakes at the stop to send it.
                (false, true) => w.pause(pause).await,
                (false, false) => tokio::time::sleep(pause).await,
            }
        }
        self.leave(&w, class, joined).await;
    }

    /// Sends the class's `on_stop` for a user that had joined, even as the run stops.
    async fn leave(&mut self, w: &Worker, class: &PlannedUser, joined: Option<Joined<'_>>) {
        if let (Some(_), Some(on_stop)) = (&joined, &class.on_stop) {
            self.stopping = !w.running();
            self.run_task(w, on_stop, Instant::now(), None).await;
            self.stopping = false;
        }
        drop(joined);
    }

    /// Open model: serves the arrivals the scheduler hands this user's class, each with
    /// its own `on_start` and `on_stop`.
    pub(super) async fn run_open(mut self, w: Rc<Worker>, arrivals: Rc<Arrivals>) {
        let class = &w.plan.users[self.class];
        while let Some(due) = arrivals.next(&w, self.class).await {
            let mut active = Active::new(&w);
            active.set(true);
            // Each arrival is a new visitor, as each k6 iteration is: no cookies carried
            // over from the arrival this user served before, and with an on_start, no
            // variables either (a closed-model user keeps its session across
            // iterations, as a Locust user's does).
            self.conn.forget_cookies();
            let mut started = Instant::now();
            let mut due = Some(due);
            if let Some(on_start) = &class.on_start {
                self.vars.clear();
                if self.run_task(&w, on_start, started, due.take()).await != Ended::Done {
                    let_go_of_big_body(&mut self.body);
                    continue;
                }
                started = Instant::now();
            }
            let task = self.next_task(class);
            self.run_task(&w, task, started, due).await;
            if let Some(on_stop) = &class.on_stop {
                self.run_task(&w, on_stop, Instant::now(), None).await;
            }
            let_go_of_big_body(&mut self.body);
        }
    }

    /// The next task of this user's class, picked by weight. The callers await
    /// `run_task` themselves: each level of async functions around a request costs every
    /// poll of it, and moving its (large) future costs a copy (callgrind, README).
    fn next_task<'a>(&mut self, class: &'a PlannedUser) -> &'a PlannedTask {
        self.iteration += 1;
        pick(&class.tasks)
    }

    /// Runs `task`'s steps in order, its first sent at `started`. `due` is the scheduled
    /// arrival (open model): the first request's latency counts from it, so queueing
    /// delay is not hidden. A failed step abandons the rest (later steps usually need
    /// earlier ones). A task timed as a whole records its transaction. The request is
    /// awaited here, between `prepare` and `record`: each level of async functions
    /// costs every poll of every request (measured: callgrind, README).
    async fn run_task(
        &mut self,
        w: &Worker,
        task: &PlannedTask,
        started: Instant,
        due: Option<Instant>,
    ) -> Ended {
        w.recorder.borrow_mut().tasks[task.id][0] += 1;
        let begin = due.unwrap_or(started);
        if let Some(code) = task.code {
            let code = w.code[code].clone();
            let ended = self.run_code(w, task, code.as_ref(), begin, due).await;
            if self.ws.is_some() {
                // Boxed, as below: a future held here would grow every task's.
                Box::pin(self.ws_close()).await;
            }
            return ended;
        }
        let data = match self.data_rows(w, task) {
            Ok(data) => data,
            Err(f) => {
                unsent(w, task.steps[0].endpoint, &f);
                // Nothing went to the network, so nothing awaited: give the other
                // users of this thread a turn.
                tokio::task::yield_now().await;
                return self.time_task(w, task, begin, Ended::Failed(f));
            }
        };
        let mut first = true;
        let ended = 'steps: {
            for req in &task.steps {
                if let Some(when) = &req.when {
                    match self.holds(w, when, &data) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(f) => {
                            let f = w.redact(f);
                            unsent(w, req.endpoint, &f);
                            break 'steps Ended::Failed(f);
                        }
                    }
                }
                let (sends, every) = req
                    .repeat
                    .as_ref()
                    .map_or((1, Duration::ZERO), Repeat::bounds);
                let mut n = 0;
                while n < sends {
                    n += 1;
                    if !self.stopping && !w.running() {
                        break 'steps Ended::Stopped;
                    }
                    let sent = if first { started } else { Instant::now() };
                    let start = if first { due.unwrap_or(sent) } else { sent };
                    first = false;
                    if let StepKind::Ws(step) = &req.kind {
                        let r = Box::pin(self.ws_step(w, req, step, &data, start, n == sends));
                        match (r.await, &req.repeat) {
                            (Err(f), _) => break 'steps Ended::Failed(f),
                            (Ok(Sent::Done), Some(Repeat::Until { .. })) => break,
                            (Ok(_), _) if n < sends && !every.is_zero() => {
                                tokio::time::sleep(every).await;
                            }
                            (Ok(_), _) => {}
                        }
                        continue;
                    }
                    if let Err(f) = self.prepare(w, req, &data) {
                        // Nothing awaited: without a turn given back, a user failing
                        // like this with no think time would keep its thread's other
                        // users and timers from running.
                        tokio::task::yield_now().await;
                        break 'steps Ended::Failed(f);
                    }
                    let keep = Keep {
                        body: req.needs_body(),
                        headers: &req.capture,
                        grpc: req.grpc().is_some(),
                        messages: req.grpc().is_some_and(|m| m.server_streaming),
                    };
                    // Requests with nothing to render were serialised once, at plan time.
                    let fixed = req.fixed.as_deref();
                    let head = req.method == "HEAD";
                    let result = self
                        .timed_exchange(w, req.endpoint, fixed, head, keep, sent)
                        .await;
                    match (
                        self.record_sent(w, req, &data, start, n == sends, result),
                        &req.repeat,
                    ) {
                        (Err(f), _) => break 'steps Ended::Failed(f),
                        // `until` holds: no more polling.
                        (Ok(Sent::Done), Some(Repeat::Until { .. })) => break,
                        (Ok(_), _) if n < sends && !every.is_zero() => {
                            tokio::time::sleep(every).await;
                        }
                        (Ok(_), _) => {}
                    }
                }
                if !req.think.is_zero() {
                    tokio::time::sleep(req.think).await;
                }
            }
            Ended::Done
        };
        let ended = match task.transaction {
            Some(_) => self.time_task(w, task, begin, ended),
            None => ended,
        };
        if self.ws.is_some() {
            Box::pin(self.ws_close()).await;
        }
        ended
    }

    /// Sends the request (`fixed`, else the one rendered into `self.out`) on the user's
    /// connection and reads its answer into `self.body`, the endpoint counted in flight
    /// meanwhile: the one timed exchange of config steps and `Request::send`. None: the
    /// timeout, counted from `sent`, passed first.
    #[inline(always)]
    pub(super) async fn timed_exchange(
        &mut self,
        w: &Worker,
        endpoint: usize,
        fixed: Option<&[u8]>,
        head_only: bool,
        keep: Keep<'_>,
        sent: Instant,
    ) -> Option<(Option<u64>, Result<super::response::Response, Failure>)> {
        self.body.clear();
        let in_flight = w.take_off(endpoint);
        let result = {
            let request = fixed.unwrap_or(&self.out);
            let exchange =
                self.conn
                    .exchange(&w.connector, request, head_only, keep, &mut self.body);
            // Pinned where it is: the exchange future is large, and moving it into the
            // select copied it several times per request.
            tokio::pin!(exchange);
            tokio::select! {
                biased;
                r = &mut exchange => Some(r),
                () = self.timeout.expired(sent) => None,
            }
        };
        in_flight.land();
        result
    }

    /// Runs a task written in Rust, timed as a whole. A panic in it is caught: the task
    /// fails with its message, and the user goes on.
    async fn run_code(
        &mut self,
        w: &Worker,
        task: &PlannedTask,
        code: &dyn super::Task,
        begin: Instant,
        due: Option<Instant>,
    ) -> Ended {
        use futures_util::FutureExt as _;
        self.due = due;
        self.last = None;
        self.task_endpoint = task.transaction;
        let run = std::panic::AssertUnwindSafe(code.call(self)).catch_unwind();
        let ended = match run.await {
            Ok(Ok(())) => Ended::Done,
            _ if !w.running() && !self.stopping => Ended::Stopped,
            Ok(Err(f)) => Ended::Failed(f),
            Err(panic) => Ended::Failed(Failure::Code(format!(
                "panicked: {}",
                super::task::panic_message(&*panic)
            ))),
        };
        self.due = None;
        if let Ended::Failed(f @ Failure::Code(_)) = &ended {
            // Its own failure, not a request's (counted already): the run's error budget
            // counts it too.
            w.recorder.borrow_mut().tasks[task.id][1] += 1;
            if let Some(t) = task.transaction {
                w.log_failure(t, &w.redact(f.clone()));
            }
        }
        self.time_task(w, task, begin, ended)
    }

    /// Records the task timed as a whole, if it is one; hands `ended` back.
    #[inline]
    fn time_task(&self, w: &Worker, task: &PlannedTask, begin: Instant, ended: Ended) -> Ended {
        if let Some(t) = task.transaction {
            let us = begin.elapsed().as_micros() as u64;
            let mut rec = w.recorder.borrow_mut();
            match &ended {
                Ended::Done => rec.answered(t, us),
                Ended::Failed(f) => rec.failure(t, us, f.clone()),
                Ended::Stopped => rec.interrupted(t),
            }
        }
        ended
    }

    /// Renders a templated request into `self.out`; a failure is recorded.
    fn prepare(&mut self, w: &Worker, req: &PlannedStep, data: &Value) -> Result<(), Failure> {
        if req.fixed.is_some() {
            return Ok(());
        }
        let ctx = self.context(data);
        write_request(&w.plan, req, &ctx, &mut self.out, &mut self.scratch).map_err(|f| {
            let f = w.redact(f);
            unsent(w, req.endpoint, &f);
            f
        })
    }

    /// Whether a condition (`when`, `until`) renders `true`; "false" or nothing is false,
    /// anything else an error.
    pub(super) fn holds(
        &self,
        w: &Worker,
        text: &crate::config::Text,
        data: &Value,
    ) -> Result<bool, Failure> {
        let mut out = String::new();
        w.plan
            .templates
            .render(text, &self.context(data), &mut out)
            .map_err(Failure::Template)?;
        // minijinja writes a boolean as "true" or "True" depending on how it was made.
        match out.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" | "" => Ok(false),
            other => Err(Failure::Template(format!(
                "a condition rendered {other:?}: write one that renders true or false"
            ))),
        }
    }

    /// A row of each feeder, or why there is none (a unique feeder ran dry).
    fn data_rows(&self, w: &Worker, task: &PlannedTask) -> Result<Value, Failure> {
        if task.feeders.is_empty() {
            return Ok(Value::UNDEFINED);
        }
        let mut rows = BTreeMap::new();
        for f in task.feeders.iter().map(|&i| &w.plan.feeders[i]) {
            let row = f.next_row().ok_or_else(|| {
                Failure::Data(format!(
                    "feeder {} ran dry: each of its {} rows is used once (unique = true)",
                    f.name,
                    f.len()
                ))
            })?;
            rows.insert(f.name.as_str(), row);
        }
        Ok(Value::from(rows))
    }

    /// The template context: built per templated step, so it sees values extracted by
    /// the steps before it.
    pub(super) fn context(&self, data: &Value) -> Value {
        minijinja::context! {
            vars => Value::from(self.vars.clone()),
            data => data.clone(),
            user => self.id,
            iteration => self.iteration,
        }
    }
}

/// Picks a task at random in proportion to the weights.
#[inline]
pub fn pick(tasks: &[PlannedTask]) -> &PlannedTask {
    if tasks.len() == 1 {
        return &tasks[0];
    }
    let total: u32 = tasks.iter().map(|t| t.weight).sum();
    let mut r = fastrand::u32(0..total);
    for t in tasks {
        if r < t.weight {
            return t;
        }
        r -= t.weight;
    }
    unreachable!("r < total")
}

/// Keeps the count of running users right as a user starts, parks or leaves (also
/// when the run's stop aborts it).
struct Active<'a> {
    w: &'a Worker,
    on: bool,
}

impl<'a> Active<'a> {
    fn new(w: &'a Worker) -> Active<'a> {
        Active { w, on: false }
    }

    fn set(&mut self, on: bool) {
        if self.on != on {
            let mut rec = self.w.recorder.borrow_mut();
            if on {
                rec.users += 1
            } else {
                rec.users -= 1
            }
            self.on = on;
        }
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.set(false);
    }
}

/// The request timeout. Its timer stays armed across requests and moves only when it
/// fires before the current request's deadline (about once per timeout length), instead
/// of a timer inserted and removed per request.
pub(super) struct Timeout {
    sleep: Pin<Box<Sleep>>,
    length: Duration,
}

impl Timeout {
    fn new(length: Duration) -> Timeout {
        Timeout {
            sleep: Box::pin(tokio::time::sleep(length)),
            length,
        }
    }

    /// Resolves once a request sent at `sent` has run for the timeout length.
    pub(super) async fn expired(&mut self, sent: Instant) {
        let due = TokioInstant::from_std(sent) + self.length;
        // The timer is never later than `due`: it was last set for an earlier request.
        loop {
            self.sleep.as_mut().await;
            if TokioInstant::now() >= due {
                return;
            }
            self.sleep.as_mut().reset(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_body_is_not_kept_between_iterations() {
        let mut body = vec![b'x'; 1 << 20];
        let_go_of_big_body(&mut body);
        assert!(body.is_empty());
        assert!(body.capacity() <= KEPT_BODY_BYTES, "{}", body.capacity());
        // A small one keeps its buffer: no allocation per request.
        body.extend_from_slice(&[b'x'; 1000]);
        let cap = body.capacity();
        let_go_of_big_body(&mut body);
        assert_eq!(body.capacity(), cap);
    }
}
