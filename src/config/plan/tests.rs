//! Every way `Plan::build` refuses a config, each located and saying what to fix.

use super::{Overrides, Plan};
use crate::config::{Config, Segment};

const CLASS: &str = "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\n";

/// Builds a plan from `text` (with a host) and returns the error's line and message.
fn refused(text: &str, o: &Overrides) -> (usize, String) {
    let text = format!("[target]\nhost = \"http://127.0.0.1:1\"\n{text}");
    let (config, source) = Config::parse("p.toml", &text).unwrap_or_else(|e| panic!("{e}"));
    match Plan::build(&config, &source, o) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => (e.line, e.message),
    }
}

#[test]
fn each_refusal_is_located_and_says_what_to_fix() {
    let none = Overrides::default();
    // (config after [target], line of the error (0: the file as a whole), words in it)
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "no [[users]] defined"),
        (
            "[[users]]\nname = \"U\"\nweight = 0\n[[users.tasks]]\npath = \"/a\"\n",
            3,
            "weights add up to 0",
        ),
        ("[[users]]\nname = \"U\"\n", 3, "has no tasks"),
        ("[[users]]\nname = \"U\"\ntasks = []\n", 3, "has no tasks"),
        (
            "[[users]]\nname = \"A\"\n[[users.tasks]]\npath = \"/a\"\n[[users]]\nname = \"B\"\ntasks_from = \"A\"\n[[users.tasks]]\npath = \"/b\"\n",
            7,
            "has both tasks and tasks_from",
        ),
        (
            "[[users]]\nname = \"B\"\ntasks_from = \"A\"\n",
            3,
            "no user class has that name",
        ),
        (
            "[[users]]\nname = \"A\"\ntasks_from = \"B\"\n[[users]]\nname = \"B\"\ntasks_from = \"A\"\n",
            3,
            "that class has no tasks of its own",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\nsteps = [{ path = \"/b\" }]\n",
            5,
            "either `path` (one request) or `steps`",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\nsteps = [{ path = \"/b\", weight = 2 }]\n",
            6,
            "a step cannot have its own `weight`",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\nweight = 0\n",
            5,
            "task weights of user class \"U\" add up to 0",
        ),
        (
            "[[users]]\nname = \"U\"\nwait = { between = [\"2s\", \"1s\"] }\n[[users.tasks]]\npath = \"/a\"\n",
            3,
            "is backwards",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\nmethod = \"GET\"\n",
            5,
            "request has no `path`",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"a\"\n",
            6,
            "must start with '/'",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\nmethod = \"G T\"\n",
            5,
            "invalid HTTP method",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\nbody = \"x\"\njson = \"{}\"\n",
            5,
            "`body` or `json`, not both",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\njson = \"{oops\"\n",
            7,
            "`json` is not valid JSON",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/{{ oops( }}\"\n",
            6,
            "template does not compile",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/{{ vars.nothing }}\"\n",
            6,
            "template:",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\nextract = { t = \"token\" }\n",
            5,
            "neither a JSON pointer",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\nextract = { t = \"header:\" }\n",
            5,
            "names no header",
        ),
        (
            "[[users]]\nname = \"U\"\n[[users.tasks]]\npath = \"/a\"\nexpect = { headers = { \"a b\" = \"x\" } }\n",
            5,
            "is no header name",
        ),
        (
            &format!("[data.rows]\nfile = \"/nonexistent/rows.csv\"\n{CLASS}"),
            3,
            "data \"rows\": cannot read",
        ),
        (
            &format!("[scenarios.all]\ninclude = [\"nope\"]\n{CLASS}"),
            3,
            "includes \"nope\", which is not a scenario",
        ),
        (
            &format!("[gate]\nscenario = \"c\"\n[scenarios.a]\nusers = 1\n[scenarios.b]\ninclude = [\"a\"]\n[scenarios.c]\ninclude = [\"b\"]\n{CLASS}"),
            7,
            "include only plain scenarios",
        ),
        (
            &format!("[scenarios.s]\nusers = 1\nspawn_rate = 0.0\n{CLASS}"),
            3,
            "spawn_rate must be positive",
        ),
        (
            &format!("[scenarios.s]\nusers = 0\n{CLASS}"),
            3,
            "needs at least one user",
        ),
        (
            &format!("[scenarios.s]\nusers = 1\nduration = \"0s\"\n{CLASS}"),
            3,
            "duration must be more than 0",
        ),
        (
            &format!("[gate]\nscenario = \"nope\"\n{CLASS}"),
            0,
            "unknown scenario \"nope\"",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, line, words) in cases {
        let (at, message) = refused(text, &none);
        if !message.contains(words) || at != *line {
            wrong.push(format!("{text:?}\n→ {at}: {message}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn overrides_that_cannot_apply_are_refused() {
    let text = format!("[scenarios.a]\nusers = 1\n[scenarios.both]\ninclude = [\"a\"]\n{CLASS}");
    let o = Overrides {
        scenario: Some("both".into()),
        users: Some(3),
        ..Default::default()
    };
    let (_, message) = refused(&text, &o);
    assert!(message.contains("apply to one scenario"), "{message}");
    let o = Overrides {
        segment: Some(Segment::parse("1/3").unwrap()),
        users: Some(2),
        ..Default::default()
    };
    let (line, message) = refused(CLASS, &o);
    assert_eq!(line, 0);
    assert!(message.contains("too few to split 3 ways"), "{message}");
}

#[test]
fn target_values_that_cannot_run_are_refused() {
    let (config, source) = Config::parse("p.toml", CLASS).unwrap();
    let e = Plan::build(&config, &source, &Overrides::default())
        .err()
        .unwrap();
    assert!(e.message.contains("no target host"), "{e}");
    for (text, words) in [
        (
            "[target]\nhost = \"http://x\"\ntimeout = \"0s\"\n",
            "timeout must be more than 0s",
        ),
        (
            "[target]\nhost = \"http://x\"\nconnect_timeout = \"0s\"\n",
            "connect_timeout must be more than 0s",
        ),
        ("[target]\nhost = \"ftp://x\"\n", "must start with http://"),
        (
            "[target]\nhost = \"http://x\"\nca_file = \"/nonexistent.pem\"\n",
            "ca_file",
        ),
    ] {
        let (config, source) = Config::parse("p.toml", &format!("{text}{CLASS}")).unwrap();
        let e = Plan::build(&config, &source, &Overrides::default())
            .err()
            .unwrap();
        assert!(e.message.contains(words), "{text}: {e}");
    }
}

#[test]
fn every_request_carries_the_target_headers_a_user_agent_and_no_keep_alive_says_close() {
    let text = format!("[target]\nhost = \"http://x\"\nkeep_alive = false\nheaders = {{ x-team = \"perf\" }}\n{CLASS}");
    let (config, source) = Config::parse("p.toml", &text).unwrap();
    let plan = Plan::build(&config, &source, &Overrides::default()).unwrap();
    let names: Vec<&str> = plan.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["x-team", "user-agent", "connection"]);
}

#[test]
fn numbers_no_process_can_run_are_refused_before_anything_is_allocated() {
    for (text, words) in [
        (
            "[scenarios.s]\nusers = 1\nthreads = 100000\n",
            "at most 1024",
        ),
        (
            "[scenarios.s]\nrate = 100000000\n",
            "more than 10000000 arrivals",
        ),
        (
            "[scenarios.s]\nusers = 1\nduration = \"1000000h\"\n",
            "longer than a year",
        ),
    ] {
        let text = format!("[target]\nhost = \"http://127.0.0.1:1\"\n{text}{CLASS}");
        let e = match Config::parse("p.toml", &text) {
            Err(e) => e,
            Ok((config, source)) => Plan::build(&config, &source, &Overrides::default())
                .err()
                .expect("refused"),
        };
        assert!(e.message.contains(words), "{text}: {e}");
    }
}
