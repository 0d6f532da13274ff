//! TensorBoard's own server on 127.0.0.1, for the tests that ask its HTTP
//! data API (what the web frontend fetches) what it read.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::http;

/// How long the server may take to start and load the logdir.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// A running TensorBoard, killed when dropped: a failed assertion must not
/// leave a server behind. (Its data server child exits by itself when
/// TensorBoard's end of its stdin closes.)
pub struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    pub fn start(python: &Path, logdir: &Path, load_fast: bool, log: PathBuf) -> Server {
        Server::start_with_env(python, logdir, load_fast, log, &[])
    }

    /// [`Server::start`] with `env` added to TensorBoard's environment (an
    /// object store's endpoint and credentials).
    pub fn start_with_env(
        python: &Path,
        logdir: &Path,
        load_fast: bool,
        log: PathBuf,
        env: &[(&str, String)],
    ) -> Server {
        let port = free_port();
        let out = File::create(&log).unwrap();
        let child = Command::new(python)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["-m", "tensorboard.main", "--logdir"])
            .arg(logdir)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg(format!("--load_fast={load_fast}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting TensorBoard with {}: {e}", python.display()));
        Server { child, port, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Json {
        self.json(path, http::get(self.port, path))
    }

    pub fn post(&self, path: &str, body: &Json) -> Json {
        self.json(path, http::post_json(self.port, path, &body.to_string()))
    }

    pub fn get_text(&self, path: &str) -> String {
        let response = http::get(self.port, path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status, 200, "{path}: {}", response.body);
        response.body
    }

    fn json(&self, path: &str, response: Result<http::Response, String>) -> Json {
        let response = response.unwrap_or_else(|e| panic!("{e}\nserver log:\n{}", self.log()));
        assert_eq!(response.status, 200, "{path}: {}", response.body);
        serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", response.body))
    }

    /// Waits until the server answers and `loaded` says its scalar tags
    /// (run -> tag -> ...) are all there, failing if it exits or takes
    /// longer than [`READY_WITHIN`].
    pub fn wait_until_loaded(&mut self, loaded: impl Fn(&Json) -> bool) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("TensorBoard exited ({status}):\n{}", self.log());
            }
            if let Ok(r) = http::get(self.port, "/data/plugin/scalars/tags") {
                let ready = serde_json::from_str::<Json>(&r.body).is_ok_and(|tags| loaded(&tags));
                if r.status == 200 && ready {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "TensorBoard not ready within {READY_WITHIN:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now (the OS picks it; the server binds it a
/// moment later).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
