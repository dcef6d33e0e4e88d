//! The search measure of the pipeline (`perfgate capacity`, and `perfgate run` of a
//! scenario with `search`): open-model steps of offered rate, each a whole load judged
//! by the budget after its warm-up, until the highest rate that holds is found. The
//! pipeline does the rest as for a run: outputs checked first, judging, every report,
//! exports, history and the exit code.

use super::pipeline::{shutdown_signal, Loaded};
use super::progress::Progress;
use crate::cli::SearchArgs;
use crate::config::{Dur, Overrides, Plan, Rate, Search as SearchConfig, Settings};
use crate::dashboard::{Dashboard, Frames};
use crate::engine::{self, Code, RunOptions};
use crate::gate::capacity::{self, Capacity, Drained, End, SearchPlan, Step, MAX_DROPPED};
use crate::gate::{self, Budget, Status};
use crate::metrics::{GitInfo, RunResult, StopReason};
use crate::report;

/// A search, resolved before any load: its scenario, its steps' settings, and the plan
/// of its first step (checked like a run's plan).
pub(super) struct Search<'a> {
    pub name: String,
    pub plan: SearchPlan,
    pub first: Plan,
    loaded: &'a Loaded,
    base: Overrides,
    /// The users each step may run (the open model's pool), if set.
    users: Option<u64>,
    code: Option<&'a Code>,
}

impl<'a> Search<'a> {
    /// The scenario the settings choose (with no `--scenario`, the config's only one
    /// with `search`), its search with the flags over it, and the first step planned.
    pub fn resolve(
        settings: &Settings,
        loaded: &'a Loaded,
        flags: &SearchArgs,
        code: Option<&'a Code>,
    ) -> anyhow::Result<Search<'a>> {
        let (config, source) = loaded;
        let mut base = settings.overrides();
        refuse_what_does_not_apply(&base)?;
        if base.scenario.is_none() && config.gate.scenario.is_none() {
            let searching: Vec<&String> = config
                .scenarios
                .iter()
                .filter(|(_, s)| s.get_ref().search.is_some())
                .map(|(name, _)| name)
                .collect();
            if let [only] = searching[..] {
                base.scenario = Some(only.clone());
            }
        }
        let (name, in_config) = crate::config::scenario_search(config, base.scenario.as_deref())
            .map_err(anyhow::Error::msg)?;
        let at = |msg: String| match in_config {
            Some(s) => anyhow::Error::new(source.error(s.span(), msg)),
            None => anyhow::Error::msg(msg),
        };
        let search = with_flags(in_config.map(|s| s.get_ref().clone()), flags, &name)?;
        let plan = SearchPlan::from_config(&search).map_err(at)?;
        let scenario = config.scenarios.get(&name).map(|s| s.get_ref());
        if scenario.is_some_and(|s| !s.stages.is_empty() || !s.include.is_empty()) {
            return Err(at(format!(
                "scenario {name:?} searches for capacity: its steps are the search's, so it can have no stages or include"
            )));
        }
        let users = base
            .users
            .or(scenario.and_then(|s| s.max_users.or(s.users)));
        let first = step_plan(
            loaded,
            &base,
            users,
            code,
            plan.start,
            plan.warmup + plan.step,
        )?;
        Ok(Search {
            name,
            plan,
            first,
            loaded,
            base,
            users,
            code,
        })
    }

    /// The plan of the step offering `rate`.
    fn step(&self, rate: f64) -> anyhow::Result<Plan> {
        let length = self.plan.warmup + self.plan.step;
        step_plan(self.loaded, &self.base, self.users, self.code, rate, length)
    }

    /// After a step that broke, waits until the service has drained what it queued
    /// (else the next step measures the backlog): a light probe, a second at the
    /// search's starting rate (at most 10/s), until its p50 is back within 1.5× (or
    /// 5 ms) of `first_p50_ms`, the first step's, for at most one step's length. None:
    /// interrupted (Ctrl-C) while waiting.
    fn drain(
        &self,
        rt: &tokio::runtime::Runtime,
        first_p50_ms: f64,
    ) -> anyhow::Result<Option<Drained>> {
        let rate = self.plan.start.min(10.0);
        let began = std::time::Instant::now();
        let second = std::time::Duration::from_secs(1);
        let mut d = Drained {
            seconds: 0.0,
            requests: 0,
            p50_ms: 0.0,
            near_ms: (first_p50_ms * 1.5).max(first_p50_ms + 5.0),
            recovered: false,
        };
        while !d.recovered && began.elapsed() < self.plan.step {
            let plan = step_plan(self.loaded, &self.base, self.users, self.code, rate, second)?;
            let opts = RunOptions {
                code: self.code.map(|c| c.tasks.clone()).unwrap_or_default(),
                log_requests: false,
                ..RunOptions::default()
            };
            let probe = rt.block_on(engine::run(plan, opts, shutdown_signal()));
            let t = &probe.total;
            d.requests += t.requests;
            d.p50_ms = t.summary.p50_ms;
            d.recovered = t.requests > 0 && t.failures == 0 && d.p50_ms <= d.near_ms;
            if probe.stop == StopReason::Interrupted {
                return Ok(None);
            }
        }
        d.seconds = began.elapsed().as_secs_f64();
        Ok(Some(d))
    }
}

/// A step's plan: the open model at `rate` for `length`, with `users` (default: two a
/// second of rate, at least 20).
fn step_plan(
    (config, source): &Loaded,
    base: &Overrides,
    users: Option<u64>,
    code: Option<&Code>,
    rate: f64,
    length: std::time::Duration,
) -> anyhow::Result<Plan> {
    let o = Overrides {
        rate: Some(Rate(rate)),
        duration: Some(Dur(length)),
        users: Some(users.unwrap_or(((rate * 2.0).ceil() as u64).max(20))),
        ..base.clone()
    };
    Ok(Plan::with_code(config, source, &o, code.map(|c| &c.users))?)
}

/// A search sets the rate and each step's length itself: flags that would change them,
/// or split the load, are refused rather than ignored.
fn refuse_what_does_not_apply(o: &Overrides) -> anyhow::Result<()> {
    let refused = [
        (o.segment.is_some_and(|s| s.count > 1), "--segment", "a search judges the whole load at each step: run it on one machine"),
        (o.iterations.is_some(), "--iterations", "each step lasts its warm-up and step (--warmup, --step)"),
        (!o.stages.is_empty(), "--stage", "the search's steps are its stages"),
        (o.duration.is_some(), "--duration", "each step lasts its warm-up and step: set --step and --warmup (or search = { step, warmup })"),
        (o.rate.is_some(), "--rate", "the search sets the rate: give it a --start"),
    ];
    match refused.iter().find(|(given, _, _)| *given) {
        Some((_, flag, why)) => anyhow::bail!("{flag} does not apply to a capacity search: {why}"),
        None => Ok(()),
    }
}

/// The scenario's search with the command line's flags over it.
fn with_flags(
    search: Option<SearchConfig>,
    f: &SearchArgs,
    scenario: &str,
) -> anyhow::Result<SearchConfig> {
    let rate = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| Rate::parse(t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
            .transpose()
    };
    let dur = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| Dur::parse(t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
            .transpose()
    };
    let start = rate("start", &f.start)?;
    let mut s = match (search, start) {
        (Some(s), _) => s,
        (None, Some(start)) => SearchConfig::starting_at(start),
        (None, None) => anyhow::bail!(
            "scenario {scenario:?} has no `search = {{ start = \"50/s\" }}`: give it one, or say --start RATE"
        ),
    };
    s.start = start.unwrap_or(s.start);
    s.max = rate("max", &f.max)?.or(s.max);
    s.require = rate("require", &f.require)?.or(s.require);
    s.step = dur("step", &f.step)?.unwrap_or(s.step);
    s.warmup = dur("warmup", &f.warmup)?.unwrap_or(s.warmup);
    s.factor = f.factor.unwrap_or(s.factor);
    if let Some(p) = &f.precision {
        s.precision = Some(toml::Value::String(p.clone()));
    }
    Ok(s)
}

/// What a search leaves: the result the verdict judges (the highest step that held,
/// else the first; its warm-up left out), the page that followed it, and the answer.
pub(super) struct Searched {
    pub result: RunResult,
    pub dashboard: Option<Dashboard>,
    pub capacity: Capacity,
}

/// Runs the steps with live progress, exports and the dashboard (each step shown as its
/// own run), until the search ends or a signal stops it.
pub(super) fn run(s: Search<'_>, settings: &Settings, budget: &Budget) -> anyhow::Result<Searched> {
    let first = &s.first;
    engine::check_limits(first).map_err(anyhow::Error::msg)?;
    engine::probe(first).map_err(anyhow::Error::msg)?;
    outln!(
        "perfgate: capacity of scenario {} → {}: steps of {} after {} warm-up, from {}/s (× {}, then bisection to {:.0}%), budget {}",
        s.name,
        first.target.url(),
        Dur(s.plan.step),
        Dur(s.plan.warmup),
        report::format::thousands(s.plan.start as u64),
        s.plan.factor,
        s.plan.precision * 100.0,
        budget.name
    );
    outln!("{}", report::capacity::HEADER);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let git = GitInfo::detect(&settings.ci);
    let mut exporter = super::pipeline::exporter(settings, &s.name, budget)?;
    let dashboard = match &settings.dashboard {
        Some(addr) => {
            let off = "the capacity search sets the rate".to_string();
            let setup = Frames::new(budget, &s.name, &first.target.url())
                .setup(settings.dashboard_token.is_some(), &Err(off.clone()));
            let d = Dashboard::start(addr, settings.dashboard_token.clone(), setup, Err(off))
                .map_err(anyhow::Error::msg)?;
            outln!("dashboard: http://{}/", d.addr);
            Some(d)
        }
        None => None,
    };
    let warmup = s.plan.warmup.as_secs_f64().ceil() as u64;
    let mut failed = None;
    // The step the verdict judges: (held, rate, its result after the warm-up).
    let mut judged: Option<(bool, f64, RunResult)> = None;
    // The first step's p50, which the service's latency must come back near after a
    // step that broke before the next starts; and whether the last step broke.
    let mut first_p50_ms = None;
    let mut last_broke = false;
    let found = capacity::search(&s.plan, &s.name, &budget.name, |rate| {
        let mut drained = None;
        if let (true, Some(p50)) = (last_broke, first_p50_ms) {
            match s.drain(&rt, p50) {
                Ok(Some(d)) => {
                    outln!("{}", report::capacity::drained(&d));
                    drained = Some(d);
                }
                // Interrupted while waiting: the search ends as after an interrupted step.
                Ok(None) => return None,
                Err(e) => {
                    failed = Some(e);
                    return None;
                }
            }
        }
        let plan = match s.step(rate) {
            Ok(p) => p,
            Err(e) => {
                failed = Some(e);
                return None;
            }
        };
        let title = format!("{}, step at {rate}/s", s.name);
        let mut frames = Frames::new(budget, &title, &plan.target.url());
        let mut progress = Progress::new(plan.duration, budget, settings.color);
        let page = dashboard.as_ref();
        let opts = RunOptions {
            environment: budget.environment.clone(),
            git: git.clone(),
            run_id: settings.run_id.clone(),
            hook: Some(Box::new(|c, elapsed| {
                progress.tick(c, elapsed);
                if let Some(e) = exporter.as_mut() {
                    e.tick(c, elapsed);
                }
                let d = page?;
                d.push(frames.frame(c, elapsed));
                d.stop_requested().then_some(StopReason::Interrupted)
            })),
            code: s.code.map(|c| c.tasks.clone()).unwrap_or_default(),
            ..RunOptions::default()
        };
        let began = std::time::Instant::now();
        let result = rt.block_on(engine::run(plan, opts, shutdown_signal()));
        progress.finish();
        // Each step's seconds go out as a run's do, stamped from the step's own start.
        if let Some(e) = exporter.as_mut() {
            e.end_load(&result);
        }
        // Until the last queued request was answered: what the service got through.
        let achieved_rps = result.total.requests as f64 / began.elapsed().as_secs_f64();
        let requests = result.total.requests;
        if result.stop == StopReason::Interrupted {
            judged.get_or_insert((false, rate, result));
            return None;
        }
        let after_warmup = result.from_second(warmup);
        let verdict = gate::evaluate(budget, &after_warmup);
        let total = &after_warmup.total;
        let dropped_share = total.dropped as f64 / (total.requests + total.dropped).max(1) as f64;
        let s = &total.summary;
        let step = Step {
            rate,
            held: verdict.status == Status::Passed && dropped_share <= MAX_DROPPED,
            achieved_rps,
            p50_ms: s.p50_ms,
            p95_ms: s.p95_ms,
            p99_ms: s.p99_ms,
            error_rate: s.error_rate,
            requests,
            dropped: total.dropped,
            dropped_share,
            broke: verdict.failures().cloned().collect(),
            drained,
        };
        first_p50_ms.get_or_insert(step.p50_ms);
        last_broke = !step.held;
        outln!("{}", report::capacity::row(&step));
        let better = match &judged {
            None => true,
            Some((held, at, _)) => step.held && (!held || rate > *at),
        };
        if better {
            judged = Some((step.held, rate, after_warmup));
        }
        Some(step)
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let Some((_, _, mut result)) = judged else {
        anyhow::bail!("the search ran no step");
    };
    if found.end == End::Interrupted {
        result.stop = StopReason::Interrupted;
    }
    if let Some(e) = exporter {
        e.close();
    }
    Ok(Searched {
        result,
        dashboard,
        capacity: found,
    })
}
