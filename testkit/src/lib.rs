//! A Lambda Runtime API on loopback, to run function binaries as Lambda runs them: used
//! by the integration tests (the built binary), the benchmark harness and the soak. And
//! `relay`, the TCP relay of the delay proxy and the tests' fault proxy.

pub mod relay;

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// What the callers wait for: the function's first `GET /next`, and its answers.
#[derive(Default)]
struct State {
    first_next: Option<Instant>,
    answered: HashMap<String, (Instant, Answer)>,
    /// Events handed out and not answered yet, and the most there ever were.
    in_flight: usize,
    max_in_flight: usize,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    /// A panic elsewhere already said what went wrong; the map stays usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a function posted for one invocation.
#[derive(Debug, Clone)]
enum Answer {
    /// `POST .../response`: the function's result.
    Response(Value),
    /// `POST .../error` (and init errors): the runtime's error report, as text.
    Error(String),
}

/// An event waiting for a `GET /next`: its request id (already a valid header) and body.
type Event = (HeaderValue, Bytes);

/// The X-Ray trace header the Runtime API gives invocation `request_id`: its own per
/// invocation, so that a line naming another invocation's trace is caught.
pub fn trace_id_for(request_id: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let hash = request_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("Root=1-00000000-{hash:024x};Sampled=0")
}

/// Held by the callers' handles only: when the last one goes, the server stops.
struct Handle {
    events: mpsc::UnboundedSender<Event>,
    _stop: oneshot::Sender<()>,
}

/// The Runtime API, served by hyper on its own thread (a current-thread tokio runtime), so
/// that callers stay synchronous.
#[derive(Clone)]
pub struct RuntimeApi {
    pub address: String,
    shared: Arc<Shared>,
    handle: Arc<Handle>,
}

/// The server's side: the state it records answers in, and the queued events.
#[derive(Clone)]
struct Server {
    shared: Arc<Shared>,
    queued: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>>,
}

impl RuntimeApi {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("addr").to_string();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .expect("a tokio runtime for the Runtime API");
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).expect("a tokio listener")
        };
        let (events, queued) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let shared = Arc::new(Shared::default());
        let server = Server {
            shared: shared.clone(),
            queued: Arc::new(tokio::sync::Mutex::new(queued)),
        };
        std::thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::select! {
                        () = server.accept(listener) => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("a thread for the Runtime API");
        Self {
            address,
            shared,
            handle: Arc::new(Handle {
                events,
                _stop: stop,
            }),
        }
    }

    pub fn wait_for_init(&self, timeout: Duration) -> Option<Instant> {
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(self.shared.lock(), timeout, |s| s.first_next.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        state.first_next
    }

    /// The most invocations the function held at once (handed out, not yet answered): 1
    /// for a function that serves one at a time.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().max_in_flight
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

    /// Queues an event without waiting, for a caller that keeps several in flight and
    /// collects them with `next_answer`.
    pub fn queue(&self, id: &str, event: &[u8]) -> Result<(), String> {
        let header = HeaderValue::from_str(id)
            .map_err(|_| format!("request id {id:?} is not a valid header value"))?;
        self.handle
            .events
            .send((header, Bytes::copy_from_slice(event)))
            .map_err(|_| format!("the Runtime API server stopped before {id} was queued"))
    }

    /// Any answer not yet taken, waiting at most `timeout`: (request id, answered at,
    /// status); `Err` for an error report. One waiter, where `call` from many threads
    /// would wake every thread at each answer.
    pub fn next_answer(&self, timeout: Duration) -> Result<(String, Instant, u16), String> {
        let mut state = self
            .shared
            .changed
            .wait_timeout_while(self.shared.lock(), timeout, |s| s.answered.is_empty())
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        let id = state
            .answered
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| format!("no answer within {timeout:?}"))?;
        match state.answered.remove(&id) {
            Some((at, Answer::Response(response))) => {
                let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
                Ok((id, at, status))
            }
            Some((_, Answer::Error(error))) => Err(format!("{id}: {error}")),
            None => Err(format!("{id} vanished")),
        }
    }

    fn answer(
        &self,
        id: &str,
        event: &[u8],
        timeout: Duration,
    ) -> Result<(Instant, Value), String> {
        // Checked here, so that the server never holds an event it cannot send.
        let header = HeaderValue::from_str(id)
            .map_err(|_| format!("request id {id:?} is not a valid header value"))?;
        self.handle
            .events
            .send((header, Bytes::copy_from_slice(event)))
            .map_err(|_| format!("the Runtime API server stopped before {id} was queued"))?;
        let mut state = self
            .shared
            .changed
            .wait_timeout_while(self.shared.lock(), timeout, |s| {
                !s.answered.contains_key(id)
            })
            .unwrap_or_else(PoisonError::into_inner)
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

impl Server {
    async fn accept(self, listener: tokio::net::TcpListener) {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // E.g. out of file descriptors: say so, and do not spin.
                    eprintln!("runtime api: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let server = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let server = server.clone();
                    async move { server.route(request).await }
                });
                // A broken connection ends here; the function sees its Runtime API go away.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn route(&self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        if path.ends_with("/invocation/next") {
            let Some((id, event)) = self.next_event().await else {
                // The server is stopping: no answer, so the function sees the connection
                // close (as it would on Lambda), not a reply without an event.
                return std::future::pending().await;
            };
            // Each invocation its own trace (the id is a valid header, the trace hex).
            let trace = id
                .to_str()
                .ok()
                .and_then(|id| HeaderValue::from_str(&trace_id_for(id)).ok())
                .unwrap_or_else(|| HeaderValue::from_static("Root=1-00000000-0"));
            let mut response = Response::new(Full::new(event));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            for (name, value) in [
                ("lambda-runtime-aws-request-id", id),
                (
                    "lambda-runtime-deadline-ms",
                    HeaderValue::from(deadline_ms()),
                ),
                (
                    "lambda-runtime-invoked-function-arn",
                    HeaderValue::from_static(
                        "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    ),
                ),
                ("lambda-runtime-trace-id", trace),
            ] {
                headers.insert(HeaderName::from_static(name), value);
            }
            return Ok(response);
        }
        // `/2018-06-01/runtime/invocation/{id}/response` or `.../error`; init errors too.
        let id = path.split('/').nth(4).unwrap_or("").to_owned();
        let is_response = path.ends_with("/response");
        let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
            return Ok(empty(StatusCode::BAD_REQUEST));
        };
        let answer = if is_response {
            Answer::Response(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null))
        } else {
            Answer::Error(String::from_utf8_lossy(&body).into_owned())
        };
        let mut state = self.shared.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.answered.insert(id, (Instant::now(), answer));
        drop(state);
        self.shared.changed.notify_all();
        Ok(empty(StatusCode::ACCEPTED))
    }

    /// The next queued event; `None` once every handle is gone.
    async fn next_event(&self) -> Option<Event> {
        self.shared
            .lock()
            .first_next
            .get_or_insert_with(Instant::now);
        self.shared.changed.notify_all();
        let event = self.queued.lock().await.recv().await;
        if event.is_some() {
            let mut state = self.shared.lock();
            state.in_flight += 1;
            state.max_in_flight = state.max_in_flight.max(state.in_flight);
        }
        event
    }
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

fn deadline_ms() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now + Duration::from_secs(60)).as_millis() as u64
}

/// Starts a function binary with the Lambda environment and a Lambda-like rest.
pub fn spawn(bin: &str, api: &RuntimeApi) -> (Child, Instant) {
    spawn_with(bin, api, |_| {})
}

/// As `spawn`, as Lambda Managed Instances start it: `AWS_LAMBDA_MAX_CONCURRENCY` set to
/// `concurrency` when it is above 1, and unset (classic Lambda) otherwise.
pub fn spawn_concurrent(bin: &str, api: &RuntimeApi, concurrency: usize) -> (Child, Instant) {
    spawn_with_env(bin, api, concurrency, &[])
}

/// As `spawn_concurrent`, with `extra` set in the process's environment as well.
pub fn spawn_with_env(
    bin: &str,
    api: &RuntimeApi,
    concurrency: usize,
    extra: &[(&str, &str)],
) -> (Child, Instant) {
    spawn_with(bin, api, |cmd| {
        cmd.env_remove("AWS_LAMBDA_MAX_CONCURRENCY");
        if concurrency > 1 {
            cmd.env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.to_string());
        }
        cmd.envs(extra.iter().copied());
    })
}

fn spawn_with(bin: &str, api: &RuntimeApi, change: impl FnOnce(&mut Command)) -> (Child, Instant) {
    let mut cmd = Command::new(bin);
    // Lambda's environment, not this shell's: only what Lambda would set, and what the
    // bench chose (tables, endpoint, a CA file for the TLS run).
    cmd.env_clear();
    for (name, value) in std::env::vars() {
        let passed = name.starts_with("AWS_")
            || name.starts_with("DYNAMODB_")
            || name.starts_with("MIMALLOC_")
            || name.starts_with("BOOKKEEPING_")
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
    change(&mut cmd);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    /// One `GET /next` on its own connection, as each of the runtime's concurrent workers
    /// polls: (request id, trace id, body).
    fn poll(address: &str) -> (String, String, String) {
        let mut stream = TcpStream::connect(address).unwrap();
        write!(
            stream,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let (mut id, mut trace, mut length) = (String::new(), String::new(), 0);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").unwrap_or((line, ""));
            match name.to_ascii_lowercase().as_str() {
                "lambda-runtime-aws-request-id" => id = value.to_owned(),
                "lambda-runtime-trace-id" => trace = value.to_owned(),
                "content-length" => length = value.parse().unwrap(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (id, trace, String::from_utf8(body).unwrap())
    }

    fn answer(address: &str, id: &str, body: &str) {
        let mut stream = TcpStream::connect(address).unwrap();
        write!(
            stream,
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        assert!(reply.starts_with("HTTP/1.1 202"), "{reply}");
    }

    /// Several polls wait at once; each gets one event of its own with its own trace, and
    /// the answers, posted in another order, reach their own callers.
    #[test]
    fn several_polls_at_once_each_get_their_own_event() {
        let api = RuntimeApi::start();
        let polls: Vec<_> = (0..4)
            .map(|_| {
                let address = api.address.clone();
                std::thread::spawn(move || poll(&address))
            })
            .collect();
        let callers: Vec<_> = (0..4)
            .map(|i| {
                let api = api.clone();
                std::thread::spawn(move || {
                    let id = format!("inv-{i}");
                    let event = format!("{{\"n\":{i}}}");
                    api.try_call(&id, event.as_bytes(), Duration::from_secs(10))
                })
            })
            .collect();
        let mut got: Vec<(String, String, String)> =
            polls.into_iter().map(|p| p.join().unwrap()).collect();
        got.sort();
        for (i, (id, trace, body)) in got.iter().enumerate() {
            assert_eq!(id, &format!("inv-{i}"));
            assert_eq!(trace, &trace_id_for(id));
            assert_eq!(body, &format!("{{\"n\":{i}}}"));
        }
        assert_ne!(got[0].1, got[1].1, "each invocation has its own trace");
        assert_eq!(api.max_in_flight(), 4);
        for (id, _, body) in got.iter().rev() {
            answer(&api.address, id, &format!("{{\"echo\":{body}}}"));
        }
        for (i, caller) in callers.into_iter().enumerate() {
            let response = caller.join().unwrap().unwrap();
            assert_eq!(response["echo"]["n"], i, "{response}");
        }
    }
}
