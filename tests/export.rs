//! Live export against real servers: Prometheus (remote write and scraping) and
//! InfluxDB 1.x from Debian's packages, started here on free loopback ports; the
//! InfluxDB v2 API shape against a recording server; and a dead or hanging backend.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use perfgate::demo::{DemoServer, Knobs};
use perfgate::metrics::RunResult;

/// A server process, killed when the test ends however it ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ureq::get(url).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{url} did not come up");
}

fn get_json(url: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let mut req = ureq::get(url);
    for (k, v) in query {
        req = req.query(*k, *v);
    }
    let body = req.call().unwrap().into_body().read_to_string().unwrap();
    serde_json::from_str(&body).unwrap()
}

/// A short run of the demo through the CLI with `args`; returns the RunResult and stderr.
fn run_with(dir: &Path, seconds: u32, args: &[&str], env: &[(&str, &str)]) -> (RunResult, String) {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let cfg = dir.join("perfgate.toml");
    std::fs::write(
        &cfg,
        common::config(
            &demo.url(),
            "{ constant = \"5ms\" }",
            &[("/health", "/health", 1)],
        ),
    )
    .unwrap();
    let out = dir.join("result.json");
    let output = common::perfgate()
        .arg("run")
        .arg("-c")
        .arg(&cfg)
        .args(["-d", &format!("{seconds}s"), "-u", "4", "--quiet", "--out"])
        .arg(&out)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let r = RunResult::load(&out).unwrap();
    assert_eq!(
        r.total.requests,
        demo.served_on("/health"),
        "the service saw the same"
    );
    (r, stderr)
}

#[test]
#[ignore = "needs prometheus; run by .ci/run"]
fn prometheus_remote_write_and_scrape_equal_the_result() {
    let dir = common::temp_dir("prometheus");
    let (prom, metrics) = (free_port(), free_port());
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: perfgate\n    static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n"
        ),
    )
    .unwrap();
    let _server = Daemon(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed"),
    );
    let base = format!("http://127.0.0.1:{prom}");
    wait_ready(&format!("{base}/-/ready"));
    let (r, stderr) = run_with(
        &dir,
        6,
        &[
            "--export",
            &format!("prometheus={base}/api/v1/write"),
            "--export-every",
            "2s",
            "--metrics-listen",
            &format!("127.0.0.1:{metrics}"),
        ],
        &[],
    );
    assert!(stderr.contains("0 failed, 0 dropped"), "{stderr}");
    let query = |q: &str| -> f64 {
        let v = get_json(&format!("{base}/api/v1/query"), &[("query", q)]);
        v["data"]["result"][0]["value"][1]
            .as_str()
            .unwrap_or_else(|| panic!("{q}: {v}"))
            .parse()
            .unwrap()
    };
    // Pushed series carry no job label; scraped ones have job="perfgate". After the run
    // the scraped series go stale, so read the latest value within the last minutes.
    let total = r.total.requests as f64;
    for q in [
        "sum(max_over_time(perfgate_requests_total{job=\"\"}[5m]))",
        "sum(max_over_time(perfgate_request_duration_seconds_count{job=\"\"}[5m]))",
        "sum(max_over_time(perfgate_requests_total{job=\"perfgate\"}[5m]))",
        "sum(max_over_time(perfgate_request_duration_seconds_count{job=\"perfgate\"}[5m]))",
    ] {
        assert_eq!(query(q), total, "{q}");
    }
    // The histogram re-aggregates: its p99 agrees with perfgate's to a bucket.
    let p99 = query(
        "histogram_quantile(0.99, sum by (le) (max_over_time(perfgate_request_duration_seconds_bucket{job=\"\"}[5m])))",
    );
    let ours = r.total.summary.p99_ms / 1000.0;
    // Prometheus interpolates inside the bucket that holds perfgate's p99.
    let bucket = |v: f64| {
        perfgate::export::snapshot::BUCKETS_S
            .iter()
            .position(|&le| v <= le)
    };
    assert!(
        p99 > 0.0 && bucket(p99) == bucket(ours),
        "p99 {p99} s vs {ours} s"
    );
    let labels = get_json(
        &format!("{base}/api/v1/series"),
        &[("match[]", "perfgate_requests_total")],
    );
    let first = &labels["data"][0];
    for l in [
        "endpoint",
        "method",
        "status_class",
        "scenario",
        "environment",
    ] {
        assert!(first.get(l).is_some(), "label {l} missing: {first}");
    }
    assert_eq!(first["status_class"], "2xx");

    // Every query of the Grafana dashboard runs and finds data.
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../grafana/perfgate-dashboard.json")).unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$scenario", ".*")
                .replace("$environment", ".*")
                .replace("$p95_budget_ms", "100")
                .replace("$p99_budget_ms", "150")
                .replace("$error_rate_budget", "0.1")
                .replace("$min_rps", "200");
            let v = get_json(&format!("{base}/api/v1/query"), &[("query", &expr)]);
            assert_eq!(v["status"], "success", "{expr}: {v}");
            let found = v["data"]["result"].as_array().map_or(0, Vec::len);
            // Non-2xx shares are empty when every response was 2xx.
            if !expr.contains("status_class!=") {
                assert!(found > 0, "{} / {expr}: no data", panel["title"]);
            }
        }
    }
}

fn influxd(dir: &Path) -> (Daemon, String) {
    let (http, rpc) = (free_port(), free_port());
    let d = dir.display();
    std::fs::write(
        dir.join("influxdb.conf"),
        format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n[http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n"
        ),
    )
    .unwrap();
    let daemon = Daemon(
        Command::new("influxd")
            .arg("-config")
            .arg(dir.join("influxdb.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("influxd is installed"),
    );
    let base = format!("http://127.0.0.1:{http}");
    wait_ready(&format!("{base}/ping"));
    (daemon, base)
}

#[test]
#[ignore = "needs influxdb; run by .ci/run"]
fn influxdb_points_add_up_to_the_result() {
    let dir = common::temp_dir("influxdb");
    let (_server, base) = influxd(&dir);
    ureq::post(&format!("{base}/query"))
        .query("q", "CREATE DATABASE perfgate")
        .send_empty()
        .unwrap();
    let (r, stderr) = run_with(
        &dir,
        6,
        &[
            "--export",
            &format!("influxdb={base}/write?db=perfgate"),
            "--export-every",
            "2s",
        ],
        &[],
    );
    assert!(stderr.contains("0 failed, 0 dropped"), "{stderr}");
    let v = get_json(
        &format!("{base}/query"),
        &[
            ("db", "perfgate"),
            (
                "q",
                "SELECT sum(\"requests\") FROM \"perfgate_requests\" GROUP BY \"endpoint\"",
            ),
        ],
    );
    let series = &v["results"][0]["series"][0];
    assert_eq!(series["tags"]["endpoint"], "/health", "{v}");
    assert_eq!(
        series["values"][0][1].as_u64(),
        Some(r.total.requests),
        "{v}"
    );
    let seconds = get_json(
        &format!("{base}/query"),
        &[
            ("db", "perfgate"),
            ("q", "SELECT count(\"requests\") FROM \"perfgate_requests\""),
        ],
    );
    let points = seconds["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap();
    let busy = r.series.iter().filter(|i| !i.endpoints.is_empty()).count();
    assert_eq!(points, busy as u64, "one point per second: {seconds}");
}

/// A capacity search exports as a run does: each step's seconds, stamped from the
/// step's own start, add up in InfluxDB to every request of every step.
#[test]
#[ignore = "needs influxdb; run by .ci/run"]
fn a_capacity_search_exports_every_step() {
    let dir = common::temp_dir("influxdb-search");
    let (_server, base) = influxd(&dir);
    ureq::post(&format!("{base}/query"))
        .query("q", "CREATE DATABASE perfgate")
        .send_empty()
        .unwrap();
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let cfg = dir.join("perfgate.toml");
    let text = common::config(
        &demo.url(),
        "{ constant = \"0ms\" }",
        &[("/health", "/health", 1)],
    );
    let search = "[scenarios.capacity]\nsearch = { start = \"40/s\", max = \"80/s\", step = \"2s\", warmup = \"1s\" }\n\n[budgets.default]\np99 = \"1s\"\n";
    std::fs::write(&cfg, format!("{search}\n{text}")).unwrap();
    let verdict = dir.join("verdict.json");
    let done = common::perfgate()
        .args(["capacity", "-c"])
        .arg(&cfg)
        .args([
            "--export",
            &format!("influxdb={base}/write?db=perfgate"),
            "--export-every",
            "1s",
        ])
        .arg("--report")
        .arg(format!("json={}", verdict.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("0 failed, 0 dropped"), "{stderr}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&verdict).unwrap()).unwrap();
    let steps = v["verdict"]["capacity"]["steps"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(steps.len(), 2, "40/s then 80/s: {v}");
    let requests: u64 = steps.iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert_eq!(requests, demo.served_on("/health"));
    let sum = get_json(
        &format!("{base}/query"),
        &[
            ("db", "perfgate"),
            ("q", "SELECT sum(\"requests\") FROM \"perfgate_requests\""),
        ],
    );
    assert_eq!(
        sum["results"][0]["series"][0]["values"][0][1].as_u64(),
        Some(requests),
        "{sum}"
    );
}

/// Records every request it receives (request line, headers, body) and answers 204.
fn recording_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            log.lock()
                .unwrap()
                .push(format!("{head}\n{}", String::from_utf8_lossy(&body)));
            let _ = stream.write_all(
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (addr, seen)
}

#[test]
fn influxdb_v2_writes_carry_the_token_and_every_request() {
    let dir = common::temp_dir("influx-v2");
    let (addr, seen) = recording_server();
    let mut cmd_args = vec!["--export".to_string()];
    cmd_args.push(format!(
        "influxdb=http://{addr}/api/v2/write?org=acme&bucket=perf"
    ));
    let args: Vec<&str> = cmd_args.iter().map(String::as_str).collect();
    let (r, _) = run_with(&dir, 3, &args, &[("INFLUX_TOKEN", "s3cret")]);
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    let mut requests = 0;
    for req in seen.iter() {
        assert!(
            req.starts_with("POST /api/v2/write?org=acme&bucket=perf&precision=ms HTTP/1.1"),
            "{req}"
        );
        assert!(
            req.to_ascii_lowercase()
                .contains("authorization: token s3cret"),
            "{req}"
        );
        for field in req
            .split([' ', ','])
            .filter_map(|f| f.strip_prefix("requests="))
        {
            requests += field.trim_end_matches('i').parse::<u64>().unwrap();
        }
    }
    assert_eq!(requests, r.total.requests);
}

#[test]
fn a_dead_or_hanging_backend_never_slows_the_load() {
    let dir = common::temp_dir("dead-backend");
    // Accepts connections and never answers.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_addr = hanging.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for s in hanging.incoming().flatten() {
            keep.lock().unwrap().push(s);
        }
    });
    let dead = free_port();
    let started = Instant::now();
    let (r, stderr) = run_with(
        &dir,
        8,
        &[
            "--export",
            &format!("prometheus=http://{hang_addr}/api/v1/write"),
            "--export",
            &format!("influxdb=http://127.0.0.1:{dead}/write?db=x"),
            "--export-every",
            "1s",
        ],
        &[],
    );
    let wall = started.elapsed().as_secs_f64();
    // The load ran its full time at full speed; the end waited at most a few seconds.
    assert!((7.5..9.0).contains(&r.duration_s), "{}", r.duration_s);
    assert!(
        r.total.requests as f64 > 8.0 * 4.0 * 50.0 * 0.6,
        "{}",
        r.total.requests
    );
    assert!(wall < 8.0 + 2.0 + 8.0 + 5.0, "the run took {wall:.1}s");
    assert!(stderr.contains("warning: export to"), "{stderr}");
    let dropped: u64 = stderr
        .split("failed, ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(dropped > 0, "a full queue drops and counts: {stderr}");
}

/// The scrape page of a real run with several endpoints passes Prometheus's own
/// checker: each metric family's TYPE once, its samples together (issue 13: the TYPE
/// lines repeated per endpoint).
#[test]
#[ignore = "needs promtool (Debian's prometheus); run by .ci/run"]
fn the_scrape_page_passes_promtool() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let text = common::config(
        &demo.url(),
        "{ constant = \"0ms\" }",
        &[("health", "/health", 1), ("stats", "/stats", 1)],
    );
    let r = common::run(
        &text,
        perfgate::config::Overrides {
            iterations: Some(200),
            users: Some(2),
            ..Default::default()
        },
    );
    assert_eq!(r.endpoints.len(), 2);
    let snap = perfgate::export::snapshot::last(&r, 1_700_000_000_000, 0);
    let page = perfgate::export::prometheus::exposition(&snap, "smoke", "ci");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    // promtool also lints (counter names, help text): only errors fail the page.
    assert!(
        out.status.success() || !said.contains("error"),
        "{said}\n{page}"
    );
    assert!(!said.contains("second TYPE line"), "{said}");
}
