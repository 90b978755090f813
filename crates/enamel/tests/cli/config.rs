use crate::helpers::{enamel, run, text};

#[test]
fn config_check_prints_the_effective_configuration_with_the_password_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(enamel(dir.path())
        .args(["config", "check"])
        .env(
            "ENAMEL_DATABASE_URL",
            "postgres://enamel:hunter2@db.internal/enamel",
        )
        .env("ENAMEL_SERVER_SHUTDOWN_GRACE_SECONDS", "12")
        .env("ENAMEL_NOTIFICATIONS_TWILIO_AUTH_TOKEN", "tw-secret-0123")
        .env("ENAMEL_REFERRALS_ASSISTANT_API_KEY", "sk-secret-4567"));
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("postgres://enamel:REDACTED@db.internal/enamel"),
        "{stdout}"
    );
    assert!(stdout.contains("shutdown_grace_seconds = 12"), "{stdout}");
    assert!(!stdout.contains("hunter2") && !text(&output.stderr).contains("hunter2"));
    assert!(
        stdout.contains("twilio_auth_token = \"REDACTED\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("assistant_api_key = \"REDACTED\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("srfax_access_pwd = \"(unset)\""),
        "{stdout}"
    );
    for secret in ["tw-secret-0123", "sk-secret-4567"] {
        assert!(!stdout.contains(secret) && !text(&output.stderr).contains(secret));
    }
}

/// `enamel config check` with `var` set to `value`, required to fail; its stderr.
fn refused_check(var: &str, value: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = run(enamel(dir.path()).args(["config", "check"]).env(var, value));
    assert!(!output.status.success());
    text(&output.stderr)
}

#[test]
fn config_check_fails_on_a_configuration_that_serve_would_refuse() {
    assert!(refused_check("ENAMEL_SERVER_BIND", "0.0.0.0:8443").contains("behind_tls_proxy"));
}

#[test]
fn a_variable_that_names_no_setting_stops_the_command() {
    let stderr = refused_check("ENAMEL_REFERRALS_S3_ENDPOINT", "http://127.0.0.1:9000");
    assert!(
        stderr.contains("ENAMEL_REFERRALS_S3_ENDPOINT is not a setting's variable"),
        "{stderr}"
    );
    assert!(!stderr.contains("9000"), "the value is not shown: {stderr}");
}

#[test]
fn a_configuration_file_is_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("enamel.toml");
    std::fs::write(
        &file,
        "[server]\nmax_body_bytes = 1024\nshutdown_grace_seconds = 3\n",
    )
    .unwrap();
    let output = run(enamel(dir.path())
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env("ENAMEL_SERVER_SHUTDOWN_GRACE_SECONDS", "9"));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("max_body_bytes = 1024"), "{stdout}");
    assert!(stdout.contains("shutdown_grace_seconds = 9"), "{stdout}");
}

/// `enamel compliance minimum-necessary` prints what docs/minimum-necessary.md
/// holds between its markers: the documentation cannot drift from the views.
#[test]
fn the_minimum_necessary_tables_match_the_documentation() {
    let dir = tempfile::tempdir().unwrap();
    let printed = crate::helpers::succeed(
        crate::helpers::enamel(dir.path()).args(["compliance", "minimum-necessary"]),
    );
    let printed = crate::helpers::text(&printed.stdout);
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/minimum-necessary.md"
    ))
    .unwrap();
    let start = doc.find("<!-- generated:start -->\n").unwrap() + 25;
    let end = doc.find("<!-- generated:end -->").unwrap();
    assert_eq!(
        &doc[start..end],
        printed,
        "regenerate with: enamel compliance minimum-necessary"
    );
    assert!(printed.contains("### Insurance Verification Workflow"));
}
