//! Helpers shared by the adapter suites: local vendor servers and tool checks.

#![allow(clippy::print_stderr)]

use std::net::SocketAddr;

/// Whether `python3` can import `module`. When it cannot, the suite is skipped with a
/// notice, or fails under `ENAMEL_TEST_REQUIRE_ALL=1` (as in CI).
pub fn python_module(module: &str, suite: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        let why = format!("python3 cannot import {module}");
        assert!(
            std::env::var(enamel_testkit::REQUIRE_ALL_VAR).as_deref() != Ok("1"),
            "the {suite} suite is required ({}=1) but {why}",
            enamel_testkit::REQUIRE_ALL_VAR
        );
        eprintln!("note: a {suite} test was skipped because {why}");
    }
    ok
}

/// Serves `app` on a loopback port for the rest of the test; returns its base URL.
pub async fn serve(app: axum::Router) -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url::Url::parse(&format!("http://{addr}/")).unwrap()
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
