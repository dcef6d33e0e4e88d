//! Names that user code brings while a run goes on (the requests it names, its checks,
//! the numbers it records), given one index on every worker thread. The plan's names
//! come first, at their own indices; workers look names up in a cache of their own and
//! come here only for a name they have not seen.

use std::sync::Mutex;

#[derive(Default)]
struct Inner {
    /// (name, method), as `Plan::endpoints`.
    endpoints: Vec<(String, String)>,
    /// (endpoint, what it checks), as `Plan::checks`.
    checks: Vec<(String, String)>,
    metrics: Vec<String>,
}

#[derive(Default)]
pub struct Names {
    inner: Mutex<Inner>,
}

impl Names {
    /// Starting from the plan's names.
    pub fn new(
        endpoints: &[(String, String)],
        checks: &[(String, String)],
        metrics: &[String],
    ) -> Names {
        Names {
            inner: Mutex::new(Inner {
                endpoints: endpoints.to_vec(),
                checks: checks.to_vec(),
                metrics: metrics.to_vec(),
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding it leaves the lists whole: keep using them.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The index of the endpoint called `name` (a new one sent with `method`).
    pub fn endpoint(&self, name: &str, method: &str) -> usize {
        let mut i = self.inner();
        index(
            &mut i.endpoints,
            |(n, _)| n == name,
            || (name.into(), method.into()),
        )
    }

    /// The name of endpoint number `endpoint`.
    pub fn endpoint_name(&self, endpoint: usize) -> String {
        self.inner()
            .endpoints
            .get(endpoint)
            .map_or_else(String::new, |e| e.0.clone())
    }

    /// The index of soft check `check` on endpoint number `endpoint`.
    pub fn check(&self, endpoint: usize, check: &str) -> usize {
        let mut i = self.inner();
        let endpoint = i.endpoints.get(endpoint).map_or("", |e| &e.0).to_string();
        index(
            &mut i.checks,
            |(e, c)| *e == endpoint && c == check,
            || (endpoint.clone(), check.into()),
        )
    }

    /// The index of the recorded number `name`.
    pub fn metric(&self, name: &str) -> usize {
        let mut i = self.inner();
        index(&mut i.metrics, |n| n == name, || name.into())
    }

    /// The endpoints from index `from` on.
    pub fn endpoints_from(&self, from: usize) -> Vec<(String, String)> {
        self.inner()
            .endpoints
            .get(from..)
            .unwrap_or_default()
            .to_vec()
    }

    pub fn checks_from(&self, from: usize) -> Vec<(String, String)> {
        self.inner().checks.get(from..).unwrap_or_default().to_vec()
    }

    pub fn metrics_from(&self, from: usize) -> Vec<String> {
        self.inner()
            .metrics
            .get(from..)
            .unwrap_or_default()
            .to_vec()
    }
}

fn index<T>(list: &mut Vec<T>, is: impl Fn(&T) -> bool, new: impl FnOnce() -> T) -> usize {
    match list.iter().position(is) {
        Some(i) => i,
        None => {
            list.push(new());
            list.len() - 1
        }
    }
}
