//! Trust at the edges (issue 26): what a hostile target answers, a data row or a config
//! literal renders never changes the request on the wire.

mod common;

use common::flow::FlowServer;
use common::run;
use perfgate::config::{Config, Overrides, Plan};

fn config(host: &str, tasks: &str) -> String {
    format!("[target]\nhost = \"{host}\"\ntimeout = \"5s\"\n\n[[users]]\nname = \"U\"\n{tasks}")
}

fn twice() -> Overrides {
    Overrides {
        users: Some(1),
        iterations: Some(2),
        duration: common::secs("20s"),
        ..Default::default()
    }
}

/// The reasons an endpoint failed for, as the result keeps them.
fn reasons(r: &perfgate::RunResult, endpoint: &str) -> Vec<String> {
    let e = r.endpoints.iter().find(|e| e.name == endpoint).unwrap();
    e.failure_reasons.keys().cloned().collect()
}

/// A token extracted from a hostile login answer ("abc\r\nX-Evil: yes") sent as a header
/// value, and an id ("1 HTTP/1.1\r\nX-Split: 1") sent in a path: each request fails,
/// counted, with a reason naming the header or the path and the template; the server
/// never sees the extra header or a split request.
#[test]
fn rendered_values_cannot_inject_headers_or_split_requests() {
    let server = FlowServer::start();
    let tasks = r#"
  [[users.tasks]]
  name = "t"
    [[users.tasks.steps]]
    path = "/login-evil"
    extract = { token = "/token", id = "/id" }
    [[users.tasks.steps]]
    path = "/echo"
    headers = { authorization = "Bearer {{ vars.token }}" }
    expect = { status = 200 }
  [[users.tasks]]
  name = "p"
    [[users.tasks.steps]]
    path = "/login-evil"
    extract = { id = "/id" }
    [[users.tasks.steps]]
    path = "/jobs/{{ vars.id }}"
    endpoint = "job"
"#;
    let r = run(&config(&server.url, tasks), twice());
    let seen = server.seen();
    assert!(seen.iter().all(|s| !s.headers.contains_key("x-evil")
        && !s.headers.contains_key("x-split")
        && !s.target.contains("HTTP")));
    assert_eq!(server.count("/echo"), 0, "nothing sent with the token");
    assert!(
        seen.iter().all(|s| !s.target.starts_with("/jobs/")),
        "nothing sent with the id: {seen:?}"
    );
    let logins = server.count("/login-evil") as u64;
    assert!(logins > 0, "the hostile login was called");
    let echo = r.endpoints.iter().find(|e| e.name == "/echo");
    let job = r.endpoints.iter().find(|e| e.name == "job");
    let failed = echo.map_or(0, |e| e.failures) + job.map_or(0, |e| e.failures);
    assert_eq!(
        failed, logins,
        "each refused request counted: {:?}",
        r.endpoints
    );
    if echo.is_some_and(|e| e.failures > 0) {
        let why = reasons(&r, "/echo").join(" | ");
        assert!(
            why.contains("header \"authorization\" would hold CR")
                && why.contains("Bearer {{ vars.token }}"),
            "{why}"
        );
    }
    if job.is_some_and(|e| e.failures > 0) {
        let why = reasons(&r, "job").join(" | ");
        assert!(
            why.contains("the path would hold a space") && why.contains("{{ vars.id }}"),
            "{why}"
        );
    }
}

/// A template literal that renders CR/LF fails each request at run time; a header written
/// with a raw CR/LF, or a name that is not a token, is refused before any load with
/// its file:line:column.
#[test]
fn config_literals_cannot_inject_headers() {
    let server = FlowServer::start();
    let tasks = r#"
  [[users.tasks]]
  path = "/echo"
  headers = { x-trace = "{{ 'a\r\nX-Inj: 1' }}" }
"#;
    let r = run(&config(&server.url, tasks), twice());
    assert_eq!(server.count("/echo"), 0);
    let e = r.endpoints.iter().find(|e| e.name == "/echo").unwrap();
    assert_eq!((e.requests, e.failures), (2, 2));
    let why = reasons(&r, "/echo").join(" | ");
    assert!(why.contains("header \"x-trace\" would hold CR"), "{why}");

    let plan = |tasks: &str| {
        let text = config(&server.url, tasks);
        let (c, s) = Config::parse("perfgate.toml", &text).unwrap();
        Plan::build(&c, &s, &Overrides::default())
            .err()
            .map(|e| e.to_string())
    };
    let raw =
        plan("  [[users.tasks]]\n  path = \"/echo\"\n  headers = { x-a = \"a\\r\\nX-Inj: 1\" }\n");
    let raw = raw.expect("refused");
    assert!(
        raw.contains("perfgate.toml:9:21:") && raw.contains("CR would change"),
        "{raw}"
    );
    let name = plan("  [[users.tasks]]\n  path = \"/echo\"\n  headers = { \"x a\" = \"1\" }\n");
    let name = name.expect("refused");
    assert!(name.contains("\"x a\" is not an HTTP token"), "{name}");
    let path = plan("  [[users.tasks]]\n  path = \"/a b\"\n");
    assert!(path.expect("refused").contains("a space would change"));
    let target = Config::parse(
        "perfgate.toml",
        &format!(
            "[target]\nhost = \"{}\"\nheaders = {{ x-a = \"1\\r\\nX-Inj: 1\" }}\n[[users]]\nname = \"U\"\n  [[users.tasks]]\n  path = \"/\"\n",
            server.url
        ),
    )
    .unwrap();
    let err = Plan::build(&target.0, &target.1, &Overrides::default())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("[target] headers: \"x-a\" holds CR"),
        "{err}"
    );
}
