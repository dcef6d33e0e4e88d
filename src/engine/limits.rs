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
        // macOS refuses a soft limit above OPEN_MAX even when the hard one is unlimited.
        let cap = cfg!(target_os = "macos").then_some(MACOS_OPEN_MAX);
        #[allow(clippy::unnecessary_cast)]
        let target = wanted(lim.rlim_cur as u64, lim.rlim_max as u64, cap);
        #[allow(clippy::unnecessary_cast)]
        if target > lim.rlim_cur as u64 {
            let raised = libc::rlimit {
                rlim_cur: target as libc::rlim_t,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = raised.rlim_cur;
            }
        }
    }
    // rlim_t is u64 here, another width on other Unixes.
    #[allow(clippy::unnecessary_cast)]
    (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur as u64)
}

/// macOS's OPEN_MAX: the most a soft RLIMIT_NOFILE may be set to there.
const MACOS_OPEN_MAX: u64 = 10_240;

/// The soft limit to ask for: the hard one `max`, capped at `cap` where the system caps
/// it, and never below the one in force.
fn wanted(cur: u64, max: u64, cap: Option<u64>) -> u64 {
    cap.map_or(max, |c| max.min(c)).max(cur)
}

/// Elsewhere sockets are not files with a per-process limit of this kind.
#[cfg(not(unix))]
fn raise_fd_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26: on macOS the hard limit is often unlimited, and asking for it failed, so
    /// the soft 256 stayed and 200 users were refused with the wrong advice.
    #[test]
    fn the_soft_limit_asked_for_is_one_the_system_grants() {
        let unlimited = u64::MAX;
        assert_eq!(wanted(256, unlimited, Some(MACOS_OPEN_MAX)), 10_240);
        assert_eq!(wanted(256, 8_192, Some(MACOS_OPEN_MAX)), 8_192);
        assert_eq!(wanted(1_024, 524_288, None), 524_288);
        assert_eq!(
            wanted(20_000, unlimited, Some(MACOS_OPEN_MAX)),
            20_000,
            "never lower"
        );
        assert_eq!(wanted(1_024, 1_024, None), 1_024);
    }
}
