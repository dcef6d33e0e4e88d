//! Flows a config can say without code (issue 16), each against a server that records
//! what it was sent: hosts and headers per environment, JSON feeders and unique rows.

mod common;

use common::flow::FlowServer;
use common::{run, secs};
use perfgate::config::{Config, Overrides, Plan};

/// A config with `body` after `[target]` (host `host`) and one user class "U" without
/// think time whose tasks are `tasks` (TOML for `[[users.tasks]]` entries).
fn config(host: &str, body: &str, tasks: &str) -> String {
    format!(
        "[target]\nhost = \"{host}\"\ntimeout = \"5s\"\n{body}\n[[users]]\nname = \"U\"\n{tasks}"
    )
}

fn iterations(n: u64) -> Overrides {
    Overrides {
        users: Some(2),
        iterations: Some(n),
        duration: secs("20s"),
        ..Default::default()
    }
}

/// `[environments.NAME]` chooses the host and adds headers by `--env`; an environment
/// neither in [environments] nor a budget is a mistake, said before any load.
#[test]
fn each_environment_has_its_host_and_headers() {
    let server = FlowServer::start();
    let body = format!(
        "headers = {{ authorization = \"Bearer default\", x-team = \"perf\" }}\n\
         [environments.staging]\nhost = \"{}\"\nheaders = {{ Authorization = \"Bearer staging\" }}\n\
         [environments.production]\nhost = \"http://127.0.0.1:9\"\n",
        server.url
    );
    let tasks = "[[users.tasks]]\npath = \"/echo\"\nexpect = { json = { \"/auth\" = \"Bearer staging\" } }\n";
    let text = config("http://127.0.0.1:9", &body, tasks);
    let r = run(
        &text,
        Overrides {
            environment: Some("staging".into()),
            ..iterations(20)
        },
    );
    assert_eq!(
        (r.total.requests, r.total.failures),
        (20, 0),
        "{:?}",
        r.total.failure_reasons
    );
    assert_eq!(server.count("/echo"), 20);
    assert!(r.target.starts_with(&server.url), "{}", r.target);
    for s in server.seen() {
        assert_eq!(s.headers["x-team"], "perf", "the file's other headers stay");
    }
    let (c, source) = Config::parse("t.toml", &text).unwrap();
    let o = Overrides {
        environment: Some("stagin".into()),
        ..Default::default()
    };
    let err = Plan::build(&c, &source, &o).err().unwrap().to_string();
    assert!(
        err.contains(
            "environment \"stagin\" is not in [environments] (which has production, staging)"
        ),
        "{err}"
    );
}

/// A JSON feeder keeps its values' types; `unique = true` hands each row out once, then
/// says the feeder ran dry instead of starting over; a task that reads no feeder takes
/// no row.
#[test]
fn json_feeders_and_unique_rows() {
    let server = FlowServer::start();
    let dir = common::temp_dir("feeders");
    let file = dir.join("accounts.json");
    std::fs::write(
        &file,
        r#"[{"name":"ann","id":1},{"name":"bob","id":2},{"name":"cy","id":3},{"name":"di","id":4},{"name":"ed","id":5}]"#,
    )
    .unwrap();
    let body = format!(
        "[data.accounts]\nfile = \"{}\"\nunique = true\n",
        file.display()
    );
    let tasks = "[[users.tasks]]\nname = \"sign\"\nmethod = \"POST\"\npath = \"/sign\"\n\
                 json = '{ \"who\": \"{{ data.accounts.name }}\", \"next\": {{ data.accounts.id + 1 }} }'\n";
    let r = run(&config(&server.url, &body, tasks), iterations(8));
    assert_eq!(r.total.requests, 8);
    assert_eq!(r.total.failures, 3, "{:?}", r.total.failure_reasons);
    let (reason, n) = r.total.failure_reasons.iter().next().unwrap();
    assert_eq!(*n, 3);
    assert!(
        reason.contains("feeder accounts ran dry: each of its 5 rows is used once"),
        "{reason}"
    );
    let mut sent: Vec<String> = server.seen().iter().map(|s| s.body.clone()).collect();
    sent.sort();
    let want: Vec<String> = [("ann", 2), ("bob", 3), ("cy", 4), ("di", 5), ("ed", 6)]
        .iter()
        .map(|(w, n)| format!("{{ \"who\": \"{w}\", \"next\": {n} }}"))
        .collect();
    assert_eq!(sent, want, "each row once, the id a number");

    // Another task reading no feeder does not use up its rows.
    let tasks =
        format!("{tasks}[[users.tasks]]\nname = \"look\"\nweight = 3\npath = \"/health\"\n");
    let r = run(&config(&server.url, &body, &tasks), iterations(40));
    let signed = r
        .tasks
        .iter()
        .find(|t| t.task == "sign")
        .unwrap()
        .iterations;
    let failed = r.total.failures;
    assert_eq!(
        failed,
        signed.saturating_sub(5),
        "only sign takes rows: {signed} signs"
    );
    // A file that is not an array of objects is refused with where it is named.
    std::fs::write(&file, "[1, 2]").unwrap();
    let (c, source) = Config::parse("t.toml", &config(&server.url, &body, &tasks)).unwrap();
    let err = Plan::build(&c, &source, &Overrides::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("item 0 is not an object") && err.starts_with("t.toml:"),
        "{err}"
    );
}
