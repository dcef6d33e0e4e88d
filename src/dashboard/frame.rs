//! What the dashboard is sent once a second: the run so far, its newly closed seconds,
//! each endpoint, each budget objective's live state, and how the generator fares.

use serde_json::{json, Value};

use crate::gate::{self, Budget};
use crate::metrics::{is_transaction, Collector, Latency, LoadModel, Metric, Op, Scope};
use crate::report::format::value;
use crate::report::words;

/// Builds the frames of one run.
pub struct Frames {
    budget: Budget,
    scenario: String,
    target: String,
    /// The first second not yet sent.
    next_second: u64,
    /// Process CPU seconds at the last frame, and when.
    cpu: Option<(f64, f64)>,
}

impl Frames {
    pub fn new(budget: &Budget, scenario: &str, target: &str) -> Frames {
        Frames {
            budget: budget.clone(),
            scenario: scenario.to_string(),
            target: target.to_string(),
            next_second: 0,
            cpu: None,
        }
    }

    /// Sent first: the limits the charts draw, whether stopping and steering need a
    /// token, and what the page may steer (the users or rate now, its highest) or why not.
    pub fn setup(&self, token: bool, steer: &Result<(LoadModel, f64, f64), String>) -> String {
        let total = |metric: Metric| {
            self.budget.objectives.iter().filter(move |o| {
                o.metric == metric && o.scope == Scope::Total && o.window.is_none()
            })
        };
        let latency: Vec<Value> = [50.0, 95.0, 99.0]
            .into_iter()
            .flat_map(|p| {
                total(Metric::Percentile(p))
                    .map(move |o| json!({"name": format!("p{p} budget"), "value": o.limit}))
            })
            .collect();
        let rps: Vec<Value> = total(Metric::Rps)
            .map(|o| json!({"name": "min rps", "value": o.limit}))
            .collect();
        let steer = match steer {
            Ok((LoadModel::Open, now, max)) => {
                json!({"key": "rate", "unit": "arrivals/s", "now": now, "max": max})
            }
            Ok((_, now, max)) => json!({"key": "users", "unit": "users", "now": now, "max": max}),
            Err(why) => json!({"off": why}),
        };
        json!({"token": token, "limits": {"latency": latency, "rps": rps}, "steer": steer})
            .to_string()
    }

    /// The run so far, `elapsed` seconds in.
    pub fn frame(&mut self, c: &Collector, elapsed: f64) -> String {
        let total = c.total();
        let ms = |l: &Latency, p: f64| (l.count() > 0).then(|| l.percentile_us(p) as f64 / 1000.0);
        let seconds: Vec<Value> = c
            .closed_intervals(self.next_second)
            .map(|i| {
                self.next_second = i.t + 1;
                let mut l = Latency::default();
                let (mut requests, mut failures) = (0, 0);
                for e in i.endpoints.iter().filter(|e| !is_transaction(&e.name)) {
                    requests += e.requests;
                    failures += e.failures;
                    l.add(&e.latency.unpack());
                }
                json!({"t": i.t, "rps": requests, "failures": failures, "users": i.users,
                       "dropped": i.dropped, "p50_ms": ms(&l, 50.0), "p95_ms": ms(&l, 95.0),
                       "p99_ms": ms(&l, 99.0)})
            })
            .collect();
        let endpoints: Vec<Value> = c
            .endpoints
            .iter()
            .map(|e| {
                json!({"name": crate::report::format::tagged_name(e), "requests": e.requests,
                       "failures": e.failures, "p50_ms": ms(&e.latency, 50.0),
                       "p95_ms": ms(&e.latency, 95.0), "p99_ms": ms(&e.latency, 99.0)})
            })
            .collect();
        let objectives: Vec<Value> = gate::live_values(&self.budget, c, elapsed)
            .into_iter()
            .map(|(o, now)| {
                let failing = now.is_some_and(|v| o.op == Op::AtMost && !o.op.holds(v, o.limit));
                json!({"name": words::objective_name(o), "limit": format!("{} {}", if o.op == Op::AtMost { "≤" } else { "≥" }, value(o.metric, o.limit)),
                       "now": now.map_or("–".to_string(), |v| value(o.metric, v)), "failing": failing})
            })
            .collect();
        let (generator, ok) = self.generator(elapsed);
        json!({
            "scenario": self.scenario, "target": self.target, "elapsed": elapsed,
            "users": c.users(), "requests": total.requests, "failures": total.failures,
            "rps": total.requests as f64 / elapsed.max(1e-9),
            "p95_ms": ms(&total.latency, 95.0), "p99_ms": ms(&total.latency, 99.0),
            "dropped": total.dropped, "seconds": seconds, "endpoints": endpoints,
            "objectives": objectives, "generator": generator, "generator_ok": ok,
            "done": Value::Null,
        })
        .to_string()
    }

    /// How busy perfgate itself is: its CPU over the last second, of the cores it has.
    fn generator(&mut self, elapsed: f64) -> (String, bool) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let Some(cpu) = process_cpu_seconds() else {
            return ("CPU use not measured on this system".into(), true);
        };
        let used = match self.cpu.replace((cpu, elapsed)) {
            Some((c0, t0)) if elapsed > t0 => (cpu - c0) / (elapsed - t0),
            _ => return ("measuring…".into(), true),
        };
        let busy = used / cores;
        let text = format!(
            "perfgate uses {:.0}% of a core ({:.0}% of the {cores} it has){}",
            used * 100.0,
            busy * 100.0,
            if busy > 0.8 {
                ": near its limit, the numbers may describe perfgate, not the service"
            } else {
                ""
            }
        );
        (text, busy <= 0.8)
    }
}

/// User and system CPU seconds of this process so far (Linux).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields are counted after its closing ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
