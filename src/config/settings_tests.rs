//! Settings: flags over variables, each value with its origin.

use super::*;

fn resolve(load: LoadArgs, vars: &[(&str, &str)]) -> Result<Settings, String> {
    Settings::resolve(
        &load,
        &OutputArgs::default(),
        &Env::of(vars.iter().copied()),
    )
}

#[test]
fn a_flag_wins_over_its_variable_and_each_says_where_it_came_from() {
    let s = resolve(
        LoadArgs {
            users: Some(5),
            ..Default::default()
        },
        &[("TEST_USERS", "50"), ("TEST_DURATION", "2s")],
    )
    .unwrap();
    let users = s.users.unwrap();
    assert_eq!((users.value, users.from), (5, Origin::Flag("--users")));
    let d = s.duration.unwrap();
    assert_eq!(
        (d.value.secs(), d.from),
        (2.0, Origin::Env("TEST_DURATION"))
    );
}

#[test]
fn bad_values_name_their_flag_or_variable() {
    for (vars, needle) in [
        (
            vec![("TEST_USERS", "many")],
            "TEST_USERS: \"many\" is not a whole number",
        ),
        (
            vec![("TEST_USERS", "0")],
            "TEST_USERS: needs at least one user",
        ),
        (
            vec![("TEST_DURATION", "0s")],
            "TEST_DURATION: must be more than 0",
        ),
        (vec![("TARGET_HOST", "ftp://x")], "TARGET_HOST:"),
        (vec![("PERFGATE_SEGMENT", "3/2")], "PERFGATE_SEGMENT:"),
        (
            vec![("MAX_P99_LATENCY_MS", "fast")],
            "MAX_P99_LATENCY_MS=\"fast\" is not a number",
        ),
        (vec![("MAX_FAIL_RATE", "-1")], "must not be negative"),
    ] {
        let e = resolve(LoadArgs::default(), &vars).unwrap_err();
        assert!(e.contains(needle), "{vars:?}: {e}");
    }
}

#[test]
fn limits_are_in_the_budget_unit_and_ci_context_is_read() {
    let s = resolve(
        LoadArgs::default(),
        &[
            ("MAX_FAIL_RATE", "2.5"),
            ("MAX_P99_LATENCY_MS", "0.01"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_HEAD_REF", ""),
            ("GITHUB_REF_NAME", "main"),
            ("NO_COLOR", "1"),
        ],
    )
    .unwrap();
    assert_eq!(s.limits[0].key, "p99");
    assert!((s.limits[0].value - 0.01).abs() < 1e-12);
    assert!((s.limits[1].value - 0.025).abs() < 1e-12);
    assert!(s.ci.github_actions && !s.color);
    assert_eq!(s.ci.branch.as_deref(), Some("main"));
}

#[test]
fn a_segment_can_be_named_from_0_as_a_kubernetes_indexed_job_does() {
    let seg = |load: LoadArgs, vars: &[(&str, &str)]| {
        resolve(load, vars).map(|s| s.segment.map(|s| (s.value.to_string(), s.from)))
    };
    let k8s = [("JOB_COMPLETION_INDEX", "0"), ("PERFGATE_SEGMENTS", "3")];
    assert_eq!(
        seg(LoadArgs::default(), &k8s).unwrap(),
        Some(("1/3".into(), Origin::Env("JOB_COMPLETION_INDEX")))
    );
    // An Indexed Job's index alone splits nothing.
    assert_eq!(seg(LoadArgs::default(), &k8s[..1]).unwrap(), None);
    let flags = LoadArgs {
        segment_index: Some(2),
        segments: Some(3),
        ..Default::default()
    };
    assert_eq!(
        seg(flags, &[("PERFGATE_SEGMENT", "1/3")]).unwrap(),
        Some(("3/3".into(), Origin::Flag("--segment-index")))
    );
    assert_eq!(
        seg(
            LoadArgs::default(),
            &[("PERFGATE_SEGMENT", "1/3"), k8s[0], k8s[1]]
        )
        .unwrap(),
        Some(("1/3".into(), Origin::Env("PERFGATE_SEGMENT")))
    );
    for (load, vars, words) in [
        (
            LoadArgs {
                segment_index: Some(3),
                segments: Some(3),
                ..Default::default()
            },
            vec![],
            "--segment-index: segment index 3 of 3",
        ),
        (
            LoadArgs {
                segment_index: Some(0),
                ..Default::default()
            },
            vec![],
            "needs the number of segments",
        ),
        (
            LoadArgs {
                segments: Some(2),
                ..Default::default()
            },
            vec![],
            "--segments needs --segment-index",
        ),
        (
            LoadArgs::default(),
            vec![("PERFGATE_SEGMENT_INDEX", "x"), ("PERFGATE_SEGMENTS", "2")],
            "is not a whole number",
        ),
    ] {
        let e = seg(load, &vars).unwrap_err();
        assert!(e.contains(words), "{e}");
    }
}

#[test]
fn history_alone_means_the_variable_then_the_default_file() {
    let out = |h: Option<&str>| OutputArgs {
        history: h.map(str::to_string),
        ..Default::default()
    };
    let env = Env::of([("PERFGATE_HISTORY", "h.db")]);
    let s = Settings::resolve(&LoadArgs::default(), &out(Some("")), &env).unwrap();
    assert_eq!(s.history.unwrap().value, "h.db");
    let s = Settings::resolve(&LoadArgs::default(), &out(Some("")), &Env::default()).unwrap();
    assert_eq!(s.history_store(), DEFAULT_HISTORY);
    let s = Settings::resolve(&LoadArgs::default(), &out(None), &Env::default()).unwrap();
    assert!(s.history.is_none());
}

#[test]
fn a_saved_results_environment_comes_after_the_flag_but_before_the_variable() {
    let env = Env::of([("PERFGATE_ENV", "staging")]);
    let s = Settings::resolve(&LoadArgs::default(), &OutputArgs::default(), &env).unwrap();
    assert_eq!(
        s.environment_or(Some("production")).as_deref(),
        Some("production")
    );
    assert_eq!(s.environment_or(None).as_deref(), Some("staging"));
    let flag = OutputArgs {
        environment: Some("development".into()),
        ..Default::default()
    };
    let s = Settings::resolve(&LoadArgs::default(), &flag, &env).unwrap();
    assert_eq!(
        s.environment_or(Some("production")).as_deref(),
        Some("development")
    );
}

#[test]
fn a_run_is_named_by_its_flag_its_start_time_or_its_ci_run() {
    let id = |load: LoadArgs, vars: &[(&str, &str)]| resolve(load, vars).unwrap().run_id;
    let ci = [("GITHUB_RUN_ID", "77"), ("GITHUB_RUN_ATTEMPT", "2")];
    let given = LoadArgs {
        run_id: Some("nightly-5".into()),
        start_at: Some("2026-12-01T10:00:00Z".into()),
        ..Default::default()
    };
    assert_eq!(id(given, &ci).as_deref(), Some("nightly-5"));
    let start = LoadArgs {
        start_at: Some("2026-12-01T10:00:00Z".into()),
        ..Default::default()
    };
    assert_eq!(
        id(start, &ci).as_deref(),
        Some("start 2026-12-01T10:00:00Z")
    );
    assert_eq!(id(LoadArgs::default(), &ci).as_deref(), Some("github 77.2"));
    assert_eq!(
        id(LoadArgs::default(), &[("CI_PIPELINE_ID", "9")]).as_deref(),
        Some("gitlab 9")
    );
    assert_eq!(id(LoadArgs::default(), &[]), None);
    let err = resolve(LoadArgs::default(), &[("PERFGATE_RUN_ID", "a\nb")]).unwrap_err();
    assert!(err.contains("PERFGATE_RUN_ID"), "{err}");
}
