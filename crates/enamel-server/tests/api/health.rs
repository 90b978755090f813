use enamel_crypto::LocalKeyFile;
use enamel_server::Application;
use enamel_store::{ConnectOptions, Store};
use enamel_testkit::BACKENDS;

use crate::helpers::{spawn_app, spawn_app_on, test_settings};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
}

#[tokio::test]
async fn readyz_reports_the_backend_and_current_migrations_on_both_backends() {
    for backend in BACKENDS {
        let Some(app) = spawn_app_on(backend).await else {
            continue;
        };
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), 200, "{backend:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["database"], backend.name());
        assert_eq!(
            body["migrations"]["applied"],
            body["migrations"]["expected"]
        );
    }
}

#[tokio::test]
async fn readyz_is_503_while_migrations_are_pending() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/unmigrated.db", dir.path().display());
    let keys = std::sync::Arc::new(LocalKeyFile::open_or_create(&dir.path().join("k")).unwrap());
    let store = Store::connect(&url.into(), &ConnectOptions::default(), keys)
        .await
        .unwrap();
    let app = Application::build(&test_settings(), store).await.unwrap();
    let base = app.url();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let response = reqwest::get(format!("{base}/readyz")).await.unwrap();

    assert_eq!(response.status(), 503);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "unavailable");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("migrations are pending")
    );
}
