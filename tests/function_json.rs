//! Azure reads `<FunctionName>/function.json` and `host.json`; both must agree with the
//! registry and the handler. The committed files under infra/azure are checked here, and the
//! check itself is shown to catch a disagreement.

mod common;

use common::{TempDir, repo_root, run, run_ok};
use serde_json::Value;
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn committed_function_json_files_agree_with_the_registry() {
    let dir = TempDir::new("fj");
    let committed = repo_root().join("infra/azure");
    run_ok(
        dir.path(),
        &["function-json", "--check", committed.to_str().unwrap()],
        &[],
    );

    // Regenerating them gives the committed bytes.
    let fresh = dir.path().join("fresh");
    let out = run(
        dir.path(),
        &["function-json", "--out", fresh.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    for name in [
        "collect-signins",
        "collect-audit",
        "collect-provisioning",
        "health",
    ] {
        let a = std::fs::read_to_string(committed.join(name).join("function.json")).unwrap();
        let b = std::fs::read_to_string(fresh.join(name).join("function.json")).unwrap();
        assert_eq!(a, b, "{name}/function.json is stale");
    }
}

#[test]
fn a_disagreement_is_caught_and_named() {
    let dir = TempDir::new("fj-bad");
    let copy = dir.path().join("app");
    copy_dir(&repo_root().join("infra/azure"), &copy);

    let path = copy.join("collect-audit/function.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("0 */10 * * * *", "0 */30 * * * *");
    std::fs::write(&path, text).unwrap();
    std::fs::remove_dir_all(copy.join("health")).unwrap();
    std::fs::create_dir_all(copy.join("old-function")).unwrap();
    std::fs::write(copy.join("old-function/function.json"), "{}").unwrap();

    let out = run(
        dir.path(),
        &["function-json", "--check", copy.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("collect-audit/function.json: differs from the registry"),
        "{stderr}"
    );
    assert!(
        stderr.contains("health/function.json: cannot read"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the registry has no function \"old-function\""),
        "{stderr}"
    );
}

#[test]
fn host_json_starts_this_handler_with_forwarded_http() {
    let host: Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("host.json")).unwrap())
            .unwrap();
    assert_eq!(host["version"], "2.0");
    let handler = &host["customHandler"];
    assert_eq!(
        handler["description"]["defaultExecutablePath"],
        "entra-monitor"
    );
    assert_eq!(
        handler["description"]["arguments"],
        serde_json::json!(["azure"])
    );
    assert_eq!(handler["enableForwardingHttpRequest"], true);
    assert_eq!(host["extensions"]["http"]["routePrefix"], "api");
}
