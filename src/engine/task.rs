//! Tasks written in Rust, as the engine runs them: the callables a run's options carry,
//! indexed as the plan's [`CodeUsers`] description says.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::code::Outcome;
use super::user::User;
use crate::config::CodeUsers;

/// A task written in Rust: any `async fn(&mut User) -> Outcome` (or async closure).
pub trait Task: Send + Sync + 'static {
    /// Runs the task on `user`.
    fn call<'u>(&'u self, user: &'u mut User) -> Pin<Box<dyn Future<Output = Outcome> + 'u>>;
}

impl<F> Task for F
where
    F: AsyncFn(&mut User) -> Outcome + Send + Sync + 'static,
{
    fn call<'u>(&'u self, user: &'u mut User) -> Pin<Box<dyn Future<Output = Outcome> + 'u>> {
        Box::pin(self(user))
    }
}

/// Users written in Rust, as a run takes them: what the planner reads (names, weights,
/// waits, task names) and the callables the engine runs, `tasks[i]` being the one the
/// description calls `callable: i`.
#[derive(Clone, Default)]
pub struct Code {
    /// The classes and functions, described for the planner.
    pub users: CodeUsers,
    /// The functions themselves.
    pub tasks: Vec<Arc<dyn Task>>,
}

/// The words of a caught panic.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".to_string())
}
