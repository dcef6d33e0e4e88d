//! Hostile input: numbers that cannot run and huge values get a clear error, exit 2, in
//! bounded time and memory (issue 13).

mod common;

use std::time::{Duration, Instant};

use common::{perfgate, temp_dir, write};
use perfgate::demo::{DemoServer, Knobs};

#[test]
fn a_trillion_users_is_refused_naming_the_file_descriptor_limit() {
    let dir = temp_dir("hostile-users");
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let cfg = write(&dir, "p.toml", &common::health_only(&demo.url()));
    for users in ["1000000000000", "18446744073709551615"] {
        let started = Instant::now();
        let out = perfgate()
            .args(["run", "-d", "2s", "--users", users, "-c"])
            .arg(&cfg)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("ulimit -n") && stderr.contains("--segment"),
            "{stderr}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    assert_eq!(demo.served_on("/health"), 0, "no load before the refusal");
}

/// A template that would run for seconds (a nested loop) is stopped by its fuel: the
/// run keeps its length and its schedule, and each request fails with the reason, unsent:
/// the error budget fails saying why, never "0 requests" in silence.
#[test]
fn a_runaway_template_fails_its_requests_and_the_run_keeps_its_time() {
    let dir = temp_dir("hostile-template");
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let runaway =
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    let text = common::health_only(&demo.url()).replace(
        "path = \"/health\"",
        &format!("path = \"/health?x={runaway}\""),
    );
    assert!(text.contains("range(100000)"), "{text}");
    let cfg = write(
        &dir,
        "p.toml",
        &format!("{text}\n[budgets.default]\nerror_rate = \"1%\"\n"),
    );
    let started = Instant::now();
    let out = perfgate()
        .args(["run", "-d", "2s", "--users", "2", "--quiet", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(stdout.contains("FAILED 0/1"), "{stdout}");
    assert!(
        stdout.contains("× template: the template did more than a request's template may"),
        "{stdout}"
    );
    assert_eq!(demo.served_on("/health"), 0, "nothing was sent");
}

#[test]
fn an_error_quotes_at_most_80_characters_of_a_huge_value() {
    let dir = temp_dir("hostile-values");
    let huge = "x".repeat(100_000);
    let cfg = write(
        &dir,
        "p.toml",
        &format!("[target]\nhost = \"http://{huge}\"\ntimeout = \"{huge}\"\n"),
    );
    let out = perfgate().args(["run", "-c"]).arg(&cfg).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.len() < 1000, "{} bytes: {stderr:.300}", stderr.len());
    assert!(stderr.contains("characters cut]"), "{stderr}");
    assert!(stderr.contains("p.toml:3:"), "still located: {stderr}");
    // From a variable too.
    let ok = write(&dir, "ok.toml", &common::health_only("http://127.0.0.1:1"));
    let out = perfgate()
        .args(["run", "-c"])
        .arg(&ok)
        .env("TEST_DURATION", &huge)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.len() < 1000 && stderr.contains("TEST_DURATION"),
        "{stderr:.300}"
    );
}

/// A result file that contradicts itself, or carries a forged histogram, is refused
/// with exit 2 saying what disagrees; as a baseline too (a corrupt baseline must never
/// pass or fail a build).
#[test]
fn a_forged_or_contradictory_result_is_refused_saying_what_disagrees() {
    use base64::Engine as _;
    let dir = temp_dir("hostile-results");
    let good = common::fixture().to_json();
    perfgate::metrics::RunResult::from_json(&good).expect("the fixture is consistent");
    let json: serde_json::Value = serde_json::from_str(&good).unwrap();
    let forge = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = json.clone();
        f(&mut v);
        serde_json::to_string(&v).unwrap()
    };
    // A V2 header declaring 4 GiB of counts, and 8 bytes of them.
    let mut blob = vec![0x1c, 0x84, 0x93, 0x03, 0xff, 0xff, 0xff, 0xf0];
    blob.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
    blob.extend_from_slice(&1u64.to_be_bytes());
    blob.extend_from_slice(&3_600_000_000u64.to_be_bytes());
    blob.extend_from_slice(&1f64.to_bits().to_be_bytes());
    blob.extend_from_slice(&[0; 8]);
    let blob = base64::engine::general_purpose::STANDARD.encode(blob);
    let cases: Vec<(String, &str)> = vec![
        (
            forge(&|v| {
                v["total"]["requests"] = (v["total"]["requests"].as_u64().unwrap() + 1).into()
            }),
            "not the sum of its endpoints",
        ),
        (
            forge(&|v| {
                v["endpoints"][0]["failures"] =
                    (v["endpoints"][0]["requests"].as_u64().unwrap() + 5).into()
            }),
            "failures in",
        ),
        (
            forge(&|v| v["duration_s"] = (-3.0).into()),
            "duration_s is -3",
        ),
        (
            forge(&|v| v["endpoints"][0]["latency"] = blob.clone().into()),
            "declares 4294967280 bytes",
        ),
        (
            forge(&|v| v["series"][0]["endpoints"][0]["requests"] = 999_999.into()),
            "its seconds add up to",
        ),
        (
            good.replacen("\"target\":", "\"target\": \"http://x\", \"target\":", 1),
            "appears twice",
        ),
        // Issue 26: times that cannot be.
        (
            forge(&|v| v["duration_s"] = 1e308.into()),
            "duration_s is 1e308 s but the run lasted 10 s",
        ),
        (
            forge(&|v| v["ended_at"] = "2026-11-26T23:59:00Z".into()),
            "ended_at 2026-11-26T23:59:00Z is before started_at",
        ),
        (
            forge(&|v| {
                v["started_at"] = "1970-01-01T00:00:00Z".into();
                v["ended_at"] = "1970-01-01T00:00:10Z".into();
            }),
            "started_at 1970-01-01T00:00:00Z is before 2000",
        ),
        (
            forge(&|v| {
                v["started_at"] = "2999-01-01T00:00:00Z".into();
                v["ended_at"] = "2999-01-01T00:00:10Z".into();
            }),
            "is in the future",
        ),
        (
            forge(&|v| v["started_at"] = "yesterday".into()),
            "started_at \"yesterday\" is not a time",
        ),
    ];
    for (i, (text, words)) in cases.iter().enumerate() {
        let e = perfgate::metrics::RunResult::from_json(text)
            .unwrap_err()
            .to_string();
        assert!(e.contains(words), "case {i}: {e}");
        let path = write(&dir, &format!("forged{i}.json"), text);
        let out = perfgate()
            .arg("check")
            .arg(&path)
            .arg("-c")
            .arg(write(&dir, "p.toml", perfgate::EXAMPLE_CONFIG))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {stderr}");
        assert!(stderr.contains(words), "case {i}: {stderr}");
    }
    // As a baseline: exit 2, not a verdict.
    let current = write(&dir, "current.json", &good);
    let base = write(&dir, "base.json", &cases[0].0);
    let out = perfgate()
        .args(["compare"])
        .arg(&current)
        .arg(&base)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text a target supplies (a failure reason) and a config's names, with newlines, `::`
/// workflow commands, HTML and Markdown in them, stay text in every format (issue 13).
#[test]
fn hostile_text_stays_text_in_every_format() {
    use perfgate::gate::{evaluate, Budget};
    use perfgate::report::{annotations, Format, Report};
    const EVIL: &str = "boom\n::error::pwned <!-- <script>alert(1)</script> | ]]></x> %0A";
    let mut r = common::fixture();
    for e in r.endpoints.iter_mut() {
        e.failures = e.requests;
        e.failure_reasons = [(EVIL.to_string(), e.requests)].into();
    }
    r.endpoints[0].name = format!("/x{EVIL}");
    for i in r.series.iter_mut() {
        for e in i.endpoints.iter_mut() {
            e.failures = e.requests;
        }
    }
    let mut total = perfgate::metrics::Stats::named("Aggregated", "");
    for e in &r.endpoints {
        total.add(e);
    }
    r.total = total;
    let text = format!(
        "{}\n[budgets.evil]\np99 = \"10s\"\n",
        common::health_only("http://127.0.0.1:1")
    );
    let (config, source) = perfgate::config::Config::parse("t.toml", &text).unwrap();
    let budget = Budget::resolve(&config, &source, Some("evil"), None, &[]).unwrap();
    let verdict = evaluate(&budget, &r);
    assert!(
        verdict
            .notes
            .iter()
            .any(|n| perfgate::report::words::note(n).contains("pwned")),
        "the reason is in the verdict's notes: {:?}",
        verdict.notes
    );
    let report = Report {
        result: &r,
        verdict: &verdict,
    };
    // GitHub: every line is one of perfgate's own commands; the reason's newline and
    // `::` are data.
    let gh = annotations(&report);
    for line in gh.lines() {
        assert!(
            line.starts_with("::error title=") || line.starts_with("::warning title="),
            "{line}"
        );
    }
    assert!(gh.contains("boom%0A::error::pwned"), "{gh}");
    let md = Format::Markdown.render(&report);
    assert!(md.contains("pwned"));
    for raw in ["<script>", "<!--", "</x>"] {
        assert!(!md.contains(raw), "Markdown has {raw}:\n{md}");
    }
    let html = Format::Html.render(&report);
    assert!(html.contains("pwned"));
    for raw in ["<script>", "<!--", "</x>"] {
        assert!(!html.contains(raw), "HTML has {raw}");
    }
    let xml = Format::Junit.render(&report);
    assert!(xml.contains("pwned"));
    for raw in ["<script>", "<!--", "]]></x>"] {
        assert!(!xml.contains(raw), "JUnit has {raw}");
    }
    let json = Format::Json.render(&report);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        parsed["verdict"]["notes"][0]
            .as_str()
            .unwrap_or("")
            .contains("pwned")
            || json.contains("pwned")
    );
}

/// A secret read with env() in a template, echoed back by the service in a body and a
/// cookie, appears in no log line, report or result (issue 13): it reads [redacted].
#[test]
fn secrets_from_the_environment_are_redacted_everywhere() {
    const SECRET: &str = "s3cr3t-t0ken-4711";
    let dir = temp_dir("hostile-secrets");
    let server = common::faults::FaultServer::start();
    let task = |name: &str, expect: &str| {
        format!(
            "[[users.tasks]]\nname = \"{name}\"\nendpoint = \"{name}\"\npath = \"/echo\"\nheaders = {{ authorization = \"Bearer {{{{ env('API_TOKEN') }}}}\" }}\nexpect = {{ {expect} }}\n"
        )
    };
    let text = format!(
        "[target]\nhost = \"{}\"\n\n[[users]]\nname = \"U\"\nwait = {{ constant = \"10ms\" }}\n{}{}",
        server.url,
        task("json", "json = { \"/status\" = \"ok\" }"),
        task("cookie", "headers = { set-cookie = \"nope\" }"),
    );
    let cfg = write(&dir, "p.toml", &text);
    let out = perfgate()
        .args(["run", "-d", "1s", "-u", "1", "-c"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("r.json"))
        .arg("--report")
        .arg(format!("markdown={}", dir.join("pr.md").display()))
        .arg("--report")
        .arg(format!("html={}", dir.join("r.html").display()))
        .env("API_TOKEN", SECRET)
        .output()
        .unwrap();
    assert!(server.received("/echo") > 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let saved = std::fs::read_to_string(dir.join("r.json")).unwrap();
    assert!(
        saved.contains("[redacted]"),
        "the failure is still said: {saved:.2000}"
    );
    for (what, text) in [
        ("stdout", stdout.to_string()),
        ("stderr", stderr.to_string()),
        ("result.json", saved),
        ("pr.md", std::fs::read_to_string(dir.join("pr.md")).unwrap()),
        (
            "r.html",
            std::fs::read_to_string(dir.join("r.html")).unwrap(),
        ),
    ] {
        assert!(
            !text.contains(SECRET),
            "{what} has the secret:\n{text:.3000}"
        );
    }
}
