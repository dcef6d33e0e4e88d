//! The architecture's invariants (README, "Architecture"), read from the sources: the
//! top-level modules form a DAG, and the layers below the application never name the
//! command line, the application or the facade for users written in Rust.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Which top-level modules each one names (`crate::NAME`), comments left out.
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut text = String::new();
        read_all(&path, &mut text);
        modules.insert(name, text);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(m, text)| {
            let named = crate_paths(text)
                .into_iter()
                .filter(|n| n != m && names.contains(n))
                .collect();
            (m.clone(), named)
        })
        .collect()
}

/// A file's text, or every `.rs` file's under a folder, comments left out.
fn read_all(path: &Path, out: &mut String) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            read_all(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let code = line.split("//").next().unwrap_or("");
            out.push_str(code);
            out.push('\n');
        }
    }
}

/// The first names after `crate::`, also inside `crate::{a, b::c}`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(ident));
        } else {
            out.insert(ident(rest));
        }
    }
    out
}

/// A cycle through `m`, if there is one.
fn cycle(
    edges: &BTreeMap<String, BTreeSet<String>>,
    m: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|p| p == m) {
        let mut c = path[at..].to_vec();
        c.push(m.to_string());
        return Some(c);
    }
    if done.contains(m) {
        return None;
    }
    path.push(m.to_string());
    for next in edges.get(m).into_iter().flatten() {
        if let Some(c) = cycle(edges, next, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(m.to_string());
    None
}

#[test]
fn top_level_modules_form_no_cycle() {
    let edges = edges();
    assert!(edges.len() > 10, "read the modules: {:?}", edges.keys());
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        if let Some(c) = cycle(&edges, m, &mut Vec::new(), &mut done) {
            panic!(
                "the modules import each other in a circle: {}",
                c.join(" → ")
            );
        }
    }
}

#[test]
fn layers_point_one_way() {
    let edges = edges();
    // Only the command line (`cli`), the commands (`app`) and the Rust-user facade
    // (`code`) may name these.
    let top = ["cli", "app", "code"];
    // What each lower layer must not name, besides `top`.
    let below: [(&str, &[&str]); 6] = [
        (
            "config",
            &["engine", "metrics", "gate", "report", "export", "history"],
        ),
        (
            "metrics",
            &["engine", "gate", "report", "export", "history"],
        ),
        ("engine", &["gate", "report", "export", "history"]),
        ("gate", &["engine", "report", "export", "history"]),
        ("report", &["engine", "export"]),
        ("export", &["engine", "gate", "report"]),
    ];
    let mut wrong = Vec::new();
    for (m, named) in &edges {
        for n in named {
            let forbidden = match below.iter().find(|(b, _)| b == m) {
                Some((_, also)) => top.contains(&n.as_str()) || also.contains(&n.as_str()),
                None => !top.contains(&m.as_str()) && top.contains(&n.as_str()),
            };
            if forbidden {
                wrong.push(format!("{m} names {n}"));
            }
        }
    }
    assert!(wrong.is_empty(), "layers crossed: {}", wrong.join("; "));
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    let found = crate_paths("use crate::{app, config::Env};\nlet x = crate::engine::run();\n");
    let want: BTreeSet<String> = ["app", "config", "engine"].map(String::from).into();
    assert_eq!(found, want);
}
