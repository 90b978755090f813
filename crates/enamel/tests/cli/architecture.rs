//! The layers of `shared/DESIGN.md`, checked: arrows between Enamel's crates point
//! inward only. Reads the workspace's own manifests through `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};

/// Each crate and the Enamel crates it may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("enamel-domain", &[]),
    ("enamel-config", &["enamel-domain"]),
    ("enamel-crypto", &["enamel-domain"]),
    ("enamel-audit", &["enamel-domain", "enamel-crypto"]),
    ("enamel-policy", &["enamel-domain"]),
    (
        "enamel-store",
        &[
            "enamel-domain",
            "enamel-crypto",
            "enamel-audit",
            "enamel-policy",
        ],
    ),
    ("enamel-integrations", &["enamel-domain", "enamel-crypto"]),
    (
        "enamel-agents",
        &[
            "enamel-domain",
            "enamel-crypto",
            "enamel-audit",
            "enamel-policy",
            "enamel-config",
            "enamel-store",
            "enamel-integrations",
        ],
    ),
    // The server queues the agents' jobs ("sync now") and shares the PMS record
    // mapping with the Open Dental sync; the agents never depend on the server.
    (
        "enamel-server",
        &[
            "enamel-domain",
            "enamel-crypto",
            "enamel-audit",
            "enamel-policy",
            "enamel-config",
            "enamel-store",
            "enamel-integrations",
            "enamel-agents",
        ],
    ),
    (
        "enamel-demo",
        &["enamel-domain", "enamel-crypto", "enamel-store"],
    ),
    // The test kit's `server` feature serves the demo for story tests (dev only).
    (
        "enamel-testkit",
        &[
            "enamel-domain",
            "enamel-crypto",
            "enamel-store",
            "enamel-server",
            "enamel-agents",
            "enamel-demo",
        ],
    ),
];

/// Dependencies not allowed even for a crate's own tests: an adapter's tests meet
/// the adapter alone, with data handed to it (the store's use of an adapter is the
/// binary's to test).
const NEVER: &[(&str, &str)] = &[("enamel-integrations", "enamel-store")];

#[test]
fn crates_depend_only_inward() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(name, deps)| (*name, deps.iter().copied().collect()))
        .collect();
    let mut wrong = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        if name == "enamel" {
            continue; // the binary assembles everything
        }
        let Some(may) = allowed.get(name) else {
            wrong.push(format!("{name}: a crate with no place in the layers"));
            continue;
        };
        for dependency in package["dependencies"].as_array().unwrap() {
            let on = dependency["name"].as_str().unwrap();
            let normal = dependency["kind"].is_null();
            if normal && on.starts_with("enamel") && !may.contains(on) {
                wrong.push(format!("{name} depends on {on}"));
            }
            if NEVER.contains(&(name, on)) {
                wrong.push(format!(
                    "{name} depends on {on}, even if only for its tests"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "arrows that point outward: {wrong:#?}");
}
