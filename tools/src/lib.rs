//! A Lambda Runtime API on loopback, to run function binaries as Lambda runs them: used
//! by the integration tests (the built binary), the benchmark harness and the soak.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Default)]
pub struct State {
    queue: VecDeque<(String, Vec<u8>)>,
    first_next: Option<Instant>,
    answered: HashMap<String, (Instant, Answer)>,
}

/// What a function posted for one invocation.
#[derive(Debug, Clone)]
enum Answer {
    /// `POST .../response`: the function's result.
    Response(Value),
    /// `POST .../error` (and init errors): the runtime's error report, as text.
    Error(String),
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub address: String,
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        let api = Self {
            address,
            shared: Arc::default(),
        };
        let server = api.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.serve(stream));
            }
        });
        api
    }

    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader) {
            let (path, body) = (request.target, request.body);
            let reply = if path.ends_with("/invocation/next") {
                let (id, event) = self.next_event();
                let mut head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {id}\r\n\
                     lambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: \
                     arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                     lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\ncontent-length: {}\r\n\r\n",
                    deadline_ms(),
                    event.len()
                )
                .into_bytes();
                head.extend_from_slice(&event);
                head
            } else {
                let id = path.split('/').nth(4).unwrap_or("").to_owned();
                let answer = if path.ends_with("/response") {
                    Answer::Response(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
                } else {
                    Answer::Error(String::from_utf8_lossy(&body).into_owned())
                };
                let (lock, cvar) = &*self.shared;
                lock.lock()
                    .unwrap()
                    .answered
                    .insert(id, (Instant::now(), answer));
                cvar.notify_all();
                b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_vec()
            };
            if reader.get_mut().write_all(&reply).is_err() {
                return;
            }
        }
    }

    fn next_event(&self) -> (String, Vec<u8>) {
        let (lock, cvar) = &*self.shared;
        let mut state = lock.lock().unwrap();
        state.first_next.get_or_insert_with(Instant::now);
        cvar.notify_all();
        loop {
            if let Some(next) = state.queue.pop_front() {
                return next;
            }
            state = cvar.wait(state).unwrap();
        }
    }

    pub fn wait_for_init(&self, timeout: Duration) -> Option<Instant> {
        let (lock, cvar) = &*self.shared;
        let (state, _) = cvar
            .wait_timeout_while(lock.lock().unwrap(), timeout, |s| s.first_next.is_none())
            .unwrap();
        state.first_next
    }

    /// Queues an event; returns (latency from queueing to answer, answered at, status).
    pub fn invoke(&self, id: &str, event: &[u8]) -> (Duration, Instant, u16) {
        let (latency, at, response) = self.call(id, event);
        let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
        (latency, at, status)
    }

    /// Queues an event and returns what the function posted (its Lambda response JSON);
    /// panics when it posts an error or nothing within 30 s (for the bench and the soak).
    pub fn call(&self, id: &str, event: &[u8]) -> (Duration, Instant, Value) {
        let start = Instant::now();
        match self.answer(id, event, Duration::from_secs(30)) {
            Ok((at, response)) => (at - start, at, response),
            Err(e) => panic!("{e}"),
        }
    }

    /// Queues an event and waits at most `timeout` for the function's response: `Err` when
    /// the function reported an error instead, or said nothing in time.
    pub fn try_call(&self, id: &str, event: &[u8], timeout: Duration) -> Result<Value, String> {
        self.answer(id, event, timeout)
            .map(|(_, response)| response)
    }

    fn answer(
        &self,
        id: &str,
        event: &[u8],
        timeout: Duration,
    ) -> Result<(Instant, Value), String> {
        let (lock, cvar) = &*self.shared;
        lock.lock()
            .unwrap()
            .queue
            .push_back((id.to_owned(), event.to_vec()));
        cvar.notify_all();
        let mut state = cvar
            .wait_timeout_while(lock.lock().unwrap(), timeout, |s| {
                !s.answered.contains_key(id)
            })
            .unwrap()
            .0;
        match state.answered.remove(id) {
            Some((at, Answer::Response(response))) => Ok((at, response)),
            Some((_, Answer::Error(error))) => {
                Err(format!("the function reported an error for {id}: {error}"))
            }
            None => Err(format!("no answer to {id} within {timeout:?}")),
        }
    }
}

fn deadline_ms() -> u128 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now + Duration::from_secs(60)).as_millis()
}

/// Starts a function binary with the Lambda environment and a Lambda-like rest.
pub fn spawn(bin: &str, api: &RuntimeApi) -> (Child, Instant) {
    let mut cmd = Command::new(bin);
    // Lambda's environment, not this shell's: only what Lambda would set, and what the
    // bench chose (tables, endpoint, a CA file for the TLS run).
    cmd.env_clear();
    for (name, value) in std::env::vars() {
        let passed = name.starts_with("AWS_")
            || name.starts_with("DYNAMODB_")
            || name.starts_with("MIMALLOC_")
            || [
                "CONNECTIONS_TABLE",
                "API_KEYS_TABLE",
                "SSL_CERT_FILE",
                "PATH",
            ]
            .contains(&name.as_str());
        if passed && name != "AWS_CA_BUNDLE" {
            cmd.env(name, value);
        }
    }
    cmd.env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023")
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let start = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    (child, start)
}

/// SIGTERM first, so that a wrapper such as valgrind can write its output; SIGKILL if the
/// process is still there after 30 s.
pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// One HTTP/1.1 request, as these loopback tools need it.
pub struct HttpRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Reads one request (Content-Length bodies only); `None` at the end of the connection.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<HttpRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(HttpRequest {
        method,
        target,
        headers,
        body,
    })
}

/// The value after `--name` on the command line.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}
