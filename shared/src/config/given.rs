//! Reading one setting: from its environment variable (which wins) or the file's key, named as
//! the user wrote it in any problem. A leaf: the sections of `config` and each destination's
//! own `config.rs` read their settings with these.

use std::collections::BTreeMap;

/// A setting from the environment (named by its variable) or the file (named by its key).
pub(crate) fn pick(
    env: &BTreeMap<String, String>,
    var: &str,
    file: Option<String>,
    key: &str,
) -> Option<(String, String)> {
    env.get(var)
        .map(|v| (var.to_string(), v.trim().to_string()))
        .or(file.map(|v| (key.to_string(), v.trim().to_string())))
        .filter(|(_, v)| !v.is_empty())
}

/// A secret read from the variable the file names (`..._env`), or the variable itself.
pub(crate) fn secret(
    env: &BTreeMap<String, String>,
    var: &str,
    file_env: Option<String>,
    key: &str,
    problem: &mut impl FnMut(&str, String),
) -> Option<(String, String)> {
    if let Some(v) = env.get(var) {
        return Some((var.to_string(), v.clone()));
    }
    let named = file_env?;
    match env.get(&named) {
        Some(v) => Some((named, v.clone())),
        None => {
            problem(
                key,
                format!("names the environment variable {named}, which is not set"),
            );
            None
        }
    }
}

/// A base URL: http(s), no spaces; the trailing `/` dropped.
pub(crate) fn url(
    setting: &str,
    text: &str,
    example: &str,
    problem: &mut impl FnMut(&str, String),
) -> String {
    let v = text.trim_end_matches('/').to_string();
    if !(v.starts_with("https://") || v.starts_with("http://")) || v.contains(char::is_whitespace) {
        problem(
            setting,
            format!("\"{text}\" is not a URL; expected e.g. {example}"),
        );
    }
    v
}
