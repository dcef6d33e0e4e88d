//! The open model on one worker thread: a schedule fires arrivals at the rate's pace
//! and hands each to an idle user of its class through `Arrivals`; an arrival that finds
//! none is dropped.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::time::Instant as TokioInstant;

use super::shape::Live;
use super::user::pick;
use super::worker::Worker;
use crate::config::Arrivals as ArrivalModel;

/// Open model: arrivals handed from the scheduler to idle users, by class.
pub struct Arrivals {
    idle: Vec<Cell<u64>>,
    due: Vec<RefCell<VecDeque<Instant>>>,
    ready: Vec<Notify>,
    closed: Cell<bool>,
}

impl Arrivals {
    pub fn new(classes: usize) -> Arrivals {
        Arrivals {
            idle: (0..classes).map(|_| Cell::new(0)).collect(),
            due: (0..classes).map(|_| RefCell::default()).collect(),
            ready: (0..classes).map(|_| Notify::new()).collect(),
            closed: Cell::new(false),
        }
    }

    /// Hands an arrival due at `due` to an idle user of `class`; false when none is idle
    /// (the arrival is dropped).
    fn offer(&self, class: usize, due: Instant) -> bool {
        let idle = &self.idle[class];
        if idle.get() == 0 {
            return false;
        }
        idle.set(idle.get() - 1);
        self.due[class].borrow_mut().push_back(due);
        self.ready[class].notify_one();
        true
    }

    /// No more arrivals: idle users leave.
    fn close(&self) {
        self.closed.set(true);
        for r in &self.ready {
            r.notify_waiters();
        }
    }

    /// Arrivals handed to users that the run's stop cut before they were sent: counted as
    /// interrupted, at the first request of a task picked as the user would have.
    pub fn interrupt_left(&self, w: &Worker) {
        for (class, due) in self.due.iter().enumerate() {
            for _ in due.borrow_mut().drain(..) {
                let task = pick(&w.plan.users[class].tasks);
                // A task written in Rust has no steps: its own endpoint counts it.
                if let Some(e) = task.steps.first().map(|s| s.endpoint).or(task.transaction) {
                    w.recorder.borrow_mut().interrupted(e);
                }
            }
        }
    }

    /// Waits, idle, for the next arrival for `class`; None once the load is over or the
    /// run is stopping (what is left then counts as interrupted).
    pub async fn next(&self, w: &Worker, class: usize) -> Option<Instant> {
        self.idle[class].set(self.idle[class].get() + 1);
        loop {
            if !w.running() {
                return None;
            }
            if let Some(due) = self.due[class].borrow_mut().pop_front() {
                return Some(due);
            }
            if self.closed.get() {
                return None;
            }
            self.ready[class].notified().await;
        }
    }
}

/// One open-model load on one worker thread.
pub struct Schedule {
    pub queue: Rc<Arrivals>,
    /// This thread takes arrivals lane, lane + lanes, lane + 2·lanes, …
    pub lane: usize,
    pub lanes: usize,
    pub arrivals: ArrivalModel,
    pub classes: Vec<usize>,
    pub shape: Rc<Live>,
    /// Seconds into the run at which this load ends.
    pub end: f64,
}

/// Open model: fires arrivals on schedule; an arrival that finds no idle user is dropped.
pub async fn schedule(w: Rc<Worker>, s: Schedule) {
    let all_sent = fire(&w, &s).await;
    s.queue.close();
    // A rate that ramps to zero ends the arrivals early; the load still lasts its time,
    // unless it was bounded by iterations and has sent them all.
    if s.end.is_finite() && !all_sent {
        tokio::time::sleep_until(w.instant_at(s.end)).await;
    }
}

/// Fires the arrivals; true when it stopped because an iteration-bounded run had sent
/// all its iterations.
async fn fire(w: &Worker, s: &Schedule) -> bool {
    let lanes = s.lanes;
    let mut arrival = s.lane;
    // Arrival n is due when the area under the rate curve reaches n. Threads (and
    // segments) interleave: this one takes arrivals lane, lane + lanes, … (Poisson:
    // random steps of the same mean), so stages ramp exactly.
    let step = || match s.arrivals {
        ArrivalModel::Uniform => lanes as f64,
        ArrivalModel::Poisson => -(1.0 - fastrand::f64()).ln() * lanes as f64,
    };
    let mut count = match s.arrivals {
        ArrivalModel::Uniform => s.lane as f64,
        ArrivalModel::Poisson => step(),
    };
    let due = |count: f64| s.shape.get().time_of(count).unwrap_or(f64::INFINITY);
    let mut next = due(count);
    loop {
        if next >= s.end {
            // No arrival before the load ends; steering may bring some (a rate raised
            // from 0) until it does.
            if !s.shape.steerable {
                return false;
            }
            tokio::select! {
                () = s.shape.changed() => {}
                () = tokio::time::sleep_until(w.instant_at(s.end)) => return false,
            }
            next = due(count);
            continue;
        }
        let at = w.instant_at(next);
        if at > TokioInstant::now() && !s.shape.sleep_until(at).await {
            // Steered: the same arrival, due by the new rate.
            next = due(count);
            continue;
        }
        let now = w.elapsed();
        w.schedule_late(Duration::from_secs_f64((now - next).max(0.0)));
        // Catch up on everything due by now: late arrivals keep their due time. Once the
        // run is stopping, what was due and not sent is a shortfall: dropped.
        let stopping = !w.running();
        while next <= now && next < s.end {
            if !w.take_iteration() {
                return true;
            }
            let class = s.classes[arrival % s.classes.len()];
            arrival += lanes;
            let due = w.start + Duration::from_secs_f64(next);
            if stopping || !s.queue.offer(class, due) {
                w.recorder.borrow_mut().dropped += 1;
            }
            count += step();
            next = s.shape.get().time_of(count).unwrap_or(f64::INFINITY);
        }
        if stopping {
            return false;
        }
    }
}
