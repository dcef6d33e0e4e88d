//! Users as code: a load test that is a Rust program whose users are async functions,
//! on perfgate's engine, gate and reports (load shapes, the open model, budgets,
//! baselines, history, exports, segments and exit codes unchanged).
//!
//! ```no_run
//! use perfgate::prelude::*;
//!
//! async fn verify(u: &mut User) -> Outcome {
//!     let r = u.post("/api/verify-proof").name("verify").json(&serde_json::json!({"type": "login"})).send().await?;
//!     u.check("answered 200", r.status() == 200);
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Test::from_config("perfgate.toml")
//!         .user("ProofUser", 1, |c| c.task(3, verify).wait(between(1.s(), 3.s())))
//!         .main() // the perfgate command line: --scenario, --env, --report, --baseline …
//! }
//! ```
//!
//! A class named as one of the config's `[[users]]` replaces it; others run beside the
//! config's. A config task can call a Rust function by name (`code = "verify"`, the
//! function registered with [`Test::function`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{CodeClass, CodeTask, Dur, Wait};
use crate::engine::Code;
pub use crate::engine::{fail, Outcome, Reply, Task, User};

/// What a program using the API needs, in one `use perfgate::prelude::*;`.
pub mod prelude {
    pub use super::{between, constant, fail, pacing, DurationExt, Outcome, Reply, Test, User};
}

/// A task with its name (counted as `task:NAME`) and weight.
#[derive(Clone)]
struct NamedTask {
    name: String,
    weight: u32,
    task: Arc<dyn Task>,
}

impl NamedTask {
    fn of<F: Task>(name: &str, weight: u32, f: F) -> NamedTask {
        NamedTask {
            name: name.to_string(),
            weight,
            task: Arc::new(f),
        }
    }
}

/// A user class written in Rust: its tasks by weight, its wait, its `on_start` and
/// `on_stop`.
#[derive(Clone)]
pub struct Class {
    name: String,
    weight: u32,
    wait: Wait,
    tasks: Vec<NamedTask>,
    on_start: Option<NamedTask>,
    on_stop: Option<NamedTask>,
}

impl Class {
    fn new(name: &str, weight: u32) -> Class {
        Class {
            name: name.to_string(),
            weight,
            wait: Wait::Constant(Dur(Duration::ZERO)),
            tasks: Vec::new(),
            on_start: None,
            on_stop: None,
        }
    }

    /// A task picked `weight` times in the sum of weights, named after its function.
    pub fn task<F: Task>(self, weight: u32, f: F) -> Class {
        self.task_named(weight, &name_of::<F>(), f)
    }

    /// A task with a name of its own (for closures, whose type has none worth reading).
    pub fn task_named<F: Task>(mut self, weight: u32, name: &str, f: F) -> Class {
        self.tasks.push(NamedTask::of(name, weight, f));
        self
    }

    /// Run once when a user starts (again before its next task if it failed), and for
    /// each arrival in the open model.
    pub fn on_start<F: Task>(mut self, f: F) -> Class {
        self.on_start = Some(NamedTask::of(&name_of::<F>(), 0, f));
        self
    }

    /// Run when a user leaves (ramp-down, the load's end, the run's stop).
    pub fn on_stop<F: Task>(mut self, f: F) -> Class {
        self.on_stop = Some(NamedTask::of(&name_of::<F>(), 0, f));
        self
    }

    /// Think time after each task: [`between`], [`constant`] or [`pacing`].
    pub fn wait(mut self, wait: Wait) -> Class {
        self.wait = wait;
        self
    }
}

/// A uniformly random wait between `lo` and `hi`.
pub fn between(lo: Duration, hi: Duration) -> Wait {
    Wait::Between([Dur(lo), Dur(hi)])
}

/// The same wait `d` after every task.
pub fn constant(d: Duration) -> Wait {
    Wait::Constant(Dur(d))
}

/// Each task starts `d` after the previous one started (whatever it took).
pub fn pacing(d: Duration) -> Wait {
    Wait::Pacing(Dur(d))
}

/// `2.s()`, `500.ms()`.
pub trait DurationExt {
    /// This many seconds.
    fn s(self) -> Duration;
    /// This many milliseconds.
    fn ms(self) -> Duration;
}

impl DurationExt for u64 {
    fn s(self) -> Duration {
        Duration::from_secs(self)
    }

    fn ms(self) -> Duration {
        Duration::from_millis(self)
    }
}

/// A load test written in Rust: its user classes, its config, and the perfgate command
/// line to run it with.
#[derive(Default)]
pub struct Test {
    config: Option<PathBuf>,
    code: Code,
}

impl Test {
    /// With this config (scenarios, budgets, target), unless `-c` names another.
    pub fn from_config(path: impl Into<PathBuf>) -> Test {
        Test {
            config: Some(path.into()),
            code: Code::default(),
        }
    }

    /// Without a config: for `demo` (the bundled config) or `-c FILE` given when run.
    pub fn new() -> Test {
        Test::default()
    }

    /// A user class of `weight`, built by `build` from [`Class`]'s methods.
    pub fn user(mut self, name: &str, weight: u32, build: impl FnOnce(Class) -> Class) -> Test {
        let c = build(Class::new(name, weight));
        let mut describe = |t: NamedTask| self.code.callable(t);
        let class = CodeClass {
            name: c.name,
            weight: c.weight,
            wait: c.wait,
            tasks: c.tasks.into_iter().map(&mut describe).collect(),
            on_start: c.on_start.map(&mut describe),
            on_stop: c.on_stop.map(&mut describe),
        };
        self.code.users.classes.push(class);
        self
    }

    /// A function config tasks can call: `code = "NAME"` in a `[[users.tasks]]`.
    pub fn function<F: Task>(mut self, name: &str, f: F) -> Test {
        let callable = self.code.callable(NamedTask::of(name, 1, f)).callable;
        self.code.users.functions.insert(name.to_string(), callable);
        self
    }

    /// Runs the perfgate command line from this process's arguments, as `perfgate`
    /// would: `run` (the default when none is named: `-- --scenario smoke --env
    /// staging`), `demo`, `check`, `report`, … The same output, results and exit codes.
    pub fn main(self) -> ExitCode {
        let args: Vec<String> = std::env::args().skip(1).collect();
        self.main_with(&args)
    }

    /// As [`Test::main`], with these arguments. Here the bundled demo's ProofMessengerUser
    /// is replaced by one written in Rust, for one second:
    ///
    /// ```
    /// use perfgate::prelude::*;
    ///
    /// async fn health(u: &mut User) -> Outcome {
    ///     let r = u.get("/health").send().await?;
    ///     u.check("says ok", r.text()?.contains("ok"));
    ///     Ok(())
    /// }
    ///
    /// let out = std::env::temp_dir().join(format!("perfgate-doc-{}.json", std::process::id()));
    /// let args = ["demo", "--scenario", "smoke", "--duration", "1s", "--quiet", "--out"];
    /// let mut args: Vec<String> = args.map(String::from).to_vec();
    /// args.push(out.display().to_string());
    /// Test::new()
    ///     .user("ProofMessengerUser", 1, |c| c.task(1, health).wait(constant(10.ms())))
    ///     .main_with(&args);
    /// let result = perfgate::RunResult::load(&out).unwrap();
    /// let health = result.endpoints.iter().find(|e| e.name == "/health").unwrap();
    /// assert!(health.requests > 0 && health.failures == 0);
    /// assert_eq!(result.checks[0].check, "says ok");
    /// # std::fs::remove_file(out).ok();
    /// ```
    pub fn main_with(self, args: &[String]) -> ExitCode {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = crate::cli::TestCli::command();
        if let Some(path) = &self.config {
            // The test's config is the default of every `--config` there is.
            let path = path.display().to_string();
            let with_config: Vec<String> = cmd
                .get_subcommands()
                .filter(|c| c.get_arguments().any(|a| a.get_id() == "config"))
                .map(|c| c.get_name().to_string())
                .collect();
            let default = |a: clap::Arg| a.default_value(path.clone());
            cmd = cmd.mut_arg("config", default);
            for name in with_config {
                cmd = cmd.mut_subcommand(name, |c| c.mut_arg("config", default));
            }
        }
        let argv = std::iter::once("perfgate".to_string()).chain(args.iter().cloned());
        let parsed = cmd
            .try_get_matches_from(argv)
            .and_then(|m| crate::cli::TestCli::from_arg_matches(&m));
        let cli = match parsed {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
            }
        };
        quiet_caught_panics();
        let command = cli.command.unwrap_or(crate::cli::Command::Run(cli.run));
        crate::app::execute(command, Some(&self.code))
    }
}

trait Callables {
    /// Keeps `t`'s function among the callables; its description for the planner.
    fn callable(&mut self, t: NamedTask) -> CodeTask;
}

impl Callables for Code {
    fn callable(&mut self, t: NamedTask) -> CodeTask {
        self.tasks.push(t.task);
        CodeTask {
            name: t.name,
            weight: t.weight,
            callable: self.tasks.len() - 1,
        }
    }
}

/// A task's name from its function's type: `my_test::verify_proof` → `verify_proof`.
fn name_of<F>() -> String {
    let full = std::any::type_name::<F>();
    let name = full.rsplit("::").next().unwrap_or(full);
    if name.contains('{') {
        "task".to_string() // a closure: name it with task_named
    } else {
        name.to_string()
    }
}

/// A panic in a task is caught and counted (with its message, in the log and the
/// result): the default hook's report of each on stderr is left out for worker threads.
fn quiet_caught_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let worker = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("perfgate-worker"));
        if !worker {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn verify_proof(_: &mut User) -> Outcome {
        Ok(())
    }

    #[test]
    fn tasks_are_named_after_their_functions() {
        let c = Class::new("U", 1).task(3, verify_proof).task_named(
            1,
            "poll",
            async |_u: &mut User| Ok(()),
        );
        let names: Vec<(&str, u32)> = c
            .tasks
            .iter()
            .map(|t| (t.name.as_str(), t.weight))
            .collect();
        assert_eq!(names, [("verify_proof", 3), ("poll", 1)]);
        assert_eq!(5.s(), Duration::from_secs(5));
        assert_eq!(250.ms(), Duration::from_millis(250));
    }
}
