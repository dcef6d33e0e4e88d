//! `--dashboard`: the live page during a real run against the demo, read by real
//! headless Chromium and over its event stream, and stopped from it (exit 3, results
//! written, recorded as stopped from the dashboard).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::temp_dir;
use perfgate::demo::{DemoServer, Knobs};
use perfgate::metrics::{RunResult, StopReason};

/// Starts `perfgate run` with a dashboard on a free port (3 users for 90 s unless
/// `extra` says otherwise); returns the child and the dashboard's address, read from the
/// line perfgate prints.
fn start(cfg: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("perfgate"));
    cmd.args(["run", "--env", "ci", "--quiet"]);
    for (flag, value) in [("--users", "3"), ("--duration", "90s")] {
        if !extra.contains(&flag) {
            cmd.args([flag, value]);
        }
    }
    cmd.args(["--dashboard", "127.0.0.1:0", "-c"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .args(extra);
    let (child, addr, _) = launch(cmd);
    (child, addr)
}

/// Spawns `cmd` (which serves a dashboard on a free port): the child, the dashboard's
/// address from the line perfgate prints, and the rest of its stdout once it ends.
fn launch(mut cmd: Command) -> (Child, String, std::thread::JoinHandle<String>) {
    let mut child = cmd
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("perfgate printed the dashboard")
            .unwrap();
        if let Some(a) = line.strip_prefix("dashboard: http://") {
            break a.trim_end_matches('/').to_string();
        }
    };
    // Keep reading stdout so perfgate never blocks on a full pipe.
    let rest =
        std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    (child, addr, rest)
}

/// An HTTP/1.1 request without a body to the dashboard: (status, body).
fn http(addr: &str, method: &str, path: &str, headers: &str) -> (u16, String) {
    request(addr, method, path, headers, "")
}

/// A POST with a JSON body to the dashboard: (status, body).
fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    request(
        addr,
        "POST",
        path,
        "content-type: application/json\r\n",
        body,
    )
}

fn request(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let length = body.len();
    write!(s, "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {length}\r\n{headers}\r\n{body}").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The first `n` frames of the event stream (after its setup event), as JSON.
fn frames(addr: &str, n: usize) -> (serde_json::Value, Vec<serde_json::Value>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nhost: {addr}\r\n\r\n").unwrap();
    let mut setup = serde_json::Value::Null;
    let mut out = Vec::new();
    let mut event = String::new();
    for line in BufReader::new(s).lines() {
        let line = line.unwrap();
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            if event == "setup" {
                setup = v;
                event.clear();
            } else {
                out.push(v);
                if out.len() == n {
                    break;
                }
            }
        }
    }
    (setup, out)
}

fn config(dir: &std::path::Path, url: &str) -> std::path::PathBuf {
    let cfg = dir.join("perfgate.toml");
    let text = common::config(url, "{ constant = \"20ms\" }", &[("health", "/health", 1)])
        + "\n[budgets.ci]\np99 = \"500ms\"\nerror_rate = \"1%\"\n";
    std::fs::write(&cfg, text).unwrap();
    cfg
}

#[test]
fn the_live_page_shows_the_run_and_stops_it() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("dashboard");
    let cfg = config(&dir, &demo.url());
    let out = dir.join("r.json");
    let (mut child, addr) = start(&cfg, &out, &[]);

    let (setup, live) = frames(&addr, 3);
    assert_eq!(setup["limits"]["latency"][0]["value"], 500.0, "{setup}");
    assert_eq!(setup["token"], false);
    let last = live.last().unwrap();
    assert_eq!(last["users"], 3, "{last}");
    assert!(last["requests"].as_u64().unwrap() > 0, "{last}");
    let (a, b) = (
        live[0]["requests"].as_u64().unwrap(),
        last["requests"].as_u64().unwrap(),
    );
    assert!(b > a, "live values move: {a} then {b}");
    assert_eq!(last["endpoints"][0]["name"], "health");
    let objectives: Vec<&str> = last["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(objectives, ["error rate", "p99 latency"]);

    // A page opened mid-run gets the seconds so far first.
    let (_, again) = frames(&addr, 1);
    assert!(again[0]["elapsed"].as_f64().unwrap() < last["elapsed"].as_f64().unwrap() + 0.5);

    // Stop, as the page's button does.
    let (status, _) = http(&addr, "POST", "/stop", "");
    assert_eq!(status, 202);
    let code = wait(&mut child, Duration::from_secs(20));
    assert_eq!(code, Some(3), "a stopped run exits 3");
    let r = RunResult::load(&out).unwrap();
    assert_eq!(r.stop, StopReason::Interrupted);
    assert_eq!(r.stopped_by.as_deref(), Some("the dashboard"));
    assert!(r.duration_s < 60.0, "stopped early: {} s", r.duration_s);
    assert_eq!(r.total.requests, demo.served_on("/health"));
}

/// Real headless Chromium, driven as a person would over the DevTools protocol: it opens
/// the page mid-run and sees live figures, the endpoint table, the objectives and the
/// charts; types a higher user count and presses Set, and sees the rate follow; presses
/// Stop, and perfgate exits 3 with results that agree, second by second, with what the
/// page showed. With PERFGATE_DASHBOARD_SCREENSHOT=FILE it keeps a screenshot (the
/// README's).
#[test]
#[cfg(target_os = "linux")]
#[ignore = "needs chromium (Debian); run by .ci/run"]
fn chromium_watches_steers_and_stops_the_run() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("dashboard-chromium");
    let cfg = config(&dir, &demo.url());
    let out = dir.join("r.json");
    let (mut child, addr) = start(&cfg, &out, &["--users", "2"]);
    let chromium = chromium().expect("chromium installed");
    let mut page =
        common::cdp::Browser::open(&chromium, &dir.join("profile"), &format!("http://{addr}/"));
    let long = Duration::from_secs(20);
    page.wait_for("series.length >= 3", long);
    assert_eq!(page.eval("$('users').textContent"), "2");
    let html = page.eval("document.body.innerHTML");
    let html = html.as_str().unwrap();
    assert!(html.contains("<td>health</td>"), "the endpoint table");
    assert!(html.contains("p99 latency"), "the objectives");
    assert!(html.contains("<polyline"), "the charts");
    assert_eq!(page.eval("$('steer-unit').textContent"), "users");
    // Each user waits 20 ms after each answer: two make about 90 requests a second.
    let rps = |page: &mut common::cdp::Browser, users: u64| {
        let v = page.eval(&format!(
            "series.filter(p => p.users == {users}).slice(-2).map(p => p.rps)"
        ));
        let v: Vec<f64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let before = rps(&mut page, 2);

    page.type_into("steer-value", "6");
    page.click("steer");
    page.wait_for("$('status').textContent == 'set to 6 users'", long);
    // Two whole seconds at 6 users: the rate follows, about three times what it was.
    page.wait_for("series.filter(p => p.users == 6).length >= 3", long);
    let after = rps(&mut page, 6);
    assert!(
        after > before * 2.4,
        "6 users made {after} rps, 2 made {before}"
    );
    let shot = page.screenshot();
    std::fs::write(dir.join("dashboard.png"), &shot).unwrap();
    if let Ok(keep) = std::env::var("PERFGATE_DASHBOARD_SCREENSHOT") {
        std::fs::write(keep, &shot).unwrap();
    }

    let seen = page.eval("series");
    page.click("stop");
    assert_eq!(wait(&mut child, long), Some(3), "a stopped run exits 3");
    let r = RunResult::load(&out).unwrap();
    assert_eq!(r.stopped_by.as_deref(), Some("the dashboard"));
    assert_eq!(r.total.requests, demo.served_on("/health"));
    let [change] = &r.scenario.changes[..] else {
        panic!("one change: {:?}", r.scenario.changes)
    };
    assert_eq!(
        (change.users, change.by.as_str()),
        (Some(6), "the dashboard")
    );
    // Reached at the spawn rate (as many a second as --users: 2), recorded in the shape.
    let [at, users] = *r.scenario.shape.last().unwrap();
    assert!(
        (at - (change.at_s + 2.0)).abs() < 1e-6 && users == 6.0,
        "{:?}",
        r.scenario.shape
    );
    // The page's seconds are the result's seconds.
    for p in seen.as_array().unwrap() {
        let s = &r.series[p["t"].as_u64().unwrap() as usize];
        let requests: u64 = s.endpoints.iter().map(|e| e.requests).sum();
        assert_eq!(
            (p["rps"].as_u64(), p["users"].as_u64()),
            (Some(requests), Some(s.users)),
            "{p}"
        );
    }
}

/// An open-model run steered over `POST /steer`, as the page's Set button does: the
/// arrivals follow each new rate from the second after it, a rate of 0 pauses them, and
/// each change is in the result, its shape and its words. Asking for what this run is
/// not set by, or out of bounds, is refused and changes nothing.
#[test]
fn the_rate_follows_the_dashboard() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("dashboard-steer");
    let cfg = config(&dir, &demo.url());
    let out = dir.join("r.json");
    let (mut child, addr) = start(&cfg, &out, &["--rate", "40/s", "--duration", "8s"]);
    let (setup, _) = frames(&addr, 1);
    assert_eq!(setup["steer"]["key"], "rate", "{setup}");
    assert_eq!(setup["steer"]["now"], 40.0);
    for (body, why) in [
        ("{\"users\": 5}", "set by rate"),
        ("{\"rate\": -1}", "from 0 to"),
        ("{\"rate\": 1e12}", "from 0 to"),
        ("rate=5", "send JSON"),
    ] {
        let (status, said) = post(&addr, "/steer", body);
        assert_eq!(status, 400, "{body}: {said}");
        assert!(said.contains(why), "{body}: {said}");
    }
    let (status, said) = post(&addr, "/steer", "{\"rate\": 120}");
    assert_eq!((status, said.as_str()), (202, "120 arrivals/s"));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(post(&addr, "/steer", "{\"rate\": 0}").0, 202);
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(post(&addr, "/steer", "{\"rate\": 60}").0, 202);
    assert_eq!(wait(&mut child, Duration::from_secs(20)), Some(0));

    let r = RunResult::load(&out).unwrap();
    let rates: Vec<f64> = r.scenario.changes.iter().map(|c| c.rate.unwrap()).collect();
    assert_eq!(rates, [120.0, 0.0, 60.0]);
    assert_eq!(r.total.requests, demo.served_on("/health"));
    assert_eq!(r.total.dropped, 0);
    // Every whole second between two changes ran at the rate then asked for.
    let per_second = |t: usize| -> u64 { r.series[t].endpoints.iter().map(|e| e.requests).sum() };
    let ats: Vec<f64> = r.scenario.changes.iter().map(|c| c.at_s).collect();
    let rate_at = |t: f64| match ats.iter().rposition(|&a| a <= t) {
        None => 40.0,
        Some(i) => rates[i],
    };
    let mut judged = 0;
    for t in 0..r.series.len() - 1 {
        let (from, to) = (t as f64, t as f64 + 1.0);
        if rate_at(from) != rate_at(to - 1e-9) || ats.iter().any(|&a| a > from && a < to) {
            continue; // a change inside this second
        }
        let want = rate_at(from);
        let got = per_second(t) as f64;
        assert!(
            (got - want).abs() <= 1.0 + want * 0.02,
            "second {t}: {got} requests at {want}/s"
        );
        judged += 1;
    }
    assert!(judged >= 4, "{judged} whole seconds judged");
    // The report says what was done when.
    let html = dir.join("report.html");
    common::perfgate()
        .args(["report", "-c"])
        .arg(&cfg)
        .arg(&out)
        .arg("-o")
        .arg(&html)
        .assert()
        .success();
    let html = std::fs::read_to_string(html).unwrap();
    let said = format!(
        "40 arrivals/s, up to 3 users, then from the dashboard: 120 arrivals/s at {:.1} s, 0 arrivals/s at {:.1} s, 60 arrivals/s at {:.1} s",
        ats[0], ats[1], ats[2]
    );
    assert!(html.contains(&said), "{said}");
    assert!(
        html.contains(">120 arrivals/s</text>"),
        "marked on the charts"
    );
}

/// Off loopback the dashboard needs a token, and stopping then needs it too.
#[test]
fn a_token_guards_the_stop() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("dashboard-token");
    let cfg = config(&dir, &demo.url());
    let out = dir.join("r.json");
    let (mut child, addr) = start(&cfg, &out, &["--dashboard-token", "s3cret"]);
    let (setup, _) = frames(&addr, 1);
    assert_eq!(setup["token"], true);
    assert_eq!(http(&addr, "POST", "/stop", "").0, 401);
    assert_eq!(
        http(&addr, "POST", "/stop", "authorization: Bearer nope\r\n").0,
        401
    );
    let (status, said) = post(&addr, "/steer", "{\"users\": 5}");
    assert_eq!(
        (status, said.as_str()),
        (401, "the dashboard's token is needed to steer the run")
    );
    assert_eq!(
        http(&addr, "POST", "/stop", "authorization: Bearer s3cret\r\n").0,
        202
    );
    assert_eq!(wait(&mut child, Duration::from_secs(20)), Some(3));

    let done = common::perfgate()
        .args(["run", "--dashboard", "0.0.0.0:0", "-c"])
        .arg(&cfg)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(err.contains("needs --dashboard-token"), "{err}");
}

fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Debian's chromium, when installed (`.ci/run` installs it).
fn chromium() -> Option<String> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_string)
}

/// `perfgate capacity --dashboard`: each step is followed as its own run, named by its
/// rate; the page's stop ends the search (exit 3, the steps so far reported).
#[test]
fn the_dashboard_follows_a_capacity_search() {
    let mut knobs = Knobs::default();
    knobs.set_capacity("200/s").unwrap();
    let demo = DemoServer::start("127.0.0.1:0", knobs).unwrap();
    let dir = temp_dir("dashboard-capacity");
    let cfg = config(&dir, &demo.url());
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("perfgate"));
    cmd.args(["capacity", "--env", "ci", "--start", "20/s", "--step", "3s"])
        .args(["--warmup", "0s", "--dashboard", "127.0.0.1:0", "-c"])
        .arg(&cfg);
    let (mut child, addr, reader) = launch(cmd);
    let (_, live) = frames(&addr, 2);
    let scenario = live[1]["scenario"].as_str().unwrap();
    assert!(scenario.ends_with("step at 20/s"), "{scenario}");
    assert_eq!(http(&addr, "POST", "/stop", "").0, 202);
    assert_eq!(wait(&mut child, Duration::from_secs(20)), Some(3));
    let said = reader.join().unwrap();
    assert!(said.contains("interrupted after"), "{said}");
}
