//! `spawn_app()` and the typed helpers tests share.

use enamel_server::{Application, Settings};
use enamel_store::Backend;
pub use enamel_testkit::demo::{start_jobs, test_settings};
use enamel_testkit::{TestDb, fresh_database};
use tokio::sync::oneshot;

/// A running application on a fresh database, stopped when dropped.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub data_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    stop_jobs: Option<oneshot::Sender<()>>,
    jobs: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// An application on a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Sqlite)
        .await
        .expect("SQLite is always available")
}

/// An application on a fresh database of `backend`, or `None` if that suite is skipped.
pub async fn spawn_app_on(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// An application with settings adjusted by `adjust`, in a data directory of its own.
pub async fn spawn_app_with(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let db = fresh_database(backend).await?;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings();
    data_dir.path().clone_into(&mut settings.data_dir);
    adjust(&mut settings);
    let clock: std::sync::Arc<dyn enamel_server::clock::Clock> =
        std::sync::Arc::new(enamel_server::clock::SystemClock);
    let app = Application::build_with_clock(&settings, db.store.clone(), clock.clone())
        .await
        .expect("the app builds");
    let url = app.url();
    let (stop_jobs, jobs) = start_jobs(&settings, db.store.clone(), clock, &url);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().build().unwrap();
    Some(TestApp {
        url,
        client,
        db,
        data_dir,
        stop: Some(stop),
        server: Some(server),
        stop_jobs: Some(stop_jobs),
        jobs: Some(jobs),
    })
}

impl TestApp {
    /// Stops the server as SIGTERM would and waits for it to finish.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        // The jobs stop after the last request, as in `enamel serve`.
        if let Some(stop) = self.stop_jobs.take() {
            let _ = stop.send(());
        }
        if let Some(jobs) = self.jobs.take() {
            jobs.await.unwrap().unwrap();
        }
    }

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
