use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The `enamel` binary with a clean environment (no ENAMEL_* from the caller).
pub fn enamel(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_enamel"));
    command
        .env_clear()
        .env("ENAMEL_DATA_DIR", data_dir)
        .env("ENAMEL_LOG_FORMAT", "json");
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("enamel runs")
}

/// Runs `command` and requires it to succeed, showing what it printed if it did not.
pub fn succeed(command: &mut Command) -> Output {
    let output = run(command);
    assert!(
        output.status.success(),
        "enamel {:?} failed ({}):\n{}\n{}",
        command.get_args().collect::<Vec<_>>(),
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `enamel serve`, its output collected in the background.
pub struct Server {
    child: Child,
    pub url: String,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl Server {
    /// Starts `command` and waits for the line that names its URL.
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(out).lines() {
                let line = line.unwrap_or_default();
                if let Some(url) = line.strip_prefix("Enamel is running at ") {
                    let _ = tx.send(url.to_owned());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err.read_to_string(&mut all);
            all
        });
        let url = rx
            .recv_timeout(Duration::from_mins(1))
            .expect("the server prints its URL");
        Self {
            child,
            url,
            stdout,
            stderr,
        }
    }

    /// Sends SIGTERM and returns whether it exited cleanly, with stdout and stderr.
    pub fn terminate(mut self) -> (bool, String, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        (
            status.success(),
            self.stdout.join().unwrap(),
            self.stderr.join().unwrap(),
        )
    }
}
