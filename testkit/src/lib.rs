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
                (
                    "lambda-runtime-trace-id",
                    HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
                ),
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
        self.shared
            .lock()
            .answered
            .insert(id, (Instant::now(), answer));
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
        self.queued.lock().await.recv().await
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
    spawn_with_env(bin, api, &[])
}

/// As `spawn`, with `extra` set in the process's environment as well.
pub fn spawn_with_env(bin: &str, api: &RuntimeApi, extra: &[(&str, &str)]) -> (Child, Instant) {
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
        .envs(extra.iter().copied())
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
