use enamel_store::Backend;
use enamel_testkit::{BACKENDS, fresh_database};
use secrecy::ExposeSecret as _;

use crate::helpers::{enamel, run, text};

#[tokio::test]
async fn migrate_brings_either_backend_to_the_current_schema() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let mut command = enamel(dir.path());
        command.arg("migrate");
        // Keep the test database alive while the command runs against it.
        let _db;
        if backend == Backend::Postgres {
            let Some(db) = fresh_database(backend).await else {
                continue;
            };
            command.env("ENAMEL_DATABASE_URL", db.url.expose_secret());
            _db = db;
        }
        let output = run(&mut command);
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{backend:?}: {}",
            text(&output.stderr)
        );
        assert!(
            stdout.contains(&format!("{} database is current", backend.name())),
            "{stdout}"
        );
    }
}
