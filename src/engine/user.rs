//! A virtual user: one connection, its own extracted variables, looping over tasks.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use minijinja::Value;
use tokio::time::Instant as TokioInstant;

use super::http::Conn;
use super::request::{check, extract, write_request};
use super::shape::Shape;
use super::worker::Worker;
use crate::config::{PlannedTask, PlannedUser, Wait};
use crate::metrics::Failure;

pub struct User {
    pub id: u64,
    class: usize,
    conn: Conn,
    vars: BTreeMap<String, Value>,
    iteration: u64,
    out: Vec<u8>,
    scratch: String,
    body: Vec<u8>,
}

/// How an iteration ended.
pub enum Outcome {
    Done,
    /// The run is stopping: leave.
    Stopped,
}

impl User {
    pub fn new(id: u64, class: usize) -> User {
        User {
            id,
            class,
            conn: Conn::default(),
            vars: BTreeMap::new(),
            iteration: 0,
            out: Vec::with_capacity(1024),
            scratch: String::with_capacity(1024),
            body: Vec::new(),
        }
    }

    /// Closed model: iterate with think time while the load shape keeps this user on.
    pub async fn run_closed(mut self, w: Rc<Worker>, shape: Rc<Shape>) {
        let class = &w.plan.users[self.class];
        let level = self.id as f64;
        let mut active = false;
        loop {
            // Park until the shape wants this user (spawn ramp, stages), or leave.
            let now = w.elapsed();
            match shape.next_above(level, now) {
                None => break,
                Some(t) if t > now => {
                    w.set_active(&mut active, false);
                    if !w.sleep_until(w.instant_at(t)).await {
                        break;
                    }
                }
                Some(_) => {}
            }
            w.set_active(&mut active, true);
            let started = Instant::now();
            if !w.take_iteration() {
                break;
            }
            if let Outcome::Stopped = self.iterate(&w, class, None).await {
                break;
            }
            let pause = match class.wait {
                Wait::Constant(d) => d.0,
                Wait::Between([lo, hi]) => {
                    let span = hi.0.saturating_sub(lo.0).as_micros() as u64;
                    lo.0 + Duration::from_micros(fastrand::u64(0..=span))
                }
                Wait::Pacing(p) => p.0.saturating_sub(started.elapsed()),
            };
            if !pause.is_zero() && !w.sleep_until(TokioInstant::now() + pause).await {
                break;
            }
        }
        w.set_active(&mut active, false);
    }

    /// Runs one task of this user's class. `due` is the scheduled arrival (open model):
    /// the first request's latency counts from it, so queueing delay is not hidden.
    pub async fn iterate(
        &mut self,
        w: &Worker,
        class: &PlannedUser,
        due: Option<Instant>,
    ) -> Outcome {
        self.iteration += 1;
        let task = pick(&class.tasks);
        w.recorder.borrow_mut().tasks[task.id] += 1;
        // One CSV row per feeder per iteration, shared by the iteration's steps.
        let data = self.data_rows(w, task);
        for (i, req) in task.steps.iter().enumerate() {
            let start = match (i, due) {
                (0, Some(d)) => d,
                _ => Instant::now(),
            };
            if req.fixed.is_none() {
                if let Err(f) = write_request(
                    &w.plan,
                    req,
                    &self.context(&data),
                    &mut self.out,
                    &mut self.scratch,
                ) {
                    let mut rec = w.recorder.borrow_mut();
                    rec.status(req.endpoint, 0);
                    rec.failure(req.endpoint, 0, f);
                    return Outcome::Done;
                }
            }
            // Requests with nothing to render were serialised once, at plan time.
            let bytes = req.fixed.as_deref().unwrap_or(&self.out);
            let keep_body = req.expect.needs_body() || !req.extract.is_empty();
            self.body.clear();
            let outcome = {
                let exchange = self.conn.exchange(
                    &w.connector,
                    bytes,
                    req.method == "HEAD",
                    keep_body,
                    &mut self.body,
                );
                // Pinned where it is: the exchange future is large, and moving it into
                // the timeout and the select copied it several times per request.
                tokio::pin!(exchange);
                let timed = tokio::time::timeout(w.plan.timeout, &mut exchange);
                let mut stop = w.stop.clone();
                tokio::select! {
                    biased;
                    r = timed => Some(r),
                    _ = stop.wait_for(|s| *s) => None,
                }
            };
            let Some(result) = outcome else {
                self.conn.close();
                w.recorder.borrow_mut().interrupted(req.endpoint);
                return Outcome::Stopped;
            };
            let latency_us = start.elapsed().as_micros() as u64;
            let mut rec = w.recorder.borrow_mut();
            let failure = match result {
                Err(_) => {
                    self.conn.close();
                    rec.status(req.endpoint, 0);
                    Some(Failure::Timeout)
                }
                Ok((connect, r)) => {
                    if let Some(us) = connect {
                        rec.connected(req.endpoint, us);
                    }
                    rec.status(req.endpoint, r.as_ref().map_or(0, |resp| resp.status));
                    match r {
                        Err(f) => Some(f),
                        Ok(resp) => match check(req, resp.status, &self.body)
                            .and_then(|()| extract(req, &self.body, &mut self.vars))
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
            if let Some(f) = failure {
                w.log_failure(req.endpoint, &f);
                rec.failure(req.endpoint, latency_us, f);
                // Later steps usually depend on earlier ones: abandon the sequence.
                return Outcome::Done;
            }
            drop(rec);
            w.log_slow(req.endpoint, latency_us);
        }
        Outcome::Done
    }

    fn data_rows(&self, w: &Worker, task: &PlannedTask) -> Value {
        if w.plan.feeders.is_empty() || task.steps.iter().all(|s| s.fixed.is_some()) {
            return Value::UNDEFINED;
        }
        let rows: BTreeMap<&str, Value> = w
            .plan
            .feeders
            .iter()
            .map(|f| (f.name.as_str(), f.next_row()))
            .collect();
        Value::from(rows)
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

/// Picks a task at random in proportion to the weights.
fn pick(tasks: &[PlannedTask]) -> &PlannedTask {
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

/// Open model: a pool of idle users on this thread, handed arrivals by the scheduler.
/// Free users of the open model, by class.
pub type Pool = Rc<RefCell<Vec<Vec<User>>>>;

pub async fn serve_arrival(w: Rc<Worker>, pool: Pool, mut user: User, due: Instant) {
    let class = &w.plan.users[user.class];
    w.recorder.borrow_mut().users += 1;
    let outcome = user.iterate(&w, class, Some(due)).await;
    w.recorder.borrow_mut().users -= 1;
    if let Outcome::Done = outcome {
        pool.borrow_mut()[user.class].push(user);
    }
}
