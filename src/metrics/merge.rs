//! Exact merge of several results (shards of one run, or runs to judge together):
//! counts add and histograms add bucket by bucket; percentiles are never averaged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Interval, Packed, RunResult, Stats, StopReason};
use crate::config::Segments;

/// How the merged results ran, which decides what their users and throughput mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Together {
    /// Segments of one run (`--segment I/N`): users, rate and throughput add.
    Segments,
    /// Whole runs that ran at the same time: users, rate and throughput add.
    Concurrent,
    /// Runs one after another: users and rate are the largest run's, throughput is
    /// over their summed durations, and their series follow each other.
    Consecutive,
}

/// How many results a result was merged from, and how they ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merged {
    pub results: usize,
    pub how: Together,
}

/// Two results that are not segments of one run: their places in the list and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Apart {
    pub first: usize,
    pub second: usize,
    pub why: String,
}

/// What merging needs of a result before reading it whole: which segment of which run
/// it is, when it ran and how it ended (read from a file without its histograms).
#[derive(Clone, Debug, Deserialize)]
pub struct Head {
    pub scenario: HeadScenario,
    pub started_at: String,
    pub ended_at: String,
    pub duration_s: f64,
    pub stop: StopReason,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct HeadScenario {
    #[serde(default)]
    pub segment: Option<String>,
    #[serde(default)]
    pub run: Option<String>,
}

impl Head {
    pub fn of(r: &RunResult) -> Head {
        Head {
            scenario: HeadScenario {
                segment: r.scenario.segment.clone(),
                run: r.scenario.run.clone(),
            },
            started_at: r.started_at.clone(),
            ended_at: r.ended_at.clone(),
            duration_s: r.duration_s,
            stop: r.stop,
        }
    }
}

/// Whether the segments among `heads` belong to one run: their run ids agree, or,
/// where a segment has none (run by hand without `--run-id` or `--start-at`), they ran
/// at the same time.
pub fn same_run(heads: &[Head]) -> Result<(), Apart> {
    let segments: Vec<(usize, &Head)> = heads
        .iter()
        .enumerate()
        .filter(|(_, r)| r.scenario.segment.is_some())
        .collect();
    // Every pair: two with ids may disagree though each ran beside one without.
    for (k, &(first, a)) in segments.iter().enumerate() {
        for &(second, b) in &segments[k + 1..] {
            let why = match (&a.scenario.run, &b.scenario.run) {
                (Some(x), Some(y)) if x != y => format!("run {x:?} and run {y:?}"),
                (Some(_), Some(_)) => continue,
                _ if !overlap(&[a, b]) => format!(
                    "no run id, and they did not run at the same time ({} to {}, {} to {})",
                    a.started_at, a.ended_at, b.started_at, b.ended_at
                ),
                _ => continue,
            };
            return Err(Apart { first, second, why });
        }
    }
    Ok(())
}

/// Merges results into one, refusing segments of different runs (`same_run`).
pub fn merge(results: Vec<RunResult>) -> Result<RunResult, String> {
    let heads: Vec<Head> = results.iter().map(Head::of).collect();
    same_run(&heads).map_err(|a| {
        format!(
            "results {} and {} are segments of different runs ({}): merge the segments of one run",
            a.first + 1,
            a.second + 1,
            a.why
        )
    })?;
    merge_any(results)
}

/// Merges results into one, whatever runs they came from. Segments of a run
/// (`--segment I/N`) merge each once; a merge of only some of them stays a part ("1,3/4"
/// in `scenario.segment`), which the gate never passes. Results that ran at the same
/// time add up and span the earliest start to the latest end; runs one after another
/// keep the largest run's users and rate, last their summed durations, and their series
/// follow each other (`scenario.merged` says which).
pub fn merge_any(results: Vec<RunResult>) -> Result<RunResult, String> {
    let heads: Vec<Head> = results.iter().map(Head::of).collect();
    let mut slots: Vec<Option<RunResult>> = results.into_iter().map(Some).collect();
    merge_each(&heads, |i| {
        slots[i].take().ok_or_else(|| "read twice".to_string())
    })
}

/// As `merge_any`, reading result `i` (its head `heads[i]`) with `read(i)` when its turn
/// comes: at most the merge so far and one input are held, however many are merged.
pub fn merge_each(
    heads: &[Head],
    mut read: impl FnMut(usize) -> Result<RunResult, String>,
) -> Result<RunResult, String> {
    let n = heads.len();
    let segments = if n > 1 { segments_of(heads)? } else { None };
    let how = match () {
        _ if segments.is_some() => Together::Segments,
        _ if overlap(&heads.iter().collect::<Vec<_>>()) => Together::Concurrent,
        _ => Together::Consecutive,
    };
    let mut order: Vec<usize> = (0..n).collect();
    if how == Together::Consecutive {
        order.sort_by_key(|&i| parse_time(&heads[i].started_at).ok());
    }
    let stopped: BTreeMap<String, StopReason> = heads
        .iter()
        .filter(|r| r.stop != StopReason::Completed)
        .filter_map(|r| Some((r.scenario.segment.clone()?, r.stop)))
        .collect();
    let mut out: Option<RunResult> = None;
    // Consecutive runs: where the next one's seconds begin.
    let mut offset = 0;
    for i in order {
        let mut r = read(i)?;
        if how == Together::Consecutive {
            offset = follow_on(&mut r, offset);
        }
        match out.as_mut() {
            None => out = Some(r),
            Some(o) => add(o, r, how)?,
        }
    }
    let mut out = out.ok_or("nothing to merge")?;
    if n > 1 {
        out.scenario.segment = segments
            .as_ref()
            .filter(|s| !s.missing().is_empty())
            .map(|s| s.to_string());
        out.scenario.merged = Some(Merged { results: n, how });
    }
    if segments.is_some() {
        out.stopped_segments.extend(stopped);
    }
    out.refresh();
    Ok(out)
}

/// Adds `r` into `out`, as results that ran `how`.
fn add(out: &mut RunResult, r: RunResult, how: Together) -> Result<(), String> {
    {
        let (a0, a1) = (parse_time(&out.started_at)?, parse_time(&out.ended_at)?);
        let (b0, b1) = (parse_time(&r.started_at)?, parse_time(&r.ended_at)?);
        let start = a0.min(b0);
        let end = a1.max(b1);
        out.duration_s = if how == Together::Consecutive {
            out.duration_s + r.duration_s
        } else {
            // Shards of one run overlap in time: the wall time is their span, not a sum.
            out.duration_s.max(r.duration_s).max(
                end.duration_since(start)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0),
            )
        };
        if b0 < a0 {
            out.started_at = r.started_at.clone();
        }
        if b1 > a1 {
            out.ended_at = r.ended_at.clone();
        }
        // The shape is the whole run's: segments share it; different runs do not.
        if out.scenario.shape != r.scenario.shape {
            out.scenario.shape.clear();
        }
        // Each segment's own dashboard may have steered it: every change is kept.
        for c in &r.scenario.changes {
            if !out.scenario.changes.contains(c) {
                out.scenario.changes.push(c.clone());
            }
        }
        out.scenario
            .changes
            .sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        if out.scenario.run != r.scenario.run {
            out.scenario.run = None;
        }
        if how == Together::Consecutive {
            out.scenario.users = out.scenario.users.max(r.scenario.users);
            out.scenario.rate = match (out.scenario.rate, r.scenario.rate) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        } else {
            out.scenario.users += r.scenario.users;
            out.scenario.rate = match (out.scenario.rate, r.scenario.rate) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
        out.total.add(&r.total);
        out.endpoints = merge_endpoints(std::mem::take(&mut out.endpoints), r.endpoints);
        out.series = merge_series(std::mem::take(&mut out.series), r.series);
        for c in r.checks {
            match out
                .checks
                .iter_mut()
                .find(|x| x.endpoint == c.endpoint && x.check == c.check)
            {
                Some(x) => {
                    x.passed += c.passed;
                    x.failed += c.failed;
                }
                None => out.checks.push(c),
            }
        }
        for t in r.tasks {
            match out
                .tasks
                .iter_mut()
                .find(|x| x.user == t.user && x.task == t.task)
            {
                Some(x) => {
                    x.iterations += t.iterations;
                    x.code_failures += t.code_failures;
                }
                None => out.tasks.push(t),
            }
        }
        let g = &mut out.generator;
        g.cpu_seconds += r.generator.cpu_seconds;
        g.wait_seconds += r.generator.wait_seconds;
        g.threads += r.generator.threads;
        g.schedule_lag_ms = g.schedule_lag_ms.max(r.generator.schedule_lag_ms);
        // Percentiles do not add: the worst process's scheduling delay stands for all.
        g.timer_delay_p99_ms = g.timer_delay_p99_ms.max(r.generator.timer_delay_p99_ms);
        g.overloaded |= r.generator.overloaded;
        g.notes.extend(r.generator.notes);
        out.tls_insecure |= r.tls_insecure;
        if r.stop != StopReason::Completed {
            out.stop = r.stop;
        }
        out.stopped_segments.extend(r.stopped_segments);
    }
    Ok(())
}

/// Whether every result ran while every other did: the latest start before the earliest end.
fn overlap(results: &[&Head]) -> bool {
    let starts = results
        .iter()
        .filter_map(|r| parse_time(&r.started_at).ok());
    let ends = results.iter().filter_map(|r| parse_time(&r.ended_at).ok());
    match (starts.max(), ends.min()) {
        (Some(start), Some(end)) => start < end,
        _ => true,
    }
}

/// Moves a consecutive run's series to begin at second `offset`, past the runs before
/// it (the second of two 10-second runs holds seconds 10 to 19 of the merge); returns
/// where the next one begins.
fn follow_on(r: &mut RunResult, offset: u64) -> u64 {
    for i in &mut r.series {
        i.t += offset;
    }
    let last = r.series.last().map_or(0, |i| i.t + 1);
    last.max(offset + r.duration_s.ceil() as u64)
}

/// The segments these results hold together: none when none is a segment; an error
/// when a segment is given twice, or segments are mixed with another split or a whole run.
fn segments_of(results: &[Head]) -> Result<Option<Segments>, String> {
    let mut all: Option<Segments> = None;
    let mut whole_runs = 0;
    for r in results {
        let Some(text) = r.scenario.segment.as_deref() else {
            whole_runs += 1;
            continue;
        };
        let s = Segments::parse(text).map_err(|e| format!("bad segment in a result: {e}"))?;
        match all.as_mut() {
            Some(all) => all.add(&s)?,
            None => all = Some(s),
        }
    }
    match all {
        Some(s) if whole_runs > 0 => Err(format!(
            "these results mix segments of a {}-way split with other runs: merge the {} segments of one run",
            s.count, s.count
        )),
        s => Ok(s),
    }
}

fn merge_endpoints(a: Vec<Stats>, b: Vec<Stats>) -> Vec<Stats> {
    let mut by_name: BTreeMap<String, Stats> = a.into_iter().map(|s| (s.name.clone(), s)).collect();
    for s in b {
        match by_name.get_mut(&s.name) {
            Some(x) => x.add(&s),
            None => {
                by_name.insert(s.name.clone(), s);
            }
        }
    }
    by_name.into_values().collect()
}

fn merge_series(a: Vec<Interval>, b: Vec<Interval>) -> Vec<Interval> {
    let mut by_t: BTreeMap<u64, Interval> = a.into_iter().map(|i| (i.t, i)).collect();
    for i in b {
        let slot = by_t.entry(i.t).or_insert_with(|| Interval {
            t: i.t,
            ..Interval::default()
        });
        slot.users += i.users;
        slot.dropped += i.dropped;
        for e in i.endpoints {
            match slot.endpoints.iter_mut().find(|x| x.name == e.name) {
                Some(x) => {
                    x.requests += e.requests;
                    x.failures += e.failures;
                    let mut l = x.latency.unpack();
                    l.add(&e.latency.unpack());
                    x.latency = Packed::pack(&l);
                }
                None => slot.endpoints.push(e),
            }
        }
    }
    by_t.into_values().collect()
}

fn parse_time(s: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339(s).map_err(|e| format!("bad timestamp {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(segment: &str, run: Option<&str>, from: &str, to: &str) -> Head {
        Head {
            scenario: HeadScenario {
                segment: Some(segment.into()),
                run: run.map(str::to_string),
            },
            started_at: format!("2026-12-01T10:00:{from}Z"),
            ended_at: format!("2026-12-01T10:00:{to}Z"),
            duration_s: 10.0,
            stop: StopReason::Completed,
        }
    }

    #[test]
    fn segments_of_one_run_share_an_id_or_their_time() {
        let a = head("1/3", None, "00", "10");
        let b = head("2/3", Some("x"), "01", "11");
        let c = head("3/3", Some("y"), "02", "12");
        // b and c each ran beside a, but their ids disagree.
        let apart = same_run(&[a.clone(), b.clone(), c]).unwrap_err();
        assert_eq!((apart.first, apart.second), (1, 2), "{apart:?}");
        assert!(same_run(&[a.clone(), b.clone()]).is_ok());
        let later = head("3/3", None, "30", "40");
        let apart = same_run(&[a, b, later]).unwrap_err();
        assert!(
            apart.why.contains("did not run at the same time"),
            "{apart:?}"
        );
    }
}
