//! The history store: one suite, run against embedded SQLite and a real PostgreSQL
//! server (the latter started by .ci/run), and the CLI's `--history`, `history` and
//! `compare` commands.

mod common;

use common::{fixture_with, perfgate, write};
use perfgate::demo::{DemoServer, Knobs};
use perfgate::history::{Filter, Store};
use perfgate::metrics::RunResult;

fn run_on(branch: &str, commit: &str, scale: f64) -> RunResult {
    let mut r = fixture_with(scale);
    r.git.branch = Some(branch.into());
    r.git.commit = Some(commit.into());
    r
}

/// What every back-end must do the same way.
fn suite(url: &str) {
    let mut s = Store::open(url).unwrap();
    assert_eq!(s.schema_version().unwrap(), 2);
    // Three runs on main with verify-proof at 1.0×, 1.2×, 0.9× latency, one on a branch.
    let mut ids = vec![];
    for (i, scale) in [1.0, 1.2, 0.9].into_iter().enumerate() {
        let r = run_on("main", &format!("c{i}"), scale);
        ids.push(s.record(&r, "passed").unwrap());
    }
    s.record(&run_on("feature", "f0", 3.0), "failed").unwrap();
    s.record(&run_on("main", "broken", 5.0), "interrupted")
        .unwrap();
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");

    let main = Filter {
        branch: Some("main".into()),
        limit: 10,
        ..Filter::default()
    };
    let rows = s.runs(&main).unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(
        rows.iter()
            .map(|r| r.commit.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["c0", "c1", "c2", "broken"],
        "oldest first"
    );
    let original = fixture_with(1.0);
    assert_eq!(rows[0].requests, original.total.requests);
    assert_eq!(rows[0].p99_ms, original.total.summary.p99_ms);
    assert_eq!(rows[0].scenario, "normal");
    assert_eq!(rows[0].environment.as_deref(), Some("production"));

    // Per endpoint, and newest-N.
    let ep = s
        .runs(&Filter {
            endpoint: Some("/api/verify-proof".into()),
            limit: 2,
            ..main.clone()
        })
        .unwrap();
    assert_eq!(ep.len(), 2);
    assert_eq!(ep[0].commit.as_deref(), Some("c2"));
    assert_eq!(ep[0].requests, 2_000);
    assert!(ep[1].p99_ms > ep[0].p99_ms * 4.0, "the 5× run is last");

    // The full RunResult round-trips losslessly.
    let back = s.result(ids[1]).unwrap();
    assert_eq!(back.total.latency, run_on("main", "c1", 1.2).total.latency);

    // history:main picks the median p99 of the completed runs (not the interrupted one).
    let base = s.baseline("main", "normal", 5).unwrap().unwrap();
    assert_eq!(base.git.commit.as_deref(), Some("c0"));
    assert!(s.baseline("nope", "normal", 5).unwrap().is_none());

    // Two CI jobs writing at once lose nothing.
    let before = s
        .runs(&Filter {
            limit: 1000,
            ..Filter::default()
        })
        .unwrap()
        .len();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let url = url.to_string();
            std::thread::spawn(move || {
                let mut s = Store::open(&url).unwrap();
                for i in 0..15 {
                    s.record(&run_on("ci", &format!("w{w}-{i}"), 1.0), "passed")
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let after = s
        .runs(&Filter {
            limit: 1000,
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(after.len(), before + 30);
}

/// A database written by the first schema opens, keeps its runs and is migrated.
fn upgrade(url: &str) {
    let mut old = Store::open_at(url, 1).unwrap();
    assert_eq!(old.schema_version().unwrap(), 1);
    old.batch(
        "INSERT INTO runs (recorded_at, started_at, commit_sha, branch, scenario, environment,
                           status, duration_s, result_json)
         VALUES ('2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'old', 'main', 'normal',
                 'production', 'passed', 10.0, '{}')",
    )
    .unwrap();
    drop(old);
    let mut s = Store::open(url).unwrap();
    assert_eq!(s.schema_version().unwrap(), 2);
    let id = s.record(&run_on("main", "new", 1.0), "passed").unwrap();
    assert!(id >= 2);
    // The old run has no endpoint rows, the new one has; both are there.
    let rows = s
        .runs(&Filter {
            limit: 10,
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(rows.len(), 1);
    let err = s.result(1).unwrap_err().to_string();
    assert!(
        err.contains("run 1"),
        "a corrupt stored result is an error: {err}"
    );
}

#[test]
fn sqlite_store() {
    let dir = common::temp_dir("history-sqlite");
    suite(dir.join("nested/history.db").to_str().unwrap());
    upgrade(dir.join("old.db").to_str().unwrap());
}

/// `sqlite:h.db`, as database URLs are written, is the file h.db (issue 13: it made a
/// file named "sqlite:h.db").
#[test]
fn sqlite_urls_name_the_file() {
    let dir = common::temp_dir("history-url");
    let url = format!("sqlite:{}", dir.join("h.db").display());
    let mut s = Store::open(&url).unwrap();
    assert!(s.schema_version().unwrap() > 0);
    assert!(dir.join("h.db").exists());
    let odd: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("sqlite"))
        .collect();
    assert!(odd.is_empty(), "{odd:?}");
    let url = format!("sqlite://{}", dir.join("h2.db").display());
    Store::open(&url).unwrap();
    assert!(dir.join("h2.db").exists());
}

#[test]
fn a_file_that_is_not_a_database_is_an_error() {
    let dir = common::temp_dir("history-garbage");
    let path = dir.join("history.db");
    std::fs::write(
        &path,
        "this is not sqlite, just text that is long enough to matter",
    )
    .unwrap();
    let err = Store::open(path.to_str().unwrap())
        .err()
        .expect("must fail");
    assert!(format!("{err:#}").contains("not a"), "{err:#}");
}

/// A fresh database on the PostgreSQL server named by PERFGATE_TEST_POSTGRES.
fn postgres_db(name: &str) -> String {
    let admin = std::env::var("PERFGATE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
    let db = format!("perfgate_{name}_{}", std::process::id());
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("PostgreSQL is up");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{db}")
}

#[test]
#[ignore = "needs PostgreSQL; run by .ci/run"]
fn postgres_store() {
    suite(&postgres_db("suite"));
    upgrade(&postgres_db("upgrade"));
}

#[test]
fn history_records_runs_lists_trends_and_serves_as_baseline() {
    let dir = common::temp_dir("history-cli");
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    // 2 ms think: the generator keeps slack, so a busy CI machine cannot make these
    // runs inconclusive (their exit codes are part of what is checked).
    let mut text = common::config(
        &demo.url(),
        "{ constant = \"2ms\" }",
        &[("h", "/health", 1)],
    );
    text.push_str("\n[budgets.ci]\nerror_rate = \"1%\"\n");
    let cfg = write(&dir, "perfgate.toml", &text);
    let db = dir.join("h.db");
    // A project's first run against history:main has nothing to compare with: it says so
    // and is judged by its budget alone.
    let first = perfgate()
        .current_dir(&dir)
        .args([
            "run",
            "-c",
            "perfgate.toml",
            "-e",
            "ci",
            "-d",
            "1s",
            "-u",
            "1",
        ])
        .args(["--baseline", "history:main", "--history"])
        .arg(dir.join("empty.db"))
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&first.get_output().stdout).to_string();
    assert!(stdout.contains("no baseline yet"), "{stdout}");
    for (i, branch) in ["main", "main", "main", "feature"].iter().enumerate() {
        let assert = perfgate()
            .current_dir(&dir)
            .env("GIT_BRANCH", branch)
            .env("GIT_COMMIT", format!("{i}abcdef0123"))
            .args([
                "run",
                "-c",
                "perfgate.toml",
                "-e",
                "ci",
                "-d",
                "6s",
                "-u",
                "4",
                "--history",
            ])
            .arg(&db)
            .args(["--out", &format!("run{i}.json")])
            .assert()
            .code(0);
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
        assert!(
            stdout.contains(&format!("recorded run #{}", i + 1)),
            "{stdout}"
        );
    }
    // The newest run, against the median of main's: a real comparison, exit 0 or 1 only
    // on a regression, and the report names the baseline's commit.
    let out = perfgate()
        .current_dir(&dir)
        .env("GIT_BRANCH", "feature")
        .args(["check", "-c"])
        .arg(&cfg)
        .arg(dir.join("run3.json"))
        .args(["-e", "ci", "--baseline", "history:main:3", "--history"])
        .arg(&db)
        .args(["--report", "markdown=pr.md"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Against baseline 0abcdef")
            || stdout.contains("Against baseline 1abcdef")
            || stdout.contains("Against baseline 2abcdef"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.join("pr.md")).unwrap();
    assert!(md.contains("**Against baseline**"), "{md}");
    let list = perfgate()
        .current_dir(&dir)
        .args([
            "history",
            "--branch",
            "main",
            "--metric",
            "rps",
            "--chart",
            "trend.svg",
            "--history",
        ])
        .arg(&db)
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&list.get_output().stdout).to_string();
    assert_eq!(stdout.matches("passed").count(), 3, "{stdout}");
    assert!(!stdout.contains("feature"), "{stdout}");
    assert!(stdout.contains("rps of the whole run: "), "{stdout}");
    assert!(stdout.chars().any(|c| ('▁'..='█').contains(&c)), "{stdout}");
    let svg = std::fs::read_to_string(dir.join("trend.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
    // compare is report-only: exit 0 and every comparison listed.
    let cmp = perfgate()
        .current_dir(&dir)
        .args(["compare", "run1.json", "run0.json"])
        .assert()
        .code(0);
    let stdout = String::from_utf8_lossy(&cmp.get_output().stdout).to_string();
    assert!(stdout.contains("throughput on h"), "{stdout}");
}
