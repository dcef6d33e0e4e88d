//! The exit-code contract, in one place.

use std::process::ExitCode;

/// How a perfgate command ended. The numbers are part of the CLI's contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: every objective held.
    Passed,
    /// 1: a budget or regression objective failed, had no data, or the run was
    /// inconclusive (the load generator was the bottleneck).
    Failed,
    /// 2: perfgate could not do its job: bad arguments or config, unreadable input,
    /// unwritable output.
    Error,
    /// 3: the run was interrupted (Ctrl-C, SIGTERM); partial results were still written.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Passed => 0,
            Exit::Failed => 1,
            Exit::Error => 2,
            Exit::Interrupted => 3,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}
