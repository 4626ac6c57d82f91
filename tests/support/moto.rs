//! moto's S3 server (from PyPI, installed by `bash tests/run` into `.tools/moto-venv`): the
//! AWS state backend's stand-in. It honours S3's conditional writes (`If-Match`,
//! `If-None-Match: *`) and does not check signatures (the signing is checked against AWS's
//! own worked example in `shared/src/state/s3.rs`).

use shared::state::s3::{AwsCredentials, S3Bucket};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

/// The region the tests' buckets are in.
pub const REGION: &str = "us-east-1";

impl Moto {
    pub fn credentials() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDTESTING".into(),
            secret_access_key: shared::config::Secret::new("testing-secret"),
            session_token: Some(shared::config::Secret::new("testing-session")),
        }
    }

    /// The environment the binary needs to use `bucket` here (Lambda sets the AWS_* ones).
    pub fn env(&self, bucket: &str) -> Vec<(String, String)> {
        [
            ("ENTRA_MONITOR_STATE_BUCKET", bucket),
            ("ENTRA_MONITOR_STATE_S3_ENDPOINT", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "AKIDTESTING"),
            ("AWS_SECRET_ACCESS_KEY", "testing-secret"),
            ("AWS_SESSION_TOKEN", "testing-session"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A bucket, created.
    pub async fn bucket(&self, name: &str) -> S3Bucket {
        let bucket = S3Bucket::new(name, REGION, Some(&self.endpoint), Self::credentials());
        bucket.create().await.unwrap();
        bucket
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start() -> Moto {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/moto-venv/bin/moto_server");
    assert!(
        bin.exists(),
        "moto is not installed at {}; run `bash tests/run`, which installs it from PyPI",
        bin.display()
    );
    let port = super::free_port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed().as_secs() < 60,
            "moto_server did not start within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}
