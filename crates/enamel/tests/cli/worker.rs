//! Workers on one database: a job whose worker is killed (`kill -9`) while it holds
//! the job is run again by another worker once the lease runs out, and the message
//! it carried is sent exactly once. On both backends, as real processes.

use std::io::Write as _;
use std::time::Duration;

use enamel_store::{Channel, DELIVER_JOB, MessageText, NewMessage};

use crate::audit::on_database;
use crate::helpers::{succeed, text};

/// An SMTP server that accepts connections and never answers: a send through it
/// hangs, holding its job, until the worker is killed.
fn silent_smtp() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

fn config(dir: &std::path::Path, name: &str, notifications: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    write!(
        file,
        "[jobs]\nlease_seconds = 2\n\n[notifications]\npoll_millis = 100\n{notifications}"
    )
    .unwrap();
    path
}

/// The deliver job of `key` once it is in `state`, polling `tries` times 50 ms apart.
async fn state_of(
    store: &enamel_store::Store,
    key: &str,
    state: &str,
    tries: u32,
) -> Option<enamel_store::JobStatus> {
    for _ in 0..tries {
        let job = store.jobs().find(DELIVER_JOB, key).await.unwrap().unwrap();
        if job.state == state {
            return Some(job);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[allow(
    clippy::too_many_lines,
    reason = "one story, two processes: arrange, kill, take over, assert"
)]
async fn a_killed_workers_job_is_taken_over_after_its_lease(backend: enamel_store::Backend) {
    let Some(db) = enamel_testkit::fresh_database(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_db = on_database(&db, dir.path());
    // The network alone: the demo's referrals would queue notices ahead of this job.
    succeed(&mut with_db(&["demo", "seed", "--network-only"]));
    let practice = enamel_demo::DemoNetwork::generate(enamel_demo::DEFAULT_SEED).practices[0]
        .practice
        .id;
    // The processes' own keys (the data directory's key file) seal the message.
    let keys =
        enamel_crypto::LocalKeyFile::open_or_create(&dir.path().join("keys/enamel.keys")).unwrap();
    let store = enamel_store::Store::connect(
        &db.url,
        &enamel_store::ConnectOptions::default(),
        std::sync::Arc::new(keys),
    )
    .await
    .unwrap();
    let message = store
        .queue_message(
            NewMessage {
                practice,
                channel: Channel::Email,
                patient: None,
                referral: None,
                kind: "test_notice",
                recipient: "front-desk@bluebonnet.example.test".into(),
                text: MessageText {
                    subject: "A notice".into(),
                    body: "Nothing clinical.".into(),
                },
                idempotency_key: "kill-9-test".into(),
            },
            store.now(),
        )
        .await
        .unwrap()
        .expect("queued");
    let key = message.simple().to_string();

    // Worker A takes the job and hangs in the silent SMTP server's greeting.
    let silent = config(
        dir.path(),
        "a.toml",
        &format!(
            "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_security = \"none\"\n\
             smtp_from = \"notices@enamel.example.test\"\n",
            silent_smtp()
        ),
    );
    let mut a = with_db(&["worker"])
        .env("ENAMEL_CONFIG", &silent)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let held = state_of(&db.store, &key, "running", 200)
        .await
        .expect("worker A claimed the job");
    assert_eq!(held.attempts, 1);
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &a.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    a.wait().unwrap();

    // Worker B, with a working channel, takes it over once A's lease has run out.
    let mailbox = dir.path().join("mailbox");
    let working = config(
        dir.path(),
        "b.toml",
        &format!("mailbox_dir = {:?}\n", mailbox.display().to_string()),
    );
    let b = with_db(&["worker"])
        .env("ENAMEL_CONFIG", &working)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let done = state_of(&db.store, &key, "done", 300).await;
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &b.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let stopped = b.wait_with_output().unwrap();
    let done = done.unwrap_or_else(|| panic!("worker B ran the job: {}", text(&stopped.stderr)));
    assert_eq!(done.attempts, 2, "one run by A (killed), one by B");
    let sent: Vec<_> = std::fs::read_dir(&mailbox)
        .unwrap()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().contains(&key))
        .collect();
    assert_eq!(sent.len(), 1, "the message went out once");
    let status = store
        .outbox()
        .of_practice(practice, 500)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.id == message)
        .unwrap();
    assert_eq!((status.status.as_str(), status.attempts), ("sent", 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_is_taken_over_after_its_lease_on_sqlite() {
    a_killed_workers_job_is_taken_over_after_its_lease(enamel_store::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_is_taken_over_after_its_lease_on_postgres() {
    a_killed_workers_job_is_taken_over_after_its_lease(enamel_store::Backend::Postgres).await;
}
