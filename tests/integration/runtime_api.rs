//! A small Lambda Runtime API on loopback, to run the release or debug binary exactly as
//! Lambda does: it hands out queued events and collects the function's responses.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Value)>,
    responses: Vec<(String, Value)>,
    errors: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub address: String,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
    answered: Arc<Notify>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind runtime api");
        let address = listener.local_addr().unwrap().to_string();
        let api = Self {
            address,
            state: Arc::default(),
            queued: Arc::default(),
            answered: Arc::default(),
        };
        let server = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(server.clone().serve(stream));
            }
        });
        api
    }

    /// Queues an event and waits (at most 15 s) for the function's answer.
    pub async fn invoke(&self, request_id: &str, event: Value) -> Result<Value, String> {
        self.state
            .lock()
            .unwrap()
            .queue
            .push_back((request_id.to_owned(), event));
        self.queued.notify_waiters();
        self.queued.notify_one();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            {
                let state = self.state.lock().unwrap();
                if let Some((_, body)) = state.responses.iter().find(|(id, _)| id == request_id) {
                    return Ok(body.clone());
                }
                if let Some((_, error)) = state.errors.iter().find(|(id, _)| id == request_id) {
                    return Err(error.clone());
                }
            }
            if tokio::time::timeout_at(deadline, self.answered.notified())
                .await
                .is_err()
            {
                return Err(format!("no answer to {request_id} within 15 s"));
            }
        }
    }

    async fn serve(self, stream: TcpStream) {
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).await.is_err() {
                return;
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_owned();
            let reply = if path.ends_with("/invocation/next") {
                let (id, event) = self.next_event().await;
                let body = event.to_string();
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {id}\r\n\
                     lambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: \
                     arn:aws:lambda:us-east-1:123456789012:function:update-connection\r\n\
                     lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
                     content-length: {}\r\n\r\n{body}",
                    deadline_ms(),
                    body.len()
                )
            } else {
                let id = path.split('/').nth(4).unwrap_or("").to_owned();
                let text = String::from_utf8_lossy(&body).into_owned();
                {
                    let mut state = self.state.lock().unwrap();
                    if path.ends_with("/response") {
                        state
                            .responses
                            .push((id, serde_json::from_str(&text).unwrap_or(Value::Null)));
                    } else {
                        state.errors.push((id, text));
                    }
                }
                self.answered.notify_waiters();
                "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_owned()
            };
            if reader.get_mut().write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }

    async fn next_event(&self) -> (String, Value) {
        loop {
            let notified = self.queued.notified();
            if let Some(next) = self.state.lock().unwrap().queue.pop_front() {
                return next;
            }
            notified.await;
        }
    }
}

fn deadline_ms() -> u128 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (now + Duration::from_secs(30)).as_millis()
}
