//! Scale-out: `--segment I/N` runs a share of the load (one per machine or CI job) and
//! `perfgate check` merges the segments' results into the whole run, exactly.

mod common;

use common::{config, perfgate, run, secs, temp_dir};
use perfgate::config::{Overrides, Rate, Segment};
use perfgate::demo::{DemoServer, Knobs};
use perfgate::metrics::{merge, RunResult};

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
fn only_every_segment_of_a_run_merges() {
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
    let err = merged(&[&parts[0], &parts[2]]).unwrap_err();
    assert!(err.contains("segment 2/3 of this run missing"), "{err}");
    let err = merged(&[&parts[0], &parts[1], &parts[1], &parts[2]]).unwrap_err();
    assert!(err.contains("segment 2/3 is given twice"), "{err}");
    let err = merged(&[&parts[0], &parts[1], &parts[2], &whole_run]).unwrap_err();
    assert!(err.contains("mix segments"), "{err}");
    assert!(
        merged(&[&parts[2], &parts[0], &parts[1]]).is_ok(),
        "any order"
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
    // One segment alone is never PASSED: inconclusive, exit 1, saying what to do; with
    // --partial it is judged by itself (throughput objectives aside).
    let alone = check(&[], &outs[1..], 1);
    assert!(alone.contains("INCONCLUSIVE 1/1"), "{alone}");
    assert!(alone.contains("segment 2/2 of the load alone"), "{alone}");
    let partial = check(&["--partial"], &outs[1..], 0);
    assert!(partial.contains("PASSED 1/1"), "{partial}");

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
