//! A TCP proxy in front of DynamoDB Local that can pass traffic, slow it, answer every
//! request with a DynamoDB error (throttling or any other code), or drop every connection:
//! the database faults the function must survive, injected on loopback without touching
//! the database.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Every reply from the database is held back this long.
    Slow(Duration),
    /// Every request gets DynamoDB's ProvisionedThroughputExceededException (HTTP 400).
    Throttle,
    /// Every request gets this DynamoDB error code with this HTTP status.
    Error {
        status: u16,
        code: &'static str,
    },
    /// Every connection, open or new, is closed at once: a database that went away.
    Down,
}

pub struct FaultProxy {
    pub endpoint: String,
    mode: watch::Sender<Mode>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (mode, watcher) = watch::channel(Mode::Pass);
        let upstream = Arc::new(upstream);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream.clone(), watcher.clone()));
            }
        });
        Self { endpoint, mode }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

async fn serve(client: TcpStream, upstream: Arc<String>, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Down => {}
        Mode::Throttle => refuse(client, mode, 400, "ProvisionedThroughputExceededException").await,
        Mode::Error { status, code } => refuse(client, mode, status, code).await,
        Mode::Pass | Mode::Slow(_) => {
            let Ok(server) = TcpStream::connect(upstream.as_str()).await else {
                return;
            };
            let delay = match current {
                Mode::Slow(d) => d,
                _ => Duration::ZERO,
            };
            // Any change of mode cuts the connection, as a restart or a network fault would.
            tokio::select! {
                () = update_connection_testkit::relay::relay(client, server, delay) => {}
                _ = mode.changed() => {}
            }
        }
    }
}

/// Answers every request on this connection with DynamoDB's JSON error for `code`.
async fn refuse(
    client: TcpStream,
    mut mode: watch::Receiver<Mode>,
    status: u16,
    code: &'static str,
) {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected by the fault proxy"}}"#
    );
    let mut reader = BufReader::new(client);
    loop {
        let request = async {
            let mut length = 0usize;
            let mut line = String::new();
            if reader.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            loop {
                line.clear();
                if reader.read_line(&mut line).await.ok()? == 0 {
                    return None;
                }
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request_body = vec![0; length];
            reader.read_exact(&mut request_body).await.ok()?;
            Some(())
        };
        tokio::select! {
            got = request => if got.is_none() { return },
            _ = mode.changed() => return,
        }
        // The reason phrase is not read by the SDK; the status code is.
        let reply = format!(
            "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.0\r\n\
             x-amzn-requestid: injected\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if reader.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}
