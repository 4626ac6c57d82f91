//! The code's shape, checked: in `shared/src` and `functions/src` no file over 800 lines, no
//! function over 120, and no import circle between modules (a module and its own submodules may
//! use each other; siblings and cousins may not both use the other, directly or round a loop).
//! docs/architecture.md says why: each extension point stays one place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 120;

fn roots() -> Vec<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    vec![repo.join("shared/src"), repo.join("functions/src")]
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module path below its crate root (`state::sqlite` for `state/sqlite/mod.rs`).
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The name of the function a line declares, if it declares one.
fn declared_fn(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let name = rest.strip_prefix("fn ")?;
    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&name[..end])
}

/// (function, lines) of each function longer than the limit: from its `fn` line to the `}` at
/// its indentation.
fn long_functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = declared_fn(line) else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let Some(open) = (i..lines.len()).find(|&j| {
            let l = lines[j].trim_end();
            l.ends_with('{') || l.ends_with(';')
        }) else {
            continue;
        };
        if lines[open].trim_end().ends_with(';') {
            continue;
        }
        let close = (open + 1..lines.len()).find(|&j| {
            let l = lines[j];
            l.len() - l.trim_start().len() == indent && l.trim_start().starts_with('}')
        });
        if let Some(close) = close
            && close - i + 1 > MAX_FN_LINES
        {
            out.push((name.to_string(), close - i + 1));
        }
    }
    out
}

/// The modules a file refers to (`crate::a::b`, `super::c`), as the longest known module path.
fn references(
    module: &[String],
    text: &str,
    known: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let code = code.join("\n");
    for (marker, base) in [
        ("crate::", Vec::new()),
        ("super::", module[..module.len().saturating_sub(1)].to_vec()),
    ] {
        for (at, _) in code.match_indices(marker) {
            if code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: Vec<String> = code[at + marker.len()..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect();
            let mut full = base.clone();
            full.extend(path);
            // `use super::{a, b}` names siblings inside braces.
            let braced = code[at + marker.len()..].starts_with('{');
            if braced {
                let inner = &code[at + marker.len() + 1..];
                let inner = &inner[..inner.find('}').unwrap_or(0)];
                for item in inner.split(',') {
                    let mut one = base.clone();
                    one.extend(item.trim().split("::").map(|s| s.trim().to_string()));
                    if let Some(m) = longest_known(&one, known) {
                        out.insert(m);
                    }
                }
            }
            if let Some(m) = longest_known(&full, known) {
                out.insert(m);
            }
        }
    }
    out
}

fn longest_known(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains(p))
}

/// The import circles among a crate's modules (strongly connected groups of more than one).
fn circles(root: &Path, files: &[PathBuf]) -> Vec<Vec<String>> {
    let modules: BTreeMap<Vec<String>, &PathBuf> = files
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .map(|f| (module_of(root, f), f))
        .collect();
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests inside a file may reach anywhere.
        let text = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or("");
        let related = |other: &Vec<String>| other.starts_with(module) || module.starts_with(other);
        edges.insert(
            module.clone(),
            references(module, text, &known)
                .into_iter()
                .filter(|m| !related(m))
                .collect(),
        );
    }
    // Two modules are in a circle when each reaches the other.
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for n in edges.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&Vec<String>, BTreeSet<Vec<String>>> =
        edges.keys().map(|m| (m, reach(m))).collect();
    let mut out = Vec::new();
    for (m, r) in &reaches {
        for n in r {
            if *m < n && reaches.get(n).is_some_and(|back| back.contains(*m)) {
                out.push(vec![m.join("::"), n.join("::")]);
            }
        }
    }
    out
}

#[test]
fn files_and_functions_stay_small_and_modules_form_no_circle() {
    let mut problems = Vec::new();
    for root in roots() {
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        assert!(files.len() > 10, "{} has the sources", root.display());
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let n = text.lines().count();
            if n > MAX_FILE_LINES {
                problems.push(format!("{}: {n} lines", file.display()));
            }
            for (name, n) in long_functions(&text) {
                problems.push(format!("{}: fn {name} is {n} lines", file.display()));
            }
        }
        for pair in circles(&root, &files) {
            problems.push(format!(
                "{}: {} and {} import each other",
                root.display(),
                pair[0],
                pair[1]
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checks_see_what_they_look_for() {
    let long = format!("pub fn big() {{\n{}}}\n", "    x();\n".repeat(MAX_FN_LINES));
    assert_eq!(long_functions(&long), vec![("big".to_string(), 122)]);
    assert!(long_functions("fn small() {\n}\n").is_empty());
    let known: BTreeSet<Vec<String>> = [vec!["a".into()], vec!["b".into(), "c".into()]]
        .into_iter()
        .collect();
    let refs = references(
        &["b".to_string(), "d".to_string()],
        "use crate::a::X;\nuse super::{c, e};\n// crate::z\n",
        &known,
    );
    assert_eq!(
        refs,
        [
            vec!["a".to_string()],
            vec!["b".to_string(), "c".to_string()]
        ]
        .into_iter()
        .collect()
    );
}
