//! moto's S3 server on 127.0.0.1 (`moto[server]` in the venv,
//! scripts/setup-venv.sh), for the object-storage tests: started on a free
//! port by the test that needs it, and stopped when dropped. It also exits
//! by itself when its stdin closes, so a test binary that dies leaves no
//! server behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{http, tensorboard_server::free_port};

/// The bucket every [`Moto`] server starts with.
pub const BUCKET: &str = "gradscope-test";

/// Runs moto's server until stdin closes (the test process is gone).
const SERVE: &str = "
import os, sys, threading
from moto.server import main
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
main(['-H', '127.0.0.1', '-p', sys.argv[1]])
";

/// A running moto S3 server with [`BUCKET`] in it.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts the server with `python` (the venv's, with moto and boto3;
    /// see [`super::python_with_moto`]) and creates [`BUCKET`].
    pub fn start(python: &Path) -> Moto {
        let port = free_port();
        let child = Command::new(python)
            .args(["-c", SERVE, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting moto's server with {}: {e}", python.display()));
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto's server exited ({status}) before answering");
            }
            match http::put(port, &format!("/{BUCKET}")) {
                Ok(r) if r.status == 200 => break,
                Ok(r) => panic!("creating bucket {BUCKET}: {} {}", r.status, r.body),
                Err(e) => assert!(Instant::now() < deadline, "moto not up in 60 s: {e}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What a client of this server needs in its environment: the
    /// `object_store` crate's variables and TensorBoard's (`S3_ENDPOINT`,
    /// boto3's), with moto's accepted dummy credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        env_for(&self.endpoint())
    }

    /// The keys of the objects under `prefix`, as S3's ListObjectsV2 gives
    /// them (in key order, at most 1,000).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let path = format!(
            "/{BUCKET}?list-type=2&prefix={}",
            http::percent_encode(prefix)
        );
        let r = http::get(self.port, &path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 200, "{}", r.body);
        (r.body.split("<Key>").skip(1))
            .map(|s| s.split("</Key>").next().unwrap().to_string())
            .collect()
    }
}

/// The environment of a client of the S3 endpoint `endpoint`.
pub fn env_for(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "moto".into()),
        ("AWS_SECRET_ACCESS_KEY", "moto".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("S3_ENDPOINT", endpoint.to_string()),
    ]
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
