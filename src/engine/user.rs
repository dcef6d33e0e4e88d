//! A virtual user: one connection, its own extracted variables, looping over tasks.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use minijinja::Value;
use tokio::time::{Instant as TokioInstant, Sleep};

use super::http::{Conn, Keep};
use super::open::Arrivals;
use super::request::{check, extract, write_request};
use super::shape::Shape;
use super::worker::Worker;
use crate::config::{PlannedTask, PlannedUser, Wait};
use crate::metrics::Failure;

/// Memory a user keeps for response bodies between iterations.
const KEPT_BODY_BYTES: usize = 64 * 1024;

pub struct User {
    pub id: u64,
    class: usize,
    conn: Conn,
    timeout: Timeout,
    vars: BTreeMap<String, Value>,
    iteration: u64,
    out: Vec<u8>,
    scratch: String,
    body: Vec<u8>,
}

impl User {
    pub fn new(id: u64, class: usize, timeout: Duration) -> User {
        User {
            id,
            class,
            conn: Conn::default(),
            timeout: Timeout::new(timeout),
            vars: BTreeMap::new(),
            iteration: 0,
            out: Vec::new(),
            scratch: String::new(),
            body: Vec::new(),
        }
    }

    /// Closed model: iterate with think time while the load shape keeps this user on.
    /// At the run's stop the task is aborted after a grace for its request in flight.
    pub async fn run_closed(mut self, w: Rc<Worker>, shape: Rc<Shape>) {
        let class = &w.plan.users[self.class];
        let level = self.id as f64;
        let mut active = Active::new(&w);
        loop {
            let started = Instant::now();
            // Park until the shape wants this user (spawn ramp, stages), or leave.
            let now = started.duration_since(w.start).as_secs_f64();
            match shape.next_above(level, now) {
                None => break,
                Some(t) if t > now => {
                    active.set(false);
                    tokio::time::sleep_until(w.instant_at(t)).await;
                    continue;
                }
                Some(_) => active.set(true),
            }
            if !w.running() || !w.take_iteration() {
                break;
            }
            self.iterate(&w, class, started, None).await;
            let_go_of_big_body(&mut self.body);
            let pause = match class.wait {
                Wait::Constant(d) => d.0,
                Wait::Between([lo, hi]) => {
                    let span = hi.0.saturating_sub(lo.0).as_micros() as u64;
                    lo.0 + Duration::from_micros(fastrand::u64(0..=span))
                }
                Wait::Pacing(p) => p.0.saturating_sub(started.elapsed()),
            };
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Open model: serves the arrivals the scheduler hands this user's class.
    pub async fn run_open(mut self, w: Rc<Worker>, arrivals: Rc<Arrivals>) {
        let class = &w.plan.users[self.class];
        while let Some(due) = arrivals.next(&w, self.class).await {
            let mut active = Active::new(&w);
            active.set(true);
            // Each arrival is a new visitor, as each k6 iteration is: no cookies carried
            // over from the arrival this user served before (a closed-model user keeps
            // its cookies across iterations, as a Locust user's session does).
            self.conn.forget_cookies();
            self.iterate(&w, class, Instant::now(), Some(due)).await;
            let_go_of_big_body(&mut self.body);
        }
    }

    /// Runs one task of this user's class, its first step sent at `started`. `due` is
    /// the scheduled arrival (open model): the first request's latency counts from it,
    /// so queueing delay is not hidden.
    pub async fn iterate(
        &mut self,
        w: &Worker,
        class: &PlannedUser,
        started: Instant,
        due: Option<Instant>,
    ) {
        self.iteration += 1;
        let task = pick(&class.tasks);
        w.recorder.borrow_mut().tasks[task.id] += 1;
        // One row per feeder per iteration, shared by the iteration's steps.
        let data = match self.data_rows(w, task) {
            Ok(rows) => rows,
            Err(f) => {
                let endpoint = task.steps[0].endpoint;
                w.log_failure(endpoint, &f);
                {
                    let mut rec = w.recorder.borrow_mut();
                    rec.status(endpoint, 0);
                    rec.unanswered(endpoint, f);
                }
                tokio::task::yield_now().await;
                return;
            }
        };
        for (i, req) in task.steps.iter().enumerate() {
            if !w.running() {
                return;
            }
            let sent = if i == 0 { started } else { Instant::now() };
            let start = if i == 0 { due.unwrap_or(sent) } else { sent };
            if req.fixed.is_none() {
                if let Err(f) = write_request(
                    &w.plan,
                    req,
                    &self.context(&data),
                    &mut self.out,
                    &mut self.scratch,
                ) {
                    w.log_failure(req.endpoint, &f);
                    {
                        let mut rec = w.recorder.borrow_mut();
                        rec.status(req.endpoint, 0);
                        rec.unanswered(req.endpoint, f);
                    }
                    // Nothing went to the network, so nothing awaited: without a turn
                    // given back, a user failing like this with no think time would
                    // keep its thread's other users and timers from running.
                    tokio::task::yield_now().await;
                    return;
                }
            }
            // Requests with nothing to render were serialised once, at plan time.
            let bytes = req.fixed.as_deref().unwrap_or(&self.out);
            let keep = Keep {
                body: req.needs_body(),
                headers: &req.capture,
            };
            self.body.clear();
            let in_flight = w.take_off(req.endpoint);
            let result = {
                let exchange = self.conn.exchange(
                    &w.connector,
                    bytes,
                    req.method == "HEAD",
                    keep,
                    &mut self.body,
                );
                // Pinned where it is: the exchange future is large, and moving it into
                // the select copied it several times per request.
                tokio::pin!(exchange);
                tokio::select! {
                    biased;
                    r = &mut exchange => Some(r),
                    () = self.timeout.expired(sent) => None,
                }
            };
            in_flight.land();
            let latency_us = start.elapsed().as_micros() as u64;
            let mut rec = w.recorder.borrow_mut();
            let retries = self.conn.take_retries();
            if retries > 0 {
                rec.retried(req.endpoint, retries);
            }
            let answered = matches!(result, Some((_, Ok(_))));
            let failure = match result {
                None => {
                    self.conn.close();
                    rec.status(req.endpoint, 0);
                    Some(Failure::Timeout)
                }
                Some((connect, r)) => {
                    if let Some(us) = connect {
                        rec.connected(req.endpoint, us);
                    }
                    rec.status(req.endpoint, r.as_ref().map_or(0, |resp| resp.status));
                    if let Ok(resp) = &r {
                        rec.received(req.endpoint, resp.body_bytes);
                    }
                    match r {
                        Err(f) => Some(f),
                        Ok(resp) => match check(req, &resp, &self.body)
                            .and_then(|()| extract(req, &resp, &self.body, &mut self.vars))
                        {
                            Ok(()) => {
                                let ttfb = resp.first_byte.saturating_duration_since(start);
                                rec.success(req.endpoint, latency_us, ttfb.as_micros() as u64);
                                None
                            }
                            Err(f) => Some(f),
                        },
                    }
                }
            };
            if let Some(f) = failure.map(|f| w.redact(f)) {
                w.log_failure(req.endpoint, &f);
                if answered {
                    rec.failure(req.endpoint, latency_us, f);
                } else {
                    rec.unanswered(req.endpoint, f);
                }
                // Later steps usually depend on earlier ones: abandon the sequence.
                return;
            }
            drop(rec);
            w.log_slow(req.endpoint, latency_us);
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
                    f.rows.len()
                ))
            })?;
            rows.insert(f.name.as_str(), row);
        }
        Ok(Value::from(rows))
    }

    /// The template context: built per templated step, so it sees values extracted by
    /// the steps before it.
    fn context(&self, data: &Value) -> Value {
        minijinja::context! {
            vars => Value::from(self.vars.clone()),
            data => data.clone(),
            user => self.id,
            iteration => self.iteration,
        }
    }
}

/// Between iterations, a body kept for checks or extraction gives back memory past
/// 64 KiB: 10,000 users each holding the largest body they ever read would hold
/// gigabytes while they think.
fn let_go_of_big_body(body: &mut Vec<u8>) {
    body.clear();
    body.shrink_to(KEPT_BODY_BYTES);
}

/// Picks a task at random in proportion to the weights.
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
struct Timeout {
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
    async fn expired(&mut self, sent: Instant) {
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
