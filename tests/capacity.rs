//! `perfgate capacity` against the demo with a capacity knob (one server taking 1/300 s a
//! request: beyond 300/s requests queue): the search finds it within ±10%, its counts are
//! what the service served, and a scenario with `search` runs as a search from `run`.

mod common;

use common::{perfgate, temp_dir};
use perfgate::demo::{DemoServer, Knobs};

fn config(host: &str, search: &str) -> String {
    format!(
        "[target]\nhost = \"{host}\"\ntimeout = \"5s\"\n\n[scenarios.capacity]\n{search}\n\n\
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
    let (out, html) = (dir.join("capacity.json"), dir.join("capacity.html"));
    let done = perfgate()
        .args(["capacity", "--env", "ci", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(format!("html={}", html.display()))
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let said = String::from_utf8_lossy(&done.stdout);
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
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
    // Every request of every step is one the service served.
    let requests: u64 = steps.iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert_eq!(requests, demo.served_on("/health"));
    let page = std::fs::read_to_string(&html).unwrap();
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
        said.contains("perfgate.toml:6:") && said.contains("factor"),
        "{said}"
    );
    let said = run("search = { start = \"10/s\", stepp = \"1s\" }", 2);
    assert!(
        said.contains("unknown field") && said.contains("stepp"),
        "{said}"
    );
}
