//! Entry points for fuzzing every parser a user feeds perfgate: perfgate.toml and its
//! templates, command-line values, a saved result, the JMeter, k6 and Locust importers,
//! the HTTP response reader, and the request writer with hostile rendered values. Each takes arbitrary bytes and must return, never panic,
//! abort or run away with memory. The fuzz targets (`fuzz/`, cargo-fuzz) call these, and
//! `tests/fuzz_corpus.rs` replays every committed input through them in `cargo test`.

use std::collections::BTreeMap;

use crate::config::{Config, Dur, Overrides, Plan, Proxy, Rate, Segment, Size, Stage};
use crate::metrics::RunResult;

/// An entry point: bytes in, nothing out but a return.
pub type Target = fn(&[u8]);

/// The entry points by name, as the corpus folders are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config),
    ("cli_values", cli_values),
    ("result_json", result_json),
    ("import", import),
    ("http_response", http_response),
    ("request_writer", request_writer),
];

/// perfgate.toml: parsed, then planned (templates compiled and checked) when it parses.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((config, source)) = Config::parse("fuzz.toml", text) {
        let overrides = Overrides {
            host: Some("http://127.0.0.1:1".into()),
            vars: BTreeMap::from([("TOKEN".to_string(), "value".to_string())]),
            ..Default::default()
        };
        let _ = Plan::build(&config, &source, &overrides);
    }
}

/// Every value a flag or variable takes.
pub fn cli_values(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = Dur::parse(&text);
    let _ = Rate::parse(&text);
    let _ = Segment::parse(&text);
    let _ = Stage::parse(&text);
    let _ = Size::parse(&text);
    let _ = crate::config::Target::parse(&text);
    let _ = Proxy::parse(&text);
    let _ = crate::report::Output::parse(&text);
    let _ = crate::regress::parse_rule("p99", &text, &crate::metrics::Scope::Total);
}

/// A saved result (`perfgate check`, `--baseline`).
pub fn result_json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RunResult::from_json(text);
    }
}

/// Another tool's log (the kind told from its first bytes, as `perfgate import` does).
pub fn import(data: &[u8]) {
    let path = std::env::temp_dir().join(format!("perfgate-fuzz-{}.log", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = crate::import::read(&path, "fuzz");
    }
}

/// A response head and its body's framing as the engine reads them.
pub fn http_response(data: &[u8]) {
    crate::engine::read_response_for_fuzzing(data);
}

/// The request writer with `data` as a value every part of the request renders (the
/// path, a query value, header values, the body): a request is either refused or has
/// exactly the request line and header lines of the plan, whatever the value holds.
pub fn request_writer(data: &[u8]) {
    use std::sync::OnceLock;
    static PLAN: OnceLock<(Plan, Vec<usize>)> = OnceLock::new();
    let (plan, lines) = PLAN.get_or_init(|| {
        let text = r#"
[target]
host = "http://127.0.0.1:1"
headers = { x-base = "1" }
[[users]]
name = "U"
  [[users.tasks]]
  name = "t"
    [[users.tasks.steps]]
    path = "/login"
    extract = { v = "/v" }
    [[users.tasks.steps]]
    method = "POST"
    path = "/a/{{ vars.v }}"
    query = { q = "{{ vars.v }}" }
    headers = { authorization = "Bearer {{ vars.v }}", x-b = "{{ vars.v }}" }
    body = "{{ vars.v }}"
"#;
        let (config, source) = Config::parse("fuzz.toml", text).expect("parses");
        let plan = Plan::build(&config, &source, &Overrides::default()).expect("plans");
        let lines = crate::engine::write_request_for_fuzzing(&plan, "v")
            .iter()
            .map(|h| head_lines(h).expect("a well-formed head"))
            .collect();
        (plan, lines)
    });
    let value = String::from_utf8_lossy(data);
    for head in crate::engine::write_request_for_fuzzing(plan, &value) {
        let n = head_lines(&head);
        assert!(
            n.is_some_and(|n| lines.contains(&n)),
            "a head of {n:?} lines (the plan has {lines:?}) for {value:?}"
        );
    }
}

/// The number of lines of a request head; None when a CR or LF stands alone or the
/// request line is not three parts.
fn head_lines(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    let lines: Vec<&str> = text.split("\r\n").collect();
    let alone = lines.iter().any(|l| l.contains(['\r', '\n']));
    let request_line = lines.first()?.split(' ').count() == 3;
    (!alone && request_line).then_some(lines.len())
}
