//! The scenario's shape: which loads run (one, or several a scenario includes), each with
//! its model, stages, start and length; how many threads; whether a segment can be split.

use std::time::Duration;

use super::{Load, Model, Overrides};
use crate::config::{Config, ConfigError, Scenario, Segment, Source};

/// The loads scenario `name` runs: itself, or each scenario it includes.
pub(super) fn loads(
    config: &Config,
    source: &Source,
    name: &str,
    s: &Scenario,
    o: &Overrides,
    counted: bool,
) -> Result<Vec<Load>, ConfigError> {
    let span = config.scenarios.get(name).map_or(0..0, |s| s.span());
    let at = |msg: String| source.error(span.clone(), msg);
    if s.include.is_empty() {
        return Ok(vec![load(name, s, o, counted).map_err(at)?]);
    }
    if o.users.is_some()
        || o.rate.is_some()
        || o.duration.is_some()
        || o.spawn_rate.is_some()
        || o.arrivals.is_some()
        || !o.stages.is_empty()
    {
        return Err(at(format!(
            "scenario {name:?} runs {} together: --users, --rate, --spawn-rate, --duration, --arrivals and --stage apply to one scenario; run one alone or edit perfgate.toml",
            s.include.join(", ")
        )));
    }
    let mut loads = Vec::new();
    for part in &s.include {
        let sub = config.scenarios.get(part).ok_or_else(|| {
            at(format!(
                "scenario {name:?} includes {part:?}, which is not a scenario"
            ))
        })?;
        if !sub.get_ref().include.is_empty() {
            return Err(source.error(
                sub.span(),
                format!("scenario {part:?} includes others and is itself included by {name:?}: include only plain scenarios"),
            ));
        }
        loads.push(
            load(part, sub.get_ref(), &Overrides::default(), counted)
                .map_err(|m| source.error(sub.span(), m))?,
        );
    }
    Ok(loads)
}

/// Resolves one plain scenario's load; the error is about that scenario.
fn load(name: &str, s: &Scenario, o: &Overrides, counted: bool) -> Result<Load, String> {
    // An iteration-bounded run ends when its iterations do, within an hour.
    let fallback = if counted { 3600 } else { 10 };
    let mut duration = o
        .duration
        .or(s.duration)
        .map_or(Duration::from_secs(fallback), |d| d.0);
    let stages = if o.stages.is_empty() {
        &s.stages
    } else {
        &o.stages
    };
    if !stages.is_empty() {
        duration = stages.iter().map(|st| st.duration.0).sum();
    }
    if duration.is_zero() && !counted {
        return Err(format!("scenario {name:?}: duration must be more than 0"));
    }
    let rate = o.rate.or(s.rate);
    let model = match rate {
        Some(r) => Model::Open {
            rate: r.0,
            max_users: o.users.or(s.max_users).or(s.users).unwrap_or(100),
            arrivals: o.arrivals.or(s.arrivals).unwrap_or_default(),
        },
        None => {
            let users = o.users.or(s.users).unwrap_or(1);
            if users == 0 {
                return Err(format!("scenario {name:?}: needs at least one user"));
            }
            let spawn_rate = o.spawn_rate.or(s.spawn_rate).unwrap_or(users as f64);
            if spawn_rate <= 0.0 {
                return Err(format!("scenario {name:?}: spawn_rate must be positive"));
            }
            Model::Closed { users, spawn_rate }
        }
    };
    if let Model::Closed { users: 0, .. } | Model::Open { max_users: 0, .. } = model {
        return Err(format!("scenario {name:?}: needs at least one user"));
    }
    Ok(Load {
        scenario: name.to_string(),
        model,
        stages: stages.clone(),
        start: s.start.map_or(Duration::ZERO, |d| d.0),
        duration,
    })
}

/// Every load must give each segment at least one user.
pub(super) fn check_segment(loads: &[Load], segment: Segment) -> Result<(), String> {
    for l in loads {
        if l.peak_users() < segment.count {
            return Err(format!(
                "--segment {segment}: scenario {:?} runs {} users, too few to split {} ways (each segment needs a user)",
                l.scenario,
                l.peak_users(),
                segment.count
            ));
        }
    }
    Ok(())
}

/// Worker threads: as asked, else one per core; no more than an open load has users
/// for (a thread with no user would drop every arrival it is handed).
pub(super) fn threads(loads: &[Load], segment: Segment, asked: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = asked.unwrap_or(cores).max(1);
    loads
        .iter()
        .filter_map(|l| match l.model {
            Model::Open { max_users, .. } => Some(segment.share(max_users) as usize),
            Model::Closed { .. } => None,
        })
        .fold(threads, usize::min)
        .max(1)
}

/// When the last load ends.
pub(super) fn duration(loads: &[Load]) -> Duration {
    loads
        .iter()
        .map(|l| l.start + l.duration)
        .max()
        .unwrap_or_default()
}
