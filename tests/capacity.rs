//! `perfgate capacity` against the demo with a capacity knob (one server taking 1/300 s a
//! request: beyond 300/s requests queue): the search finds it within ±10%, its counts are
//! what the service served, every report format and the history take a search as they
//! take a run, and a scenario with `search` runs as a search from `run`.

mod common;

use common::{perfgate, temp_dir};
use perfgate::demo::{DemoServer, Knobs};

fn config(host: &str, search: &str) -> String {
    format!(
        "[target]\nhost = \"{host}\"\ntimeout = \"5s\"\n\n[scenarios.smoke]\nusers = 1\n\n[scenarios.capacity]\n{search}\n\n\
         [[users]]\nname = \"U\"\nwait = {{ constant = \"0ms\" }}\n\n  [[users.tasks]]\n  name = \"h\"\n  path = \"/health\"\n\n\
         [budgets.ci]\np99 = \"100ms\"\nerror_rate = \"1%\"\nmin_rps = 1000\n"
    )
}

#[test]
fn the_search_finds_the_demo_capacity_within_ten_percent() {
    let mut knobs = Knobs::default();
    knobs.set_capacity("300/s").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let dir = temp_dir("capacity");
    let cfg = dir.join("perfgate.toml");
    let search =
        "search = { start = \"50/s\", step = \"2s\", warmup = \"1s\", require = \"250/s\" }";
    std::fs::write(&cfg, config(&demo.url(), search)).unwrap();
    let file = |name: &str| dir.join(name);
    let report = |f: &str, name: &str| format!("{f}={}", file(name).display());
    // With no --scenario, the config's only scenario with `search` (smoke has none).
    let done = perfgate()
        .args(["capacity", "--env", "ci", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(file("result.json"))
        .args(["--report", &report("html", "capacity.html")])
        .args(["--report", &report("json", "verdict.json")])
        .args(["--report", &report("junit", "capacity.xml")])
        .args(["--report", &report("csv", "steps.csv")])
        .args(["--report", &report("markdown", "capacity.md")])
        .arg("--history")
        .arg(file("history.db"))
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let said = String::from_utf8_lossy(&done.stdout);
    let read = |name: &str| std::fs::read_to_string(file(name)).unwrap();
    let verdict: serde_json::Value = serde_json::from_str(&read("verdict.json")).unwrap();
    assert_eq!(verdict["verdict"]["status"], "passed", "{verdict}");
    let c = &verdict["verdict"]["capacity"];
    let (held, failed) = (c["held"].as_f64().unwrap(), c["failed"].as_f64().unwrap());
    assert_eq!(c["end"], "found", "{said}");
    assert!((270.0..=330.0).contains(&held), "held {held}/s: {said}");
    assert!(
        failed > held && (failed - held) / held <= 0.05,
        "{held} {failed}: {said}"
    );
    assert!(
        said.contains(&format!(
            "capacity: {held}/s held; the budget broke at {failed}/s: p99 latency"
        )),
        "{said}"
    );
    assert!(said.contains("meets the required 250/s"), "{said}");
    // min_rps = 1000 would fail every step: throughput objectives are not the search's.
    assert!(
        !said.contains("rps >") && !said.contains("< 1,000"),
        "{said}"
    );
    let steps = c["steps"].as_array().unwrap();
    let rates: Vec<f64> = steps.iter().map(|s| s["rate"].as_f64().unwrap()).collect();
    assert_eq!(&rates[..4], [50.0, 100.0, 200.0, 400.0], "doubling first");
    // Beyond the capacity the service gets through no more than it can.
    let at_400 = &steps[3];
    assert!(at_400["achieved_rps"].as_f64().unwrap() < 330.0, "{at_400}");
    assert_eq!(at_400["held"], false);
    // After a step that broke, the next waits for the service to drain its queue: light
    // probes until the p50 is back near the first step's, recorded with the step.
    for pair in steps.windows(2) {
        let drained = &pair[1]["drained"];
        if pair[0]["held"] == false {
            assert!(drained["seconds"].as_f64().unwrap() >= 1.0, "{drained}");
            assert!(drained["requests"].as_u64().unwrap() > 0, "{drained}");
            assert_eq!(drained["recovered"], true, "{drained}");
        } else {
            assert!(drained.is_null(), "{drained}");
        }
    }
    assert!(said.contains("for the service to drain: p50"), "{said}");
    // Every request of every step, and of each wait's probes, is one the service served.
    let requests: u64 = steps
        .iter()
        .map(|s| s["requests"].as_u64().unwrap() + s["drained"]["requests"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(requests, demo.served_on("/health"));
    // The result judged is the highest step that held, after its warm-up.
    let result = perfgate::metrics::RunResult::load(&file("result.json")).unwrap();
    assert_eq!(result.scenario.rate, Some(held), "{said}");
    assert!(result.total.requests > 0);
    let junit = read("capacity.xml");
    assert_eq!(
        junit.matches("classname=\"capacity.step\"").count(),
        steps.len()
    );
    let failures = steps.iter().filter(|s| s["held"] == false).count();
    assert_eq!(junit.matches("<failure").count(), failures, "{junit}");
    assert!(
        junit.contains("step at 400/s") && junit.contains("p99 latency"),
        "{junit}"
    );
    let csv = read("steps.csv");
    assert_eq!(csv.lines().count(), steps.len() + 1, "{csv}");
    assert!(
        csv.starts_with("Offered/s,Achieved/s") && csv.contains("\n400,"),
        "{csv}"
    );
    assert!(read("capacity.md").contains("Capacity of capacity (budget ci)"));
    assert!(c["steps"][3]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("p99 latency"));
    let history = perfgate()
        .args(["history", "--history"])
        .arg(file("history.db"))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let listed = String::from_utf8_lossy(&history.stdout);
    assert!(
        listed.contains("capacity") && listed.contains("passed"),
        "{listed}"
    );
    let page = read("capacity.html");
    assert!(page.contains("Latency against offered rate") && page.contains("p99 budget"));
    assert_eq!(page.matches("<svg").count(), 3);
}

/// A scenario with `search` runs as a search from `perfgate run`; a capacity below the
/// start, or below `require`, exits 1; a bad search is exit 2 with where it is.
#[test]
fn a_search_scenario_runs_from_run_and_exits_by_what_it_found() {
    let dir = temp_dir("capacity-run");
    let cfg = dir.join("perfgate.toml");
    // A service of its own each time: an overloaded one takes a while to work off its queue.
    let run = |search: &str, code: i32| {
        let mut knobs = Knobs::default();
        knobs.set_capacity("40/s").unwrap();
        let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
        std::fs::write(&cfg, config(&demo.url(), search)).unwrap();
        let done = perfgate()
            .args(["run", "--env", "ci", "--scenario", "capacity", "-c"])
            .arg(&cfg)
            .assert()
            .code(code)
            .get_output()
            .clone();
        String::from_utf8_lossy(&done.stdout).into_owned() + &String::from_utf8_lossy(&done.stderr)
    };
    let said = run(
        "search = { start = \"80/s\", step = \"2s\", warmup = \"1s\" }",
        1,
    );
    assert!(said.contains("capacity: below 80/s"), "{said}");
    let said = run(
        "search = { start = \"10/s\", max = \"20/s\", step = \"1s\", warmup = \"0s\", require = \"30/s\" }",
        1,
    );
    assert!(
        said.contains("capacity: above 20/s") && said.contains("FAILED: below the required 30/s"),
        "{said}"
    );
    let said = run("search = { start = \"10/s\", factor = 1 }", 2);
    assert!(
        said.contains("perfgate.toml:9:") && said.contains("factor"),
        "{said}"
    );
    let said = run("search = { start = \"10/s\", stepp = \"1s\" }", 2);
    assert!(
        said.contains("unknown field") && said.contains("stepp"),
        "{said}"
    );
}

/// Flags that would change a search's rate, length or share are refused before any
/// load, with the reason (issue 26: they were ignored, or halved every step).
#[test]
fn a_search_refuses_what_does_not_apply() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("capacity-refused");
    let cfg = dir.join("perfgate.toml");
    let search = "search = { start = \"50/s\", step = \"2s\", warmup = \"1s\" }";
    std::fs::write(&cfg, config(&demo.url(), search)).unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["capacity", "--segment", "1/2"],
            "--segment does not apply",
        ),
        (
            &["capacity", "--iterations", "10"],
            "--iterations does not apply",
        ),
        (&["capacity", "--stage", "10s:5"], "--stage does not apply"),
        (
            &["run", "--scenario", "capacity", "--duration", "2s"],
            "--duration does not apply",
        ),
        (&["capacity", "--rate", "20/s"], "--rate does not apply"),
    ];
    for (args, says) in cases {
        let done = perfgate()
            .args(args)
            .args(["--env", "ci", "-c"])
            .arg(&cfg)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(demo.served_on("/health"), 0, "nothing was sent");
}
