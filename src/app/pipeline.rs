//! The one path every subcommand takes: settings → plan → run or load → judge (budget
//! and baseline together) → outputs → record. Everything that can fail on bad input
//! (the budget, the rules, the output paths, the baseline, the history store) is checked
//! before any load.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use super::progress::Progress;
use super::search::Search;
use crate::cli::SearchArgs;
use crate::config::{Config, Dur, Plan, Settings, Source};
use crate::dashboard::{Dashboard, Frames, Steering};
use crate::engine::{self, Code, RunOptions, Task};
use crate::exit::Exit;
use crate::export::Exporter;
use crate::gate::{self, Budget, Note, Status, Verdict};
use crate::history::{self, Store};
use crate::metrics::{GitInfo, RunResult, StopReason};
use crate::regress::{self, Rules};
use crate::report::{self, table::Paint, words, Output, Report};

/// A parsed perfgate.toml and its text, for errors.
pub type Loaded = (Config, Source);

/// Where the result comes from.
pub enum Measure<'a> {
    /// Plan the config's scenario and run its load; `demo` says it goes to the embedded
    /// demo service.
    Run { demo: bool, code: Option<&'a Code> },
    /// Search for the highest rate at which the budget holds (capacity), the search's
    /// flags over the scenario's `search`.
    Search {
        flags: &'a SearchArgs,
        code: Option<&'a Code>,
    },
    /// Saved results, merged exactly; segments of different runs only when `mixed_runs`.
    Saved {
        paths: &'a [PathBuf],
        mixed_runs: bool,
    },
}

/// The measure, resolved: a plan to run, a search, or the saved results merged. One is
/// made per command, so each is kept inline whatever its size.
#[allow(clippy::large_enum_variant)]
enum Input<'a> {
    Load {
        plan: Plan,
        demo: bool,
        code: Vec<Arc<dyn Task>>,
    },
    Search(Search<'a>),
    Saved(RunResult),
}

impl Input<'_> {
    /// The plan checked before any load: the run's, or the search's first step's.
    fn plan(&self) -> Option<&Plan> {
        match self {
            Input::Load { plan, .. } => Some(plan),
            Input::Search(s) => Some(&s.first),
            Input::Saved(_) => None,
        }
    }
}

/// What a subcommand asks of the pipeline.
#[derive(Clone, Copy)]
pub struct Mode {
    /// Judge by the config's budget (`compare` judges against the baseline only).
    pub budget: bool,
    /// What the terminal shows.
    pub show: Show,
    /// The verdict sets the exit code and the CI's annotations and job summary (`report`
    /// and `compare` exit 0 whatever they find).
    pub gate: bool,
    /// Record the run in the history store, when settings name one.
    pub record: bool,
    /// Judge a lone segment's result anyway (`check --partial`).
    pub partial: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// The per-endpoint table, the verdict and the baseline's regressions.
    Verdict,
    /// Every comparison with the baseline.
    Baseline,
    /// Nothing: the subcommand says what it wrote.
    Nothing,
}

impl Mode {
    /// `run`, `demo` and `check`: judge, show, exit by the verdict, record.
    pub const GATE: Mode = Mode {
        budget: true,
        show: Show::Verdict,
        gate: true,
        record: true,
        partial: false,
    };
}

/// What the pipeline made.
pub struct Judged {
    pub verdict: Verdict,
    pub exit: Exit,
}

/// Runs the pipeline for one subcommand.
pub fn execute(
    settings: &Settings,
    config: Option<&Loaded>,
    measure: Measure<'_>,
    mode: Mode,
) -> anyhow::Result<Judged> {
    // What is judged: the plan's scenario, or the saved results' own.
    let input = match (measure, config) {
        (Measure::Run { demo, code }, Some((c, s))) => Input::Load {
            plan: Plan::with_code(c, s, &settings.overrides(), code.map(|c| &c.users))?,
            demo,
            code: code.map(|c| c.tasks.clone()).unwrap_or_default(),
        },
        (Measure::Search { flags, code }, Some(loaded)) => {
            Input::Search(Search::resolve(settings, loaded, flags, code)?)
        }
        (Measure::Run { .. } | Measure::Search { .. }, None) => {
            anyhow::bail!("a load needs a config")
        }
        (Measure::Saved { paths, mixed_runs }, _) => {
            Input::Saved(super::saved::load(paths, mixed_runs)?)
        }
    };
    let (scenario, scenario_budget, environment) = match &input {
        Input::Load { plan, .. } | Input::Search(Search { first: plan, .. }) => (
            plan.scenario.clone(),
            plan.budget.clone(),
            settings.environment.as_ref().map(|e| e.value.clone()),
        ),
        Input::Saved(r) => (
            r.scenario.name.clone(),
            config.and_then(|(c, _)| {
                c.scenarios
                    .get(&r.scenario.name)
                    .and_then(|s| s.get_ref().budget.clone())
            }),
            // The environment the results ran in, unless --env names another.
            settings.environment_or(r.environment.as_deref()),
        ),
    };
    if let (Some(plan), Some((c, s))) = (input.plan(), config) {
        gate::check_endpoint_names(c, s, plan)?;
    }
    let mut budget = match config {
        Some((c, s)) if mode.budget => Budget::resolve(
            c,
            s,
            environment.as_deref(),
            scenario_budget.as_deref(),
            &settings.limits,
        )?,
        _ => Budget {
            name: if mode.budget { "none" } else { "regression" }.into(),
            environment,
            ..Budget::default()
        },
    };
    if let Input::Search(_) = &input {
        // The offered rate is what the search sets: throughput objectives judge nothing.
        budget.objectives.retain(|o| !o.metric.scales_with_load());
        anyhow::ensure!(
            !budget.objectives.is_empty(),
            "budget {}: a capacity search needs latency or error-rate objectives to judge each step by",
            budget.name
        );
    }
    if let Some(plan) = input.plan() {
        unjudgeable(&budget, plan)?;
    }
    let rules = match config {
        Some((c, s)) => Rules::from_config(&c.regression, s)?,
        None => Rules::defaults(),
    };
    let outputs = outputs(settings).map_err(anyhow::Error::msg)?;
    // A bad baseline or an unreachable history fails now, before any load.
    let baseline = settings
        .baseline
        .as_deref()
        .map(|spec| history::load_baseline(spec, &scenario, &settings.history_store()))
        .transpose()?;
    let mut store = match &settings.history {
        Some(h) if mode.record => Some(Store::open(&h.value)?),
        _ => None,
    };
    let (result, dashboard, capacity) = match input {
        Input::Load { plan, demo, code } => {
            let (result, dashboard) = run_load(plan, demo, code, settings, config, &budget)?;
            (result, dashboard, None)
        }
        Input::Search(s) => {
            let s = super::search::run(s, settings, &budget)?;
            (s.result, s.dashboard, Some(s.capacity))
        }
        Input::Saved(result) => (result, None, None),
    };
    let mut verdict = judge(&budget, &result, mode, &rules, settings, baseline);
    if let Some(c) = capacity {
        verdict = verdict.with_capacity(c);
    }
    let mut exit = present(&result, &verdict, settings, &outputs, mode);
    if let Some(d) = dashboard {
        let r = Report {
            result: &result,
            verdict: &verdict,
        };
        let status = format!("{:?}", verdict.status).to_lowercase();
        let words = match &verdict.capacity {
            Some(c) => report::capacity::conclusion(c),
            None => report::table::verdict_block(&r, &Paint(false)),
        };
        d.finish(&status, &words, &report::Format::Html.render(&r));
        d.close();
    }
    if let Some(store) = store.as_mut() {
        exit = record(store, &result, &verdict, exit);
    }
    Ok(Judged { verdict, exit })
}

/// A budget bounding a number no request reads (`NAME_p95` without `metrics = { NAME =
/// ... }`), or a scope whose tags no endpoint has, would fail every run with "no data":
/// said before any load instead.
fn unjudgeable(budget: &Budget, plan: &Plan) -> anyhow::Result<()> {
    let read = &plan.metrics;
    let objectives = budget
        .objectives
        .iter()
        .chain(budget.alerts.iter().flat_map(|a| &a.objectives));
    for o in objectives {
        if let crate::metrics::Scope::Tagged { name, tags } = &o.scope {
            let selects = plan
                .endpoint_tags
                .iter()
                .any(|t| tags.iter().all(|(k, v)| t.get(k) == Some(v)));
            let wanted: Vec<String> = tags.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
            anyhow::ensure!(
                selects,
                "[scopes.{name}]: no endpoint has the tags {{ {} }}: tag the requests it should judge (tags = {{ ... }} on their tasks or steps)",
                wanted.join(", ")
            );
        }
        // Tasks written in Rust record numbers of any name as they run.
        if let crate::metrics::Metric::Custom(name, _) = o.metric {
            anyhow::ensure!(
                plan.names_at_run_time || read.iter().any(|r| r == name),
                "budget {} ({}): no request reads a number called {name}: add metrics = {{ {name} = \"/json/pointer\" }} (or \"header:NAME\", \"server-timing:NAME\") to the request{}",
                budget.name,
                o.origin,
                if read.is_empty() { String::new() } else { format!(" (read: {})", read.join(", ")) }
            );
        }
    }
    Ok(())
}

/// The budget's verdict (or the baseline's alone), with the baseline comparison.
fn judge(
    budget: &Budget,
    result: &RunResult,
    mode: Mode,
    rules: &Rules,
    settings: &Settings,
    baseline: Option<history::Loaded>,
) -> Verdict {
    let mut verdict = if mode.budget {
        gate::evaluate(budget, result)
    } else {
        Verdict::unjudged(&budget.name, budget.environment.clone())
    };
    if let Some(seg) = &result.scenario.segment {
        verdict = verdict.of_a_segment_alone(seg, mode.partial);
    }
    let spec = settings.baseline.as_deref().unwrap_or_default();
    match baseline {
        Some(history::Loaded::Run(base)) => {
            verdict = verdict.with_baseline(regress::compare(result, &base, rules, spec))
        }
        Some(history::Loaded::NoneYet { store, branch }) => {
            let note = Note::NoBaselineYet {
                store,
                scenario: result.scenario.name.clone(),
                branch,
            };
            errln!("warning: {}", words::note(&note));
            verdict.notes.push(note);
        }
        None => {}
    }
    verdict
}

/// Runs the load with live progress, exports and `abort_on_fail`, until it ends or a
/// signal stops it.
fn run_load(
    plan: Plan,
    demo: bool,
    code: Vec<Arc<dyn Task>>,
    settings: &Settings,
    config: Option<&Loaded>,
    budget: &Budget,
) -> anyhow::Result<(RunResult, Option<Dashboard>)> {
    let segment = if plan.segment.count > 1 {
        format!(", segment {}", plan.segment)
    } else {
        String::new()
    };
    let length = match plan.iterations {
        Some(n) => format!("{n} iterations (at most {})", Dur(plan.duration)),
        None => Dur(plan.duration).to_string(),
    };
    outln!(
        "perfgate: scenario {} → {} for {length} ({} thread{}{segment}){}",
        plan.scenario,
        plan.target.url(),
        plan.threads,
        if plan.threads == 1 { "" } else { "s" },
        if demo {
            " against the embedded demo"
        } else {
            ""
        }
    );
    if let Some(p) = &plan.proxy {
        outln!("through the proxy {}:{}", p.host, p.port);
    }
    engine::check_limits(&plan).map_err(anyhow::Error::msg)?;
    engine::probe(&plan).map_err(anyhow::Error::msg)?;
    if plan.target.tls && plan.tls.insecure {
        errln!("WARNING: {}", words::INSECURE);
    }
    if let Some(at) = &settings.start_at {
        wait_until(at.value);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut exporter = exporter(settings, &plan.scenario, budget)?;
    let mut steering = None;
    let mut dashboard = match &settings.dashboard {
        Some(addr) => {
            let frames = Frames::new(budget, &plan.scenario, &plan.target.url());
            let steerable = engine::steerable(&plan);
            let setup = frames.setup(settings.dashboard_token.is_some(), &steerable);
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            steering = Some(rx);
            let to = steerable.map(|(model, _, max)| Steering { model, max, tx });
            let d = Dashboard::start(addr, settings.dashboard_token.clone(), setup, to)
                .map_err(anyhow::Error::msg)?;
            outln!("dashboard: http://{}/", d.addr);
            Some((d, frames))
        }
        None => None,
    };
    let mut progress = Progress::new(plan.duration, budget, settings.color);
    let mut page = dashboard.as_mut();
    let opts = RunOptions {
        environment: budget.environment.clone(),
        git: GitInfo::detect(&settings.ci),
        run_id: settings.run_id.clone(),
        slow_request: config.and_then(|(c, _)| c.gate.slow_request.map(|d| d.0)),
        log_requests: !settings.quiet,
        hook: Some(Box::new(|c, elapsed| {
            progress.tick(c, elapsed);
            if let Some(e) = exporter.as_mut() {
                e.tick(c, elapsed);
            }
            if let Some((d, frames)) = page.as_mut() {
                d.push(frames.frame(c, elapsed));
                if d.stop_requested() {
                    errln!("\nstopping: asked from the dashboard; writing partial results");
                    return Some(StopReason::Interrupted);
                }
            }
            let check = gate::live_abort(budget, c, elapsed)?;
            errln!("aborting: {}", words::check(&check));
            Some(StopReason::Aborted)
        })),
        steering,
        code,
    };
    let mut result = rt.block_on(engine::run(plan, opts, shutdown_signal()));
    progress.finish();
    if let Some(e) = exporter {
        e.finish(&result);
    }
    let dashboard = dashboard.map(|(d, _)| d);
    if dashboard.as_ref().is_some_and(Dashboard::stop_requested)
        && result.stop == StopReason::Interrupted
    {
        result.stopped_by = Some("the dashboard".into());
    }
    Ok((result, dashboard))
}

/// The live exports the settings ask for (none: None), labelled with the scenario.
pub(super) fn exporter(
    settings: &Settings,
    scenario: &str,
    budget: &Budget,
) -> anyhow::Result<Option<Exporter>> {
    Exporter::new(
        &settings.exports,
        settings.export_every.0,
        settings.metrics_listen.as_deref(),
        scenario,
        budget.environment.as_deref(),
        settings.influx_token.clone(),
    )
}

/// Waits for a start time every segment shares; Ctrl-C meanwhile ends perfgate at once
/// (nothing is measured yet). A time already past starts now, saying so.
fn wait_until(at: std::time::SystemTime) {
    let when = humantime::format_rfc3339_seconds(at);
    match at.duration_since(std::time::SystemTime::now()) {
        Ok(wait) => {
            outln!("waiting {:.1} s for the start at {when}", wait.as_secs_f64());
            std::thread::sleep(wait);
        }
        Err(late) => errln!(
            "warning: the start time {when} passed {:.1} s ago: starting now, later than loads given the same time",
            late.duration().as_secs_f64()
        ),
    }
}

/// Resolves on the first Ctrl-C or SIGTERM; a second one exits at once.
pub(super) async fn shutdown_signal() {
    wait_signal().await;
    errln!("\nstopping: finishing in-flight requests and writing partial results (Ctrl-C again to quit now)");
    tokio::spawn(async {
        wait_signal().await;
        std::process::exit(Exit::Interrupted.code() as i32);
    });
}

/// Ctrl-C, or SIGTERM where there are signals.
async fn wait_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Shows the outcome, writes every output, and maps it to an exit code.
fn present(
    result: &RunResult,
    verdict: &Verdict,
    settings: &Settings,
    outputs: &[Output],
    mode: Mode,
) -> Exit {
    let r = Report { result, verdict };
    let paint = Paint::stdout(settings.color);
    match mode.show {
        Show::Verdict => outln!("\n{}", report::terminal(&r, &paint)),
        Show::Baseline => {
            out!("{}", report::baseline_block(&r, &paint, true));
            for n in &verdict.notes {
                outln!("{}", words::note(n));
            }
        }
        Show::Nothing => {}
    }
    let mut broken = false;
    if let Some(path) = &settings.out {
        if let Err(e) = result.save(path) {
            errln!("error: cannot write {}: {e}", path.display());
            broken = true;
        }
    }
    for o in outputs {
        if let Err(e) = crate::write_atomic(&o.path, o.format.render(&r).as_bytes()) {
            errln!("error: cannot write {}: {e}", o.path.display());
            broken = true;
        }
    }
    if mode.gate {
        if settings.ci.github_actions {
            out!("{}", report::annotations(&r));
        }
        let summary = settings.ci.step_summary.as_deref();
        let markdown = report::Format::Markdown.render(&r);
        if let Err(e) = report::step_summary(summary, &markdown) {
            errln!("warning: cannot append to GITHUB_STEP_SUMMARY: {e}");
        }
    }
    if broken {
        Exit::Error
    } else if !mode.gate {
        Exit::Passed
    } else if result.stop == StopReason::Interrupted {
        Exit::Interrupted
    } else {
        match verdict.status {
            Status::Passed => Exit::Passed,
            Status::Failed | Status::Inconclusive => Exit::Failed,
        }
    }
}

/// Records the run after its outputs are written; a failed write turns the exit into 2.
fn record(store: &mut Store, r: &RunResult, v: &Verdict, exit: Exit) -> Exit {
    let status = if r.stop == StopReason::Interrupted {
        "interrupted"
    } else {
        match v.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Inconclusive => "inconclusive",
        }
    };
    match store.record(r, status) {
        Ok(id) => {
            outln!("recorded run #{id} in {}", store.url);
            exit
        }
        Err(e) => {
            errln!("error: cannot record the run in {}: {e:#}", store.url);
            Exit::Error
        }
    }
}

/// Parses `--report` and checks every output can be written, before any load.
pub(super) fn outputs(settings: &Settings) -> Result<Vec<Output>, String> {
    let reports = settings
        .reports
        .iter()
        .map(|s| Output::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let paths = settings.out.iter().chain(reports.iter().map(|r| &r.path));
    for p in paths {
        writable(p).map_err(|e| format!("{e:#}"))?;
    }
    Ok(reports)
}

/// Whether a file can be created at `path` (probed, then removed); its folder is made
/// when missing (a run's own folder on a shared volume).
pub fn writable(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = dir.join(format!(".perfgate-probe-{}", std::process::id()));
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::File::create(&probe))
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| format!("cannot write {}", path.display()))
}
