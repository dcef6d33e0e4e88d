//! What each subcommand does: parse → plan → run → gate → reports → exit code.

use std::path::Path;

use anyhow::Context as _;

mod history;
mod progress;

pub use history::{compare, history};

use crate::cli::{
    CheckArgs, DemoArgs, ImportArgs, InitArgs, LoadArgs, OutputArgs, ReportArgs, RunArgs,
};
use crate::config::{Arrivals, Config, Dur, Overrides, Plan, Rate, Segment, Source, Stage};
use crate::demo::{DemoServer, Knobs};
use crate::engine::{self, RunOptions};
use crate::exit::Exit;
use crate::export::Exporter;
use crate::gate::{self, Budget, Status, Verdict};
use crate::metrics::{RunResult, StopReason};
use crate::regress::Rules;
use crate::report::{self, Output, Report};
use progress::Progress;

/// The workflow `perfgate init` writes.
pub const WORKFLOW: &str = include_str!("../../examples/performance-budget.yml");

pub fn run(args: RunArgs) -> anyhow::Result<Exit> {
    let (config, source) = Config::load(&args.config)?;
    execute(&config, &source, &args.load, &args.output, None)
}

pub fn demo(args: DemoArgs) -> anyhow::Result<Exit> {
    let mut knobs = if args.degrade {
        Knobs::degraded()
    } else {
        Knobs::default()
    };
    let flags = [
        ("latency", &args.latency),
        ("jitter", &args.jitter),
        ("error-rate", &args.error_rate),
    ];
    for (what, specs) in flags {
        for spec in specs {
            knobs.set(what, spec).map_err(anyhow::Error::msg)?;
        }
    }
    if let Some(s) = &args.stall {
        knobs.set_stall(s).map_err(anyhow::Error::msg)?;
    }
    if let Some(addr) = &args.serve {
        let server =
            DemoServer::start(addr, knobs).with_context(|| format!("cannot listen on {addr}"))?;
        outln!(
            "Proof Messenger demo listening on {} (stats at {}/stats); Ctrl-C stops it",
            server.url(),
            server.url()
        );
        server.wait();
        return Ok(Exit::Passed);
    }
    let server =
        DemoServer::start("127.0.0.1:0", knobs).context("cannot start the demo service")?;
    let (config, source) = Config::parse("perfgate.toml (bundled)", crate::EXAMPLE_CONFIG)
        .expect("the bundled config parses");
    let mut load = args.load.clone();
    load.host = Some(server.url());
    outln!(
        "Proof Messenger demo service on {}{}",
        server.url(),
        if args.degrade {
            " (degraded: slow and flaky on purpose)"
        } else {
            ""
        }
    );
    let exit = execute(&config, &source, &load, &args.output, Some(&server))?;
    let served: u64 = server.served().values().flat_map(|m| m.values()).sum();
    outln!("(the demo service itself counted {served} responses)");
    Ok(exit)
}

pub fn check(args: CheckArgs) -> anyhow::Result<Exit> {
    let (config, source) = Config::load(&args.config)?;
    let reports = outputs(&args.output).map_err(anyhow::Error::msg)?;
    let mut store = history::open_store(&args.output)?;
    let loaded = (config, source);
    let (result, verdict) = judge_saved(&args.results, Some(&loaded), &args.output)?;
    let exit = finish(&result, &verdict, &args.output, &reports)?;
    Ok(history::record(store.as_mut(), &result, &verdict, exit))
}

pub fn report(args: ReportArgs) -> anyhow::Result<Exit> {
    let config = config_or_default(args.config.as_deref())?;
    let output = OutputArgs {
        environment: args.environment.clone(),
        baseline: args.baseline.clone(),
        ..OutputArgs::default()
    };
    writable(&args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    let (result, verdict) = judge_saved(&args.results, config.as_ref(), &output)?;
    let html = report::Format::Html.render(&Report {
        result: &result,
        verdict: &verdict,
    });
    crate::write_atomic(&args.output, html.as_bytes())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    outln!("wrote {} ({:?})", args.output.display(), verdict.status);
    Ok(Exit::Passed)
}

pub fn import(args: ImportArgs) -> anyhow::Result<Exit> {
    writable(&args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    let mut result = crate::import::read(&args.log, &args.scenario).map_err(anyhow::Error::msg)?;
    match args.host {
        Some(host) => result.target = host,
        None if result.target.is_empty() => result.target = "(not recorded)".into(),
        None => {}
    }
    result
        .save(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    outln!(
        "wrote {}: {} requests on {} endpoint{} over {} (from {}); gate it with `perfgate check {}`",
        args.output.display(),
        report::thousands(result.total.requests),
        result.endpoints.len(),
        if result.endpoints.len() == 1 { "" } else { "s" },
        report::seconds(result.duration_s),
        args.log.display(),
        args.output.display()
    );
    Ok(Exit::Passed)
}

/// The config at `path`, else ./perfgate.toml when there is one (for commands that also
/// work without a config: `report`, `compare`).
fn config_or_default(path: Option<&Path>) -> anyhow::Result<Option<(Config, Source)>> {
    let default = Path::new("perfgate.toml");
    Ok(match path {
        Some(p) => Some(Config::load(p)?),
        None if default.exists() => Some(Config::load(default)?),
        None => None,
    })
}

/// Loads and merges saved results, and judges them by the config's budget (when there is
/// a config) and against `--baseline` (when given).
fn judge_saved(
    paths: &[std::path::PathBuf],
    config: Option<&(Config, Source)>,
    output: &OutputArgs,
) -> anyhow::Result<(RunResult, Verdict)> {
    let results = paths
        .iter()
        .map(|p| RunResult::load(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let result = crate::metrics::merge(results).map_err(anyhow::Error::msg)?;
    let (budget, rules) = match config {
        Some((config, source)) => {
            let scenario_budget = config
                .scenarios
                .get(&result.scenario.name)
                .and_then(|s| s.get_ref().budget.clone());
            // The environment the results ran in, unless --env names another.
            let environment = output.environment.as_deref();
            let budget = Budget::resolve(
                config,
                source,
                environment.or(result.environment.as_deref()),
                scenario_budget.as_deref(),
            )?;
            (budget, Rules::from_config(&config.regression, source)?)
        }
        None => (
            Budget {
                name: "none".into(),
                environment: output.environment.clone(),
                ..Budget::default()
            },
            Rules::defaults(),
        ),
    };
    let mut verdict = gate::evaluate(&budget, &result);
    if let Some(spec) = output.baseline.as_deref() {
        let base = history::load_baseline(spec, &result.scenario.name, output)?;
        verdict = base.apply(verdict, &result, &rules, spec);
    }
    Ok((result, verdict))
}

pub fn init(args: InitArgs) -> anyhow::Result<Exit> {
    let files = [
        (args.dir.join("perfgate.toml"), crate::EXAMPLE_CONFIG),
        (
            args.dir.join(".github/workflows/performance-budget.yml"),
            WORKFLOW,
        ),
    ];
    if !args.force {
        if let Some((p, _)) = files.iter().find(|(p, _)| p.exists()) {
            anyhow::bail!(
                "{} already exists; pass --force to overwrite it",
                p.display()
            );
        }
    }
    for (path, text) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        outln!("wrote {}", path.display());
    }
    outln!("next: set [target] host in perfgate.toml, then `perfgate run --scenario smoke`");
    Ok(Exit::Passed)
}

fn overrides(load: &LoadArgs) -> Result<Overrides, String> {
    let o = Overrides {
        scenario: load.scenario.clone(),
        host: load.host.clone(),
        users: load.users,
        spawn_rate: load.spawn_rate,
        duration: load
            .duration
            .as_deref()
            .map(Dur::parse)
            .transpose()
            .map_err(|e| format!("--duration: {e}"))?,
        rate: load
            .rate
            .as_deref()
            .map(Rate::parse)
            .transpose()
            .map_err(|e| format!("--rate: {e}"))?,
        arrivals: load.arrivals.as_deref().map(|a| match a {
            "poisson" => Arrivals::Poisson,
            _ => Arrivals::Uniform,
        }),
        stages: load
            .stages
            .iter()
            .map(|s| Stage::parse(s).map_err(|e| format!("--stage {s}: {e}")))
            .collect::<Result<_, _>>()?,
        iterations: load.iterations,
        budget: load.budget.clone(),
        threads: load.threads,
        segment: load
            .segment
            .as_deref()
            .map(Segment::parse)
            .transpose()
            .map_err(|e| format!("--segment: {e}"))?,
    };
    o.with_env()
}

/// Parses `--report` and checks every output can be written, before any load.
pub(crate) fn outputs(o: &OutputArgs) -> Result<Vec<Output>, String> {
    let reports = o
        .reports
        .iter()
        .map(|s| Output::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let paths = o.out.iter().chain(reports.iter().map(|r| &r.path));
    for p in paths {
        writable(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    Ok(reports)
}

fn writable(path: &Path) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let probe = dir.join(format!(".perfgate-probe-{}", std::process::id()));
    std::fs::File::create(&probe)?;
    std::fs::remove_file(&probe)
}

fn execute(
    config: &Config,
    source: &Source,
    load: &LoadArgs,
    output: &OutputArgs,
    demo: Option<&DemoServer>,
) -> anyhow::Result<Exit> {
    let overrides = overrides(load).map_err(anyhow::Error::msg)?;
    let plan = Plan::build(config, source, &overrides)?;
    gate::check_endpoint_names(config, source, &plan.endpoints)?;
    let budget = Budget::resolve(
        config,
        source,
        output.environment.as_deref(),
        plan.budget.as_deref(),
    )?;
    let reports = outputs(output).map_err(anyhow::Error::msg)?;
    let rules = Rules::from_config(&config.regression, source)?;
    // A bad baseline or an unreachable history fails now, before any load.
    let baseline = output
        .baseline
        .as_deref()
        .map(|spec| history::load_baseline(spec, &plan.scenario, output))
        .transpose()?;
    let mut store = history::open_store(output)?;
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
        if demo.is_some() {
            " against the embedded demo"
        } else {
            ""
        }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let every =
        Dur::parse(&output.export_every).map_err(|e| anyhow::anyhow!("--export-every: {e}"))?;
    let mut exporter = Exporter::new(
        &output.exports,
        every.0,
        output.metrics_listen.as_deref(),
        &plan.scenario,
        budget.environment.as_deref(),
    )?;
    let mut progress = Progress::new(plan.duration, &budget);
    let opts = RunOptions {
        environment: budget.environment.clone(),
        slow_request: config.gate.slow_request.map(|d| d.0),
        log_requests: !output.quiet,
        hook: Some(Box::new(|c, elapsed| {
            progress.tick(c, elapsed);
            if let Some(e) = exporter.as_mut() {
                e.tick(c, elapsed);
            }
            let reason = gate::live_abort(&budget, c, elapsed)?;
            errln!("aborting: {reason}");
            Some(StopReason::Aborted)
        })),
    };
    let result = rt.block_on(engine::run(plan, opts, shutdown_signal()));
    progress.finish();
    if let Some(e) = exporter {
        e.finish(&result);
    }
    let mut verdict = gate::evaluate(&budget, &result);
    if let (Some(base), Some(spec)) = (&baseline, output.baseline.as_deref()) {
        verdict = base.apply(verdict, &result, &rules, spec);
    }
    let exit = finish(&result, &verdict, output, &reports)?;
    Ok(history::record(store.as_mut(), &result, &verdict, exit))
}

/// Resolves on the first Ctrl-C or SIGTERM; a second one exits at once.
async fn shutdown_signal() {
    wait_signal().await;
    errln!("\nstopping: finishing in-flight requests and writing partial results (Ctrl-C again to quit now)");
    tokio::spawn(async {
        wait_signal().await;
        std::process::exit(Exit::Interrupted.code() as i32);
    });
}

async fn wait_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

/// Prints the verdict, writes every output, and maps the outcome to an exit code.
fn finish(
    result: &RunResult,
    verdict: &Verdict,
    output: &OutputArgs,
    reports: &[Output],
) -> anyhow::Result<Exit> {
    let r = Report { result, verdict };
    let paint = report::table::Paint::detect();
    outln!("\n{}", report::terminal(&r, &paint));
    let mut broken = false;
    if let Some(path) = &output.out {
        if let Err(e) = result.save(path) {
            errln!("error: cannot write {}: {e}", path.display());
            broken = true;
        }
    }
    for o in reports {
        if let Err(e) = crate::write_atomic(&o.path, o.format.render(&r).as_bytes()) {
            errln!("error: cannot write {}: {e}", o.path.display());
            broken = true;
        }
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        out!("{}", report::annotations(&r));
    }
    if let Err(e) = report::step_summary(&report::Format::Markdown.render(&r)) {
        errln!("warning: cannot append to GITHUB_STEP_SUMMARY: {e}");
    }
    Ok(if broken {
        Exit::Error
    } else if result.stop == StopReason::Interrupted {
        Exit::Interrupted
    } else {
        match verdict.status {
            Status::Passed => Exit::Passed,
            Status::Failed | Status::Inconclusive => Exit::Failed,
        }
    })
}
