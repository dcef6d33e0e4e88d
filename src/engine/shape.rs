//! The load shape over time: users (closed model) or arrivals per second (open model)
//! as a piecewise-linear function of elapsed seconds. A plain closed scenario is a ramp
//! from 0 to `users` at `spawn_rate`, then flat; stages add more points.

use std::cell::{Ref, RefCell};

use tokio::sync::Notify;
use tokio::time::Instant as TokioInstant;

use crate::config::{Load, Model, Stage};

#[derive(Clone, Debug)]
pub struct Shape {
    /// (seconds since the load's start, value), ascending in time; flat after the last.
    points: Vec<(f64, f64)>,
    /// Seconds into the run at which the load starts, and at which it ends (0 outside).
    start: f64,
    end: f64,
}

impl Shape {
    /// Closed model: `users` spawned at `spawn_rate`, then `stages` if any.
    pub fn users(users: u64, spawn_rate: f64, stages: &[Stage]) -> Shape {
        if !stages.is_empty() {
            return Shape::staged(0.0, stages);
        }
        Shape::of(vec![(0.0, 0.0), (users as f64 / spawn_rate, users as f64)])
    }

    /// Open model: `rate` per second, then `stages` if any (ramping from `rate`).
    pub fn rate(rate: f64, stages: &[Stage]) -> Shape {
        if !stages.is_empty() {
            return Shape::staged(rate, stages);
        }
        Shape::of(vec![(0.0, rate)])
    }

    fn staged(start: f64, stages: &[Stage]) -> Shape {
        let mut points = vec![(0.0, start)];
        let mut t = 0.0;
        for s in stages {
            t += s.duration.secs();
            points.push((t, s.target));
        }
        Shape::of(points)
    }

    /// A load's users or rate, placed at its start and ended at its end.
    pub fn of_load(l: &Load) -> Shape {
        let shape = match l.model {
            Model::Closed { users, spawn_rate } => Shape::users(users, spawn_rate, &l.stages),
            Model::Open { rate, .. } => Shape::rate(rate, &l.stages),
        };
        let start = l.start.as_secs_f64();
        shape.within(start, start + l.duration.as_secs_f64())
    }

    /// The (seconds, value) points it ramps between, for the result.
    pub fn points(&self) -> Vec<[f64; 2]> {
        self.points.iter().map(|&(t, v)| [t, v]).collect()
    }

    fn of(points: Vec<(f64, f64)>) -> Shape {
        Shape {
            points,
            start: 0.0,
            end: f64::INFINITY,
        }
    }

    /// The same shape running from `start` to `end` seconds into the run, 0 outside.
    pub fn within(mut self, start: f64, end: f64) -> Shape {
        self.start = start;
        self.end = end;
        self
    }

    /// The same shape up to `now` seconds into the run, then moving to `target`: at
    /// `per_second` (a closed model's spawn rate), or at once when that is not positive.
    /// What was planned after `now` is dropped: steering replaces it.
    pub fn steered(&self, now: f64, target: f64, per_second: f64) -> Shape {
        let tau = (now - self.start).max(0.0);
        let here = self.inner_at(tau);
        let mut points: Vec<(f64, f64)> =
            self.points.iter().copied().filter(|p| p.0 < tau).collect();
        points.push((tau, here));
        let ramp = if per_second > 0.0 {
            (target - here).abs() / per_second
        } else {
            0.0
        };
        points.push((tau + ramp, target));
        Shape { points, ..*self }
    }

    /// Whether the load is over at `now` seconds into the run.
    pub fn ended(&self, now: f64) -> bool {
        now >= self.end
    }

    /// When the stages end (0 without stages).
    pub fn stages_end(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.0)
    }

    pub fn max(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    pub fn at(&self, t: f64) -> f64 {
        if t < self.start || t >= self.end {
            return 0.0;
        }
        self.inner_at(t - self.start)
    }

    fn inner_at(&self, t: f64) -> f64 {
        let p = &self.points;
        if t <= p[0].0 {
            return p[0].1;
        }
        for w in p.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            if t <= t1 {
                return if t1 > t0 {
                    v0 + (v1 - v0) * (t - t0) / (t1 - t0)
                } else {
                    v1
                };
            }
        }
        p[p.len() - 1].1
    }

    /// The first time at or after `now` when the value exceeds `level`, if ever.
    /// A closed-model user number `level` runs exactly while the shape is above it.
    pub fn next_above(&self, level: f64, now: f64) -> Option<f64> {
        let t = self.inner_next_above(level, (now - self.start).max(0.0))? + self.start;
        (t < self.end).then_some(t.max(now))
    }

    fn inner_next_above(&self, level: f64, now: f64) -> Option<f64> {
        if self.inner_at(now) > level {
            return Some(now);
        }
        for w in self.points.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            if t1 < now || v1 <= level {
                continue;
            }
            // Rising through `level` inside this segment.
            let t = if v1 > v0 {
                t0 + (level - v0) / (v1 - v0) * (t1 - t0)
            } else {
                t0
            };
            return Some(t.max(now) + 1e-6);
        }
        None
    }
}

impl Shape {
    /// The time at which the integral of the shape from 0 reaches `area` (for a rate:
    /// when arrival number `area` is due), or None if it never does.
    pub fn time_of(&self, area: f64) -> Option<f64> {
        let t = self.inner_time_of(area)? + self.start;
        (t < self.end).then_some(t)
    }

    fn inner_time_of(&self, area: f64) -> Option<f64> {
        let mut left = area.max(0.0);
        for w in self.points.windows(2) {
            let ((t0, v0), (t1, v1)) = (w[0], w[1]);
            let d = t1 - t0;
            let segment = (v0 + v1) / 2.0 * d;
            if left <= segment && d > 0.0 {
                // v0·τ + (v1 − v0)/(2d)·τ² = left, in the form that is stable for
                // rising, falling and flat segments alike.
                let a = (v1 - v0) / (2.0 * d);
                let root = (v0 * v0 + 4.0 * a * left).max(0.0).sqrt();
                let tau = if v0 + root > 0.0 {
                    2.0 * left / (v0 + root)
                } else {
                    0.0
                };
                return Some(t0 + tau.min(d));
            }
            left -= segment;
        }
        let (t, v) = self.points[self.points.len() - 1];
        (v > 0.0).then(|| t + left / v)
    }
}

/// A load's shape on a worker thread as it runs: steering (the dashboard) may replace
/// it meanwhile, and whoever waits on the old one is woken.
pub struct Live {
    shape: RefCell<Shape>,
    changed: Notify,
    /// Steering is on: users and arrivals wait for a change instead of leaving when the
    /// shape has nothing more for them before the load ends.
    pub steerable: bool,
}

impl Live {
    pub fn new(shape: Shape, steerable: bool) -> Live {
        Live {
            shape: RefCell::new(shape),
            changed: Notify::new(),
            steerable,
        }
    }

    /// The shape now (do not hold it across an await).
    pub fn get(&self) -> Ref<'_, Shape> {
        self.shape.borrow()
    }

    pub fn set(&self, shape: Shape) {
        *self.shape.borrow_mut() = shape;
        self.changed.notify_waiters();
    }

    /// Sleeps until `at`; false when the shape changed first.
    pub async fn sleep_until(&self, at: TokioInstant) -> bool {
        if !self.steerable {
            tokio::time::sleep_until(at).await;
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep_until(at) => true,
            () = self.changed.notified() => false,
        }
    }

    /// Waits for the next change (forever when steering is off).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use std::time::Duration;

    fn stage(secs: u64, target: f64) -> Stage {
        Stage {
            duration: Dur(Duration::from_secs(secs)),
            target,
        }
    }

    #[test]
    fn spawn_ramp_then_flat() {
        let s = Shape::users(10, 5.0, &[]);
        assert_eq!(s.at(0.0), 0.0);
        assert_eq!(s.at(1.0), 5.0);
        assert_eq!(s.at(100.0), 10.0);
        // User number 7 starts when the ramp passes 7: at 1.4 s.
        assert!((s.next_above(7.0, 0.0).unwrap() - 1.4).abs() < 1e-3);
    }

    #[test]
    fn stages_ramp_up_and_down() {
        let s = Shape::users(
            0,
            1.0,
            &[stage(10, 100.0), stage(10, 100.0), stage(10, 0.0)],
        );
        assert_eq!(s.at(5.0), 50.0);
        assert_eq!(s.at(15.0), 100.0);
        assert_eq!(s.at(25.0), 50.0);
        assert_eq!(s.at(40.0), 0.0);
        assert_eq!(s.stages_end(), 30.0);
        // User 60 stops at 24 s and is never needed again.
        assert!(s.at(23.9) > 60.0 && s.at(24.1) < 60.0);
        assert_eq!(s.next_above(60.0, 25.0), None);
    }

    #[test]
    fn arrival_times_follow_the_area_under_the_rate() {
        let flat = Shape::rate(100.0, &[]);
        assert!((flat.time_of(250.0).unwrap() - 2.5).abs() < 1e-9);
        // 0 → 200/s over 2 s (200 arrivals), 200/s for 2 s, 200 → 0 over 2 s.
        let s = Shape::rate(0.0, &[stage(2, 200.0), stage(2, 200.0), stage(2, 0.0)]);
        assert!(
            (s.time_of(50.0).unwrap() - 1.0).abs() < 1e-9,
            "{:?}",
            s.time_of(50.0)
        );
        assert!((s.time_of(200.0).unwrap() - 2.0).abs() < 1e-9);
        assert!((s.time_of(400.0).unwrap() - 3.0).abs() < 1e-9);
        assert!((s.time_of(750.0).unwrap() - 5.0).abs() < 1e-9);
        assert!((s.time_of(800.0).unwrap() - 6.0).abs() < 1e-9);
        assert_eq!(s.time_of(801.0), None, "the rate ended at 0");
        assert_eq!(s.time_of(0.0), Some(0.0));
    }

    #[test]
    fn a_load_can_start_late_and_end_early() {
        let s = Shape::rate(100.0, &[]).within(10.0, 20.0);
        assert_eq!(s.at(5.0), 0.0);
        assert_eq!(s.at(15.0), 100.0);
        assert_eq!(s.at(20.0), 0.0);
        assert!((s.time_of(100.0).unwrap() - 11.0).abs() < 1e-9);
        assert_eq!(s.time_of(1000.0), None, "ends at 20 s");
        let u = Shape::users(10, 10.0, &[]).within(5.0, 8.0);
        assert!((u.next_above(4.0, 0.0).unwrap() - 5.4).abs() < 1e-3);
        assert_eq!(u.next_above(4.0, 8.0), None, "its users leave at 8 s");
    }

    #[test]
    fn steering_keeps_the_past_and_replaces_the_rest() {
        // 10 users at 5/s, raised to 30 at 12 s: the ramp to 30 takes 4 s.
        let s = Shape::users(10, 5.0, &[]).steered(12.0, 30.0, 5.0);
        assert_eq!(
            s.points(),
            [[0.0, 0.0], [2.0, 10.0], [12.0, 10.0], [16.0, 30.0]]
        );
        assert_eq!(s.at(14.0), 20.0);
        assert!((s.next_above(25.0, 12.0).unwrap() - 15.0).abs() < 1e-3);
        // Stages after the change are dropped; lowering parks users above the target.
        let staged = Shape::users(0, 1.0, &[stage(10, 100.0), stage(10, 0.0)]);
        let low = staged.steered(5.0, 10.0, 100.0);
        assert_eq!(low.points(), [[0.0, 0.0], [5.0, 50.0], [5.4, 10.0]]);
        assert_eq!(low.next_above(20.0, 6.0), None);
        // A rate changes at once; arrivals already due keep their times.
        let r = Shape::rate(100.0, &[]).steered(2.0, 400.0, 0.0);
        assert!((r.time_of(200.0).unwrap() - 2.0).abs() < 1e-9);
        assert!((r.time_of(600.0).unwrap() - 3.0).abs() < 1e-9);
        assert_eq!(r.steered(3.0, 0.0, 0.0).time_of(601.0), None, "rate 0");
        // A late-starting load steered before its start changes from its start.
        let late = Shape::rate(10.0, &[])
            .within(10.0, 20.0)
            .steered(4.0, 50.0, 0.0);
        assert_eq!(late.at(5.0), 0.0);
        assert_eq!(late.at(11.0), 50.0);
        assert!(late.ended(20.0) && !late.ended(19.0));
    }
}
