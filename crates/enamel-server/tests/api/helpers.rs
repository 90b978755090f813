//! `spawn_app()` and the typed helpers tests share.

use enamel_server::{Application, Settings};
use enamel_store::Backend;
use enamel_testkit::{TestDb, fresh_database};
use tokio::sync::oneshot;

/// A running application on a fresh database, stopped when dropped.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub _db: TestDb,
    _stop: oneshot::Sender<()>,
}

/// Settings for a test: loopback, any free port, defaults otherwise.
pub fn test_settings() -> Settings {
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".parse().unwrap();
    settings
}

/// An application on a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Sqlite)
        .await
        .expect("SQLite is always available")
}

/// An application on a fresh database of `backend`, or `None` if that suite is skipped.
pub async fn spawn_app_on(backend: Backend) -> Option<TestApp> {
    let db = fresh_database(backend).await?;
    let app = Application::build(&test_settings(), db.store.clone()).expect("the app builds");
    let url = app.url();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().build().unwrap();
    Some(TestApp {
        url,
        client,
        _db: db,
        _stop: stop,
    })
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("the request is sent")
    }

    pub async fn problem(&self, response: reqwest::Response) -> serde_json::Value {
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{}",
            self.url
        );
        response.json().await.unwrap()
    }
}
