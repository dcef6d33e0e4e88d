//! Scale-out: `--segment I/N` runs a share of the load (one per machine or CI job) and
//! `perfgate check` merges the segments' results into the whole run, exactly.

mod common;

use common::{config, perfgate, run, secs, temp_dir};
use perfgate::config::{Overrides, Rate, Segment};
use perfgate::demo::{DemoServer, Knobs};
use perfgate::metrics::{merge, RunResult, StopReason};

/// Runs the segments of `text` side by side, each with its own thread count, as
/// separate machines would.
fn run_segments(text: &str, o: Overrides, threads: &[usize]) -> Vec<RunResult> {
    let n = threads.len();
    std::thread::scope(|s| {
        let handles: Vec<_> = threads
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let o = Overrides {
                    segment: Some(Segment::parse(&format!("{}/{n}", i + 1)).unwrap()),
                    threads: Some(t),
                    ..o.clone()
                };
                s.spawn(move || run(text, o))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn served(demo: &DemoServer) -> u64 {
    demo.served().values().flat_map(|m| m.values()).sum()
}

#[test]
fn closed_model_segments_add_up_to_the_whole_run() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = config(
        &demo.url(),
        "{ constant = \"20ms\" }",
        &[("h", "/health", 1)],
    );
    let o = Overrides {
        users: Some(7),
        duration: secs("2s"),
        ..Default::default()
    };
    // Three segments on machines with 1, 2 and 1 threads.
    let parts = run_segments(&text, o, &[1, 2, 1]);
    let shares: Vec<u64> = parts.iter().map(|r| r.scenario.users).collect();
    assert_eq!(shares, [3, 2, 2], "users 0..7 dealt round the segments");
    for (i, r) in parts.iter().enumerate() {
        assert_eq!(
            r.scenario.segment.as_deref(),
            Some(&*format!("{}/3", i + 1))
        );
        let peak = r.series.iter().map(|s| s.users).max().unwrap();
        assert_eq!(peak, shares[i], "segment {} ran its share", i + 1);
    }
    let whole = merge(parts).unwrap();
    assert_eq!(whole.scenario.users, 7);
    assert_eq!(whole.scenario.segment, None);
    let peak = whole.series.iter().map(|s| s.users).max().unwrap();
    assert_eq!(peak, 7, "every user ran, once");
    assert!(whole.total.requests > 100);
    assert_eq!(whole.total.failures, 0);
    assert_eq!(whole.total.requests, served(&demo), "what the service saw");
}

#[test]
fn open_model_segments_share_the_arrivals_and_iterations_split_exactly() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = common::health_only(&demo.url());
    let o = Overrides {
        rate: Some(Rate(300.0)),
        users: Some(20),
        duration: secs("2s"),
        ..Default::default()
    };
    let parts = run_segments(&text, o, &[2, 1]);
    for r in &parts {
        assert_eq!(r.scenario.rate, Some(150.0));
        let handled = r.total.requests + r.total.interrupted + r.total.dropped;
        assert!(
            (299..=301).contains(&handled),
            "half the arrivals each: {handled}"
        );
    }
    let whole = merge(parts).unwrap();
    assert_eq!(whole.scenario.rate, Some(300.0));
    let handled = whole.total.requests + whole.total.interrupted + whole.total.dropped;
    assert!((599..=601).contains(&handled), "{handled}");
    assert_eq!(whole.total.requests, served(&demo));

    // An iteration-bounded run: 10 iterations over 3 segments are 4 + 3 + 3.
    let o = Overrides {
        users: Some(3),
        iterations: Some(10),
        ..Default::default()
    };
    let counts: Vec<u64> = run_segments(&text, o, &[1, 1, 1])
        .iter()
        .map(|r| r.total.requests)
        .collect();
    assert_eq!(counts, [4, 3, 3]);
}

#[test]
fn segments_merge_each_once_and_a_part_stays_a_part() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = config(
        &demo.url(),
        "{ constant = \"50ms\" }",
        &[("h", "/health", 1)],
    );
    let o = Overrides {
        users: Some(3),
        duration: secs("1s"),
        ..Default::default()
    };
    let parts = run_segments(&text, o.clone(), &[1, 1, 1]);
    let whole_run = run(&text, o);
    let merged = |rs: &[&RunResult]| merge(rs.iter().map(|r| (*r).clone()).collect());
    // Some segments merge into a part, which names what it holds and merges on later.
    let part = merged(&[&parts[2], &parts[0]]).unwrap();
    assert_eq!(part.scenario.segment.as_deref(), Some("1,3/3"));
    assert_eq!(part.scenario.users, 2);
    let whole = merged(&[&part, &parts[1]]).unwrap();
    assert_eq!(whole.scenario.segment, None);
    assert_eq!(
        whole.total.requests,
        parts.iter().map(|p| p.total.requests).sum::<u64>()
    );
    let err = merged(&[&part, &parts[0]]).unwrap_err();
    assert!(err.contains("segment 1/3 is given twice"), "{err}");
    let err = merged(&[&parts[0], &parts[1], &parts[1], &parts[2]]).unwrap_err();
    assert!(err.contains("segment 2/3 is given twice"), "{err}");
    let err = merged(&[&parts[0], &parts[1], &parts[2], &whole_run]).unwrap_err();
    assert!(err.contains("mix segments"), "{err}");
    assert!(
        merged(&[&parts[2], &parts[0], &parts[1]]).is_ok(),
        "any order"
    );
    // A segment that aborted on its own view of the load is named in the merge.
    let mut aborted = parts.clone();
    aborted[1].stop = StopReason::Aborted;
    let all: Vec<&RunResult> = aborted.iter().collect();
    let m = merged(&all).unwrap();
    assert_eq!(m.stop, StopReason::Aborted);
    assert_eq!(
        m.stopped_segments.into_iter().collect::<Vec<_>>(),
        [("2/3".to_string(), StopReason::Aborted)]
    );
    // Segments of a staged run share its shape; results that differ keep none.
    let ramp = vec![[0.0, 0.0], [1.0, 3.0]];
    let mut staged = parts.clone();
    for p in &mut staged {
        p.scenario.shape = ramp.clone();
    }
    let all: Vec<&RunResult> = staged.iter().collect();
    assert_eq!(merged(&all).unwrap().scenario.shape, ramp);
    staged[1].scenario.shape = vec![[0.0, 0.0], [2.0, 3.0]];
    let all: Vec<&RunResult> = staged.iter().collect();
    assert!(merged(&all).unwrap().scenario.shape.is_empty());
}

/// From the command line: a segment is judged without its throughput objectives (a
/// share of the load has a share of the throughput); `check` of every segment judges
/// them all; a malformed segment is exit 2 before any load.
#[test]
fn segments_from_the_command_line() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("segments");
    let text = config(
        &demo.url(),
        "{ constant = \"10ms\" }",
        &[("h", "/health", 1)],
    ) + "\n[budgets.ci]\np99 = \"1s\"\nmin_rps = 250\n";
    let cfg = dir.join("perfgate.toml");
    std::fs::write(&cfg, text).unwrap();
    // Both segments at once, as two machines would run them: the first named as
    // --segment does (1-based), the second as a Kubernetes Indexed Job's pod sees it
    // (JOB_COMPLETION_INDEX, 0-based, with PERFGATE_SEGMENTS).
    let outs: Vec<_> = (1..=2).map(|i| dir.join(format!("seg{i}.json"))).collect();
    let children: Vec<_> = outs
        .iter()
        .enumerate()
        .map(|(i, out)| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("perfgate"));
            cmd.args([
                "run",
                "--quiet",
                "--env",
                "ci",
                "--users",
                "4",
                "--duration",
                "2s",
            ]);
            if i == 0 {
                cmd.args(["--segment", "1/2"]);
            } else {
                cmd.env("JOB_COMPLETION_INDEX", "1")
                    .env("PERFGATE_SEGMENTS", "2");
            }
            cmd.arg("-c")
                .arg(&cfg)
                .arg("--out")
                .arg(out)
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let done = child.wait_with_output().unwrap();
        assert_eq!(done.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&done.stdout);
        assert!(
            stdout.contains(&format!(", segment {}/2)", i + 1)),
            "banner: {stdout}"
        );
        assert!(
            stdout.contains(&format!("segment {}/2 of the load", i + 1)),
            "{stdout}"
        );
        assert!(
            stdout.contains("p99 latency") && !stdout.contains("250 rps"),
            "{stdout}"
        );
    }
    // `perfgate check` of these results, with `flags`, exiting `code`: its stdout.
    let check = |flags: &[&str], results: &[std::path::PathBuf], code: i32| {
        let out = perfgate()
            .arg("check")
            .args(flags)
            .args(["--env", "ci", "-c"])
            .arg(&cfg)
            .args(results)
            .assert()
            .code(code)
            .get_output()
            .stdout
            .clone();
        String::from_utf8_lossy(&out).into_owned()
    };
    // A user at 10 ms think time does about 80-100 requests/s: a segment's two would
    // fail min_rps = 250 alone; the four together hold it.
    let merged = check(&[], &outs, 0);
    assert!(merged.contains("PASSED 2/2"), "{merged}");
    // A directory stands for the results in it, as a Kubernetes merge Job reads its volume.
    assert_eq!(check(&[], std::slice::from_ref(&dir), 0), merged);
    // One segment alone is never PASSED: inconclusive, exit 1, saying what to do; with
    // --partial it is judged by itself (throughput objectives aside).
    let alone = check(&[], &outs[1..], 1);
    assert!(alone.contains("INCONCLUSIVE 1/1"), "{alone}");
    assert!(alone.contains("segment 2/2 of the load alone"), "{alone}");
    let partial = check(&["--partial"], &outs[1..], 0);
    assert!(partial.contains("PASSED 1/1"), "{partial}");
    assert!(
        partial.contains("segment 2/2 of the load: throughput"),
        "{partial}"
    );

    for bad in ["0/2", "3/2", "half", "5/5"] {
        let err = perfgate()
            .args(["run", "--quiet", "--segment", bad, "-c"])
            .arg(&cfg)
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        assert!(String::from_utf8_lossy(&err).contains("--segment"), "{bad}");
    }
}

/// Every segment carries its run's id (`--run-id`, else `--start-at` or the CI run):
/// `check` refuses segments of different runs, naming the files, and without ids
/// segments that did not run at the same time; `--mixed-runs` merges them anyway. Whole
/// runs one after another merge as consecutive: their users do not add.
#[test]
fn segments_of_different_runs_are_refused_and_consecutive_runs_keep_their_users() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("run-ids");
    let cfg = dir.join("perfgate.toml");
    let text = config(
        &demo.url(),
        "{ constant = \"20ms\" }",
        &[("h", "/health", 1)],
    );
    std::fs::write(
        &cfg,
        format!("{text}\n[budgets.default]\nerror_rate = \"1%\"\n"),
    )
    .unwrap();
    // One after another, each for a second: `name.json` with these flags.
    let run = |name: &str, flags: &[&str]| {
        let out = dir.join(format!("{name}.json"));
        perfgate()
            .args(["run", "--quiet", "--duration", "1s", "-c"])
            .arg(&cfg)
            .args(flags)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(0);
        out
    };
    let a1 = run("a1", &["--users", "2", "--segment", "1/2", "--run-id", "A"]);
    let a2 = run("a2", &["--users", "2", "--segment", "2/2", "--run-id", "A"]);
    let b2 = run("b2", &["--users", "2", "--segment", "2/2", "--run-id", "B"]);
    let n1 = run("n1", &["--users", "2", "--segment", "1/2"]);
    let n2 = run("n2", &["--users", "2", "--segment", "2/2"]);
    let w2 = run("w2", &["--users", "2"]);
    let w3 = run("w3", &["--users", "3"]);
    assert_eq!(
        RunResult::load(&a1).unwrap().scenario.run.as_deref(),
        Some("A")
    );
    assert_eq!(RunResult::load(&n1).unwrap().scenario.run, None);
    let check = |flags: &[&str], results: &[&std::path::PathBuf], code: i32| {
        let done = perfgate()
            .arg("check")
            .args(flags)
            .arg("-c")
            .arg(&cfg)
            .args(results)
            .assert()
            .code(code)
            .get_output()
            .clone();
        (
            String::from_utf8_lossy(&done.stdout).into_owned(),
            String::from_utf8_lossy(&done.stderr).into_owned(),
        )
    };
    // One run's segments, one id: they merge though they ran in turn here.
    let (said, _) = check(&[], &[&a1, &a2], 0);
    assert!(said.contains("PASSED"), "{said}");
    // Segments of runs A and B: refused, naming both files and both runs.
    let (_, err) = check(&[], &[&a1, &b2], 2);
    assert!(
        err.contains("a1.json") && err.contains("b2.json") && err.contains("\"A\" and run \"B\""),
        "{err}"
    );
    assert!(err.contains("--mixed-runs"), "{err}");
    check(&["--mixed-runs"], &[&a1, &b2], 0);
    // Without ids, segments a second apart did not run together: refused, said why.
    let (_, err) = check(&[], &[&n1, &n2], 2);
    assert!(err.contains("did not run at the same time"), "{err}");
    // Whole runs in turn: users are the larger run's, the time is their sum.
    let (said, _) = check(&[], &[&w2, &w3], 0);
    assert!(
        said.contains("merged from 2 runs one after another"),
        "{said}"
    );
    let both = perfgate::metrics::merge(vec![
        RunResult::load(&w2).unwrap(),
        RunResult::load(&w3).unwrap(),
    ])
    .unwrap();
    assert_eq!(both.scenario.users, 3);
    let merged = both.scenario.merged.unwrap();
    assert_eq!(merged.how, perfgate::metrics::Together::Consecutive);
    let each: f64 = [&w2, &w3]
        .iter()
        .map(|p| RunResult::load(p).unwrap().duration_s)
        .sum();
    assert!((both.duration_s - each).abs() < 1e-9, "{}", both.duration_s);
    let peak = both.series.iter().map(|i| i.users).max().unwrap();
    assert_eq!(peak, 3, "the runs' seconds follow each other, never added");
    assert_eq!(
        both.total.requests,
        served(&demo) - {
            [&a1, &a2, &b2, &n1, &n2]
                .iter()
                .map(|p| RunResult::load(p).unwrap().total.requests)
                .sum::<u64>()
        }
    );
}

/// `--start-at` holds the load until a time every segment shares; a time in the past
/// starts at once with a warning; a malformed one is exit 2 before any load.
#[test]
fn segments_start_together_at_a_given_time() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("start-at");
    let cfg = dir.join("perfgate.toml");
    let text = config(
        &demo.url(),
        "{ constant = \"10ms\" }",
        &[("h", "/health", 1)],
    );
    std::fs::write(&cfg, text).unwrap();
    let start = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
    let at = humantime::format_rfc3339_millis(start).to_string();
    let out = dir.join("r.json");
    let run = |at: &str, code: i32| {
        let done = perfgate()
            .args([
                "run",
                "--quiet",
                "--users",
                "1",
                "--duration",
                "1s",
                "--start-at",
                at,
            ])
            .arg("-c")
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(code)
            .get_output()
            .clone();
        String::from_utf8_lossy(&done.stdout).into_owned() + &String::from_utf8_lossy(&done.stderr)
    };
    let said = run(&at, 0);
    assert!(
        said.contains("waiting") && said.contains("for the start at"),
        "{said}"
    );
    let r = RunResult::load(&out).unwrap();
    let began = humantime::parse_rfc3339(&r.started_at).unwrap();
    assert!(began >= start, "started {} before {at}", r.started_at);
    assert!(
        began < start + std::time::Duration::from_millis(500),
        "started {} long after {at}",
        r.started_at
    );
    let said = run("2020-01-01T00:00:00Z", 0);
    assert!(
        said.contains("passed") && said.contains("starting now"),
        "{said}"
    );
    let said = run("tomorrow", 2);
    assert!(said.contains("--start-at"), "{said}");
}

/// Three processes running segments 1-3 of an open-model load, started together and
/// merged, against one process running the whole load on the same deterministic target
/// (20 ms a request): the same arrivals, the same latency percentiles within a few
/// percent (timing, not arithmetic, differs between runs), the same verdict.
#[test]
fn three_segments_merged_equal_one_process_running_the_whole_load() {
    let mut knobs = Knobs::default();
    knobs.set("latency", "/health=20ms").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let dir = temp_dir("equivalence");
    let cfg = dir.join("perfgate.toml");
    let text = config(
        &demo.url(),
        "{ constant = \"0ms\" }",
        &[("h", "/health", 1)],
    ) + "\n[budgets.ci]\np90 = \"200ms\"\nerror_rate = \"1%\"\nmin_rps = 100\n";
    std::fs::write(&cfg, text).unwrap();
    let load = |segment: Option<usize>, at: &str, out: &std::path::Path| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("perfgate"));
        cmd.args([
            "run", "--quiet", "--env", "ci", "--rate", "150/s", "--users", "30",
        ])
        .args(["--duration", "3s", "--threads", "1", "--start-at", at]);
        if let Some(i) = segment {
            cmd.args(["--segment", &format!("{i}/3")]);
        }
        cmd.arg("-c").arg(&cfg).arg("--out").arg(out);
        cmd.stdout(std::process::Stdio::null()).spawn().unwrap()
    };
    let soon = || {
        let t = std::time::SystemTime::now() + std::time::Duration::from_millis(1500);
        humantime::format_rfc3339_millis(t).to_string()
    };
    let at = soon();
    let parts: Vec<_> = (1..=3).map(|i| dir.join(format!("seg{i}.json"))).collect();
    let children: Vec<_> = parts
        .iter()
        .zip(1..)
        .map(|(p, i)| load(Some(i), &at, p))
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(0));
    }
    let whole_out = dir.join("whole.json");
    assert_eq!(
        load(None, &soon(), &whole_out).wait().unwrap().code(),
        Some(0)
    );

    let merged = merge(parts.iter().map(|p| RunResult::load(p).unwrap()).collect()).unwrap();
    let whole = RunResult::load(&whole_out).unwrap();
    assert_eq!(
        merged.total.requests, 450,
        "150/s for 3 s, dealt round three processes"
    );
    assert_eq!(whole.total.requests, 450);
    assert_eq!(merged.total.failures + whole.total.failures, 0);
    assert_eq!(merged.total.dropped + whole.total.dropped, 0);
    assert_eq!(merged.scenario.rate, whole.scenario.rate);
    // Started together, the merged series has the whole run's seconds, not three times as many.
    assert!(
        merged.series.len() <= whole.series.len() + 1,
        "{} seconds",
        merged.series.len()
    );
    for p in [50.0, 90.0] {
        let (a, b) = (
            merged.total.latency.percentile_us(p) as f64,
            whole.total.latency.percentile_us(p) as f64,
        );
        assert!(a >= 20_000.0 && b >= 20_000.0, "p{p}: {a} µs, {b} µs");
        assert!(
            (a - b).abs() / b < 0.05,
            "p{p}: merged {a} µs, whole {b} µs"
        );
    }
    let verdict = |results: &[std::path::PathBuf]| {
        let out = perfgate()
            .args(["check", "--env", "ci", "-c"])
            .arg(&cfg)
            .args(results)
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8_lossy(&out).into_owned();
        text.lines()
            .find(|l| l.contains("PASSED"))
            .map(str::to_string)
            .unwrap_or(text)
    };
    assert_eq!(verdict(&parts), verdict(&[whole_out]));
    // Segments 1 and 3 without 2: never passed, and the missing one is named.
    let out = perfgate()
        .args(["check", "--env", "ci", "-c"])
        .arg(&cfg)
        .args([&parts[0], &parts[2]])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("INCONCLUSIVE"), "{text}");
    assert!(text.contains("segments 1,3/3 (2/3 missing)"), "{text}");
}
