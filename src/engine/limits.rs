//! What this machine lets a run have, checked before anything is allocated for it: a
//! virtual user holds a connection, so the users a process runs at once must fit under
//! its file-descriptor limit (whose soft value is raised to the hard one first).

use crate::config::Plan;

/// File descriptors perfgate keeps for itself (runtime, stdio, exporters, files).
const SPARE_FDS: u64 = 64;

/// Refuses a plan that runs more users at once than this process may open connections;
/// the error names the limit and what to do.
pub fn check(plan: &Plan) -> Result<(), String> {
    let users: u64 = plan
        .loads
        .iter()
        .map(|l| plan.segment.share(l.peak_users()))
        .fold(0u64, u64::saturating_add);
    let Some(limit) = raise_fd_limit() else {
        return Ok(());
    };
    let room = limit.saturating_sub(SPARE_FDS);
    if users > room {
        return Err(format!(
            "{users} users need {users} connections, but this process may open {limit} files (ulimit -n; {SPARE_FDS} kept for perfgate): raise the hard limit, run fewer users, or split the load with --segment"
        ));
    }
    Ok(())
}

/// The most users this process may run at once (one connection each).
pub fn max_users() -> f64 {
    raise_fd_limit().map_or(1e6, |limit| limit.saturating_sub(SPARE_FDS) as f64)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; the limit in force after.
#[cfg(unix)]
fn raise_fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    // rlim_t is u64 here, another width on other Unixes.
    #[allow(clippy::unnecessary_cast)]
    (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur as u64)
}

/// Elsewhere sockets are not files with a per-process limit of this kind.
#[cfg(not(unix))]
fn raise_fd_limit() -> Option<u64> {
    None
}
