//! Helpers shared by the adapter suites: local vendor servers and tool checks.

#![allow(clippy::print_stderr)]

use std::net::SocketAddr;

pub use enamel_testkit::smtp::python_module;

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
