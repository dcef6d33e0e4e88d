//! `perfgate capacity` (and `perfgate run` of a scenario with `search`): open-model steps
//! of offered rate, each a whole load judged by the budget after its warm-up, until the
//! highest rate that holds is found.

use std::path::Path;

use anyhow::Context as _;

use super::pipeline::{self, Loaded};
use crate::capacity::{self, Capacity, End, Step};
use crate::cli::{CapacityArgs, SearchArgs};
use crate::config::{Config, Dur, Env, Overrides, Plan, Rate, Search, Settings};
use crate::dashboard::{Dashboard, Frames};
use crate::engine::{self, Code, RunOptions};
use crate::exit::Exit;
use crate::gate::{self, Budget, Status};
use crate::metrics::{GitInfo, StopReason};
use crate::report::{self, words, Format};

pub fn capacity(args: CapacityArgs, env: &Env, code: Option<&Code>) -> anyhow::Result<Exit> {
    let loaded = Config::load(&args.config)?;
    let settings = Settings::resolve(&args.load, &args.output, env).map_err(anyhow::Error::msg)?;
    search(&settings, &loaded, &args.search, code)
}

/// Runs the capacity search of the scenario the settings choose.
pub fn search(
    settings: &Settings,
    loaded: &Loaded,
    flags: &SearchArgs,
    code: Option<&Code>,
) -> anyhow::Result<Exit> {
    let users = code.map(|c| &c.users);
    let (config, source) = loaded;
    let base = settings.overrides();
    let (name, in_config) = crate::config::scenario_search(config, base.scenario.as_deref())
        .map_err(anyhow::Error::msg)?;
    let at = |msg: String| match in_config {
        Some(s) => anyhow::Error::new(source.error(s.span(), msg)),
        None => anyhow::Error::msg(msg),
    };
    let search = with_flags(in_config.map(|s| s.get_ref().clone()), flags, &name)?;
    let plan = capacity::Plan::from_config(&search).map_err(at)?;
    let scenario = config.scenarios.get(&name).map(|s| s.get_ref());
    if scenario.is_some_and(|s| !s.stages.is_empty() || !s.include.is_empty()) {
        return Err(at(format!(
            "scenario {name:?} searches for capacity: its steps are the search's, so it can have no stages or include"
        )));
    }
    let mut budget = Budget::resolve(
        config,
        source,
        settings.environment.as_ref().map(|e| e.value.as_str()),
        scenario.and_then(|s| s.budget.as_deref()),
        &settings.limits,
    )?;
    // The offered rate is what the search sets: throughput objectives judge nothing here.
    budget.objectives.retain(|o| !o.metric.scales_with_load());
    if budget.objectives.is_empty() {
        anyhow::bail!(
            "budget {}: a capacity search needs latency or error-rate objectives to judge each step by",
            budget.name
        );
    }
    let outputs = pipeline::outputs(settings).map_err(anyhow::Error::msg)?;
    for o in &outputs {
        if !matches!(o.format, Format::Html | Format::Json | Format::Markdown) {
            anyhow::bail!("--report: a capacity search writes html, markdown or json reports");
        }
    }
    let step_overrides = |rate: f64| Overrides {
        rate: Some(Rate(rate)),
        duration: Some(Dur(plan.warmup + plan.step)),
        users: Some(
            base.users
                .or(scenario.and_then(|s| s.max_users.or(s.users)))
                .unwrap_or(((rate * 2.0).ceil() as u64).max(20)),
        ),
        ..base.clone()
    };
    let first = Plan::with_code(config, source, &step_overrides(plan.start), users)?;
    engine::check_limits(&first).map_err(anyhow::Error::msg)?;
    engine::probe(&first).map_err(anyhow::Error::msg)?;
    outln!(
        "perfgate: capacity of scenario {name} → {}: steps of {} after {} warm-up, from {}/s (× {}, then bisection to {:.0}%), budget {}",
        first.target.url(),
        Dur(plan.step),
        Dur(plan.warmup),
        report::format::thousands(plan.start as u64),
        plan.factor,
        plan.precision * 100.0,
        budget.name
    );
    outln!("{}", report::capacity::HEADER);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let git = GitInfo::detect(&settings.ci);
    // The dashboard follows each step as its own run, named by its rate.
    let dashboard = match &settings.dashboard {
        Some(addr) => {
            let off = "the capacity search sets the rate".to_string();
            let setup = Frames::new(&budget, &name, &first.target.url())
                .setup(settings.dashboard_token.is_some(), &Err(off.clone()));
            let d = Dashboard::start(addr, settings.dashboard_token.clone(), setup, Err(off))
                .map_err(anyhow::Error::msg)?;
            outln!("dashboard: http://{}/", d.addr);
            Some(d)
        }
        None => None,
    };
    let warmup = plan.warmup.as_secs_f64().ceil() as u64;
    let mut failed = None;
    let found = capacity::search(&plan, &name, &budget.name, |rate| {
        let plan = match Plan::with_code(config, source, &step_overrides(rate), users) {
            Ok(p) => p,
            Err(e) => {
                failed = Some(e);
                return None;
            }
        };
        let mut frames = Frames::new(
            &budget,
            &format!("{name}, step at {rate}/s"),
            &plan.target.url(),
        );
        let opts = RunOptions {
            environment: budget.environment.clone(),
            git: git.clone(),
            hook: dashboard.as_ref().map(|d| -> engine::Hook<'_> {
                Box::new(move |c, elapsed| {
                    d.push(frames.frame(c, elapsed));
                    d.stop_requested().then_some(StopReason::Interrupted)
                })
            }),
            code: code.map(|c| c.tasks.clone()).unwrap_or_default(),
            ..RunOptions::default()
        };
        let began = std::time::Instant::now();
        let result = rt.block_on(engine::run(plan, opts, pipeline::shutdown_signal()));
        // Until the last queued request was answered: what the service got through.
        let achieved_rps = result.total.requests as f64 / began.elapsed().as_secs_f64();
        if result.stop == StopReason::Interrupted {
            return None;
        }
        let judged = result.from_second(warmup);
        let verdict = gate::evaluate(&budget, &judged);
        let scheduled = judged.total.requests + judged.total.dropped;
        let dropped_share = judged.total.dropped as f64 / scheduled.max(1) as f64;
        let mut broke: Vec<String> = verdict.failures().map(words::check).collect();
        if dropped_share > 0.01 {
            broke.push(format!(
                "{:.1}% of arrivals found no free user (the service is not keeping up, or raise --users)",
                dropped_share * 100.0
            ));
        }
        let s = &judged.total.summary;
        let step = Step {
            rate,
            held: verdict.status == Status::Passed && broke.is_empty(),
            achieved_rps,
            p50_ms: s.p50_ms,
            p95_ms: s.p95_ms,
            p99_ms: s.p99_ms,
            error_rate: s.error_rate,
            requests: result.total.requests,
            dropped: judged.total.dropped,
            broke,
        };
        outln!("{}", report::capacity::row(&step));
        Some(step)
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    outln!("\n{}", report::capacity::conclusion(&found, plan.require));
    write_outputs(&found, &budget, settings.out.as_deref(), &outputs)?;
    let exit = exit(&found, plan.require);
    if let Some(d) = dashboard {
        let status = match exit {
            Exit::Passed => "passed",
            Exit::Failed => "failed",
            _ => "inconclusive",
        };
        let words = report::capacity::conclusion(&found, plan.require);
        d.finish(status, &words, &report::capacity::html(&found, &budget));
        d.close();
    }
    Ok(exit)
}

/// The scenario's search with the command line's flags over it.
fn with_flags(search: Option<Search>, f: &SearchArgs, scenario: &str) -> anyhow::Result<Search> {
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
        (None, Some(start)) => Search::starting_at(start),
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

fn write_outputs(
    found: &Capacity,
    budget: &Budget,
    out: Option<&Path>,
    outputs: &[report::Output],
) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(found)? + "\n";
    if let Some(path) = out {
        crate::write_atomic(path, json.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    for o in outputs {
        let text = match o.format {
            Format::Html => report::capacity::html(found, budget),
            Format::Markdown => report::capacity::markdown(found),
            _ => json.clone(),
        };
        crate::write_atomic(&o.path, text.as_bytes())
            .with_context(|| format!("cannot write {}", o.path.display()))?;
        outln!("wrote {}", o.path.display());
    }
    Ok(())
}

/// 0 when a capacity was found (and meets `require`), 1 when none held or it is below
/// `require`, 3 when interrupted.
fn exit(found: &Capacity, require: Option<f64>) -> Exit {
    match found.end {
        End::Interrupted => Exit::Interrupted,
        End::FailedAtStart => Exit::Failed,
        End::Found | End::HeldAtMax if found.meets(require) => Exit::Passed,
        _ => Exit::Failed,
    }
}
