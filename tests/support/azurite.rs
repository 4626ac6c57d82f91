//! A real Azurite blob service, started on a port of the test's choosing.

use shared::destinations::storage::service::BlobService;
use shared::destinations::storage::target::AZURITE_KEY;
use shared::destinations::storage::{StorageSink, StorageTarget};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub struct Azurite {
    child: Child,
    pub endpoint: String,
    dir: std::path::PathBuf,
}

/// The development account's endpoint on `port`.
pub fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}/devstoreaccount1")
}

/// The development account on `endpoint`.
pub fn target(endpoint: &str) -> StorageTarget {
    StorageTarget::Account {
        endpoint: endpoint.to_string(),
        account: "devstoreaccount1".into(),
        key: shared::config::Secret::new(AZURITE_KEY),
    }
}

impl Azurite {
    /// The archive writer and a plain Blob client for the development account.
    pub fn clients(&self) -> (StorageSink, BlobService) {
        (
            StorageSink::new(target(&self.endpoint)).unwrap(),
            self.blob(),
        )
    }

    pub fn blob(&self) -> BlobService {
        let key = shared::config::Secret::new(AZURITE_KEY);
        BlobService::new(&self.endpoint, "devstoreaccount1", &key).unwrap()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn start() -> Azurite {
    start_on(super::free_port())
}

pub fn start_on(port: u16) -> Azurite {
    launch(port, &[])
}

/// Azurite over HTTPS (the test certificate of `tests/fixtures/tls`) checking OAuth bearer
/// tokens as it does in its basic mode: a JWT with Storage's audience, an Entra issuer and a
/// current lifetime (it does not check the signature).
pub fn start_https_with_oauth() -> Azurite {
    let tls = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
    let (cert, key) = (tls.join("server.pem"), tls.join("server-key.pem"));
    let port = super::free_port();
    let mut a = launch(
        port,
        &[
            "--oauth",
            "basic",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    );
    a.endpoint = format!("https://127.0.0.1:{port}/devstoreaccount1");
    a
}

fn launch(port: u16, more: &[&str]) -> Azurite {
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/node_modules/.bin/azurite-blob");
    assert!(
        bin.exists(),
        "Azurite is not installed at {}; run `bash tests/run`, which installs it from npm",
        bin.display()
    );
    let dir = std::env::temp_dir().join(format!("entra-azurite-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(&bin)
        .args([
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            "--location",
        ])
        .arg(&dir)
        .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
        .args(more)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start azurite-blob");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed().as_secs() < 30,
            "Azurite did not start within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Azurite {
        child,
        endpoint: endpoint(port),
        dir,
    }
}
