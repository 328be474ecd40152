//! Runs a Lambda binary as Lambda does — a Runtime API on loopback, the standard
//! environment — and measures it. Prints one JSON object.
//!
//!   lambda-bench cold --bin PATH --event FILE [--runs 20]
//!       init (exec to the first GET /next), first response, first and warm invocation
//!       latency, peak RSS, over fresh processes
//!   lambda-bench warm --bin PATH --event FILE [--invocations 300]
//!       CPU time per invocation (all threads, from /proc schedstat), latency, peak RSS
//!
//! The child gets a Lambda-like environment: this process's `AWS_*`, `DYNAMODB_*`, `MIMALLOC_*`, table
//! names, `SSL_CERT_FILE` and `PATH`, and nothing else.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>)>,
    first_next: Option<Instant>,
    answered: HashMap<String, (Instant, u16)>,
}

#[derive(Clone)]
struct RuntimeApi {
    address: String,
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl RuntimeApi {
    fn start() -> Self {
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
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
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
                let status = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["statusCode"].as_u64())
                    .unwrap_or(0) as u16;
                let (lock, cvar) = &*self.shared;
                lock.lock()
                    .unwrap()
                    .answered
                    .insert(id, (Instant::now(), status));
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

    fn wait_for_init(&self, timeout: Duration) -> Option<Instant> {
        let (lock, cvar) = &*self.shared;
        let (state, _) = cvar
            .wait_timeout_while(lock.lock().unwrap(), timeout, |s| s.first_next.is_none())
            .unwrap();
        state.first_next
    }

    /// Queues an event; returns (latency from queueing to answer, answered at, status).
    fn invoke(&self, id: &str, event: &[u8]) -> (Duration, Instant, u16) {
        let (lock, cvar) = &*self.shared;
        let start = Instant::now();
        lock.lock()
            .unwrap()
            .queue
            .push_back((id.to_owned(), event.to_vec()));
        cvar.notify_all();
        let state = cvar
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(30), |s| {
                !s.answered.contains_key(id)
            })
            .unwrap()
            .0;
        let (at, status) = *state
            .answered
            .get(id)
            .unwrap_or_else(|| panic!("no answer to {id} in 30 s"));
        (at - start, at, status)
    }
}

fn deadline_ms() -> u128 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now + Duration::from_secs(60)).as_millis()
}

fn spawn(bin: &str, api: &RuntimeApi) -> (Child, Instant) {
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

/// CPU time of every thread of the process, in nanoseconds.
fn cpu_ns(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc task dir");
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn stats(mut values: Vec<f64>) -> Value {
    values.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    json!({"n": values.len(), "median": at(0.5), "p90": at(0.9), "p99": at(0.99), "min": values[0], "max": values[values.len() - 1]})
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[derive(Default)]
struct Cold {
    init: Vec<f64>,
    first_response: Vec<f64>,
    first_invoke: Vec<f64>,
    warm_invoke: Vec<f64>,
    rss: Vec<f64>,
    statuses: HashMap<u16, u32>,
}

/// Fresh processes, the binaries taking turns so that drift in the machine hits all alike.
fn cold(bins: &[String], event: &[u8], runs: usize) -> Value {
    let mut results: Vec<Cold> = bins.iter().map(|_| Cold::default()).collect();
    for run in 0..runs {
        for (bin, r) in bins.iter().zip(results.iter_mut()) {
            cold_once(bin, event, run, r);
        }
    }
    let mut out = serde_json::Map::new();
    for (bin, r) in bins.iter().zip(results) {
        out.insert(label(bin), json!({
            "init_ms": stats(r.init),
            "first_response_ms": stats(r.first_response),
            "first_invocation_ms": stats(r.first_invoke),
            "warm_invocation_ms": stats(r.warm_invoke),
            "peak_rss_mib": stats(r.rss),
            "statuses": r.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    Value::Object(out)
}

fn label(bin: &str) -> String {
    std::path::Path::new(bin)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn cold_once(bin: &str, event: &[u8], run: usize, r: &mut Cold) {
    let Cold {
        init,
        first_response,
        first_invoke,
        warm_invoke,
        rss,
        statuses,
    } = r;
    {
        let api = RuntimeApi::start();
        let (child, started) = spawn(bin, &api);
        let ready = api
            .wait_for_init(Duration::from_secs(30))
            .expect("the function never asked for an event");
        init.push(ms(ready - started));
        let (latency, answered, status) = api.invoke(&format!("cold-{run}"), event);
        *statuses.entry(status).or_insert(0) += 1;
        first_response.push(ms(answered - started));
        first_invoke.push(ms(latency));
        for i in 0..5 {
            let (latency, _, _) = api.invoke(&format!("cold-{run}-warm-{i}"), event);
            warm_invoke.push(ms(latency));
        }
        rss.push(peak_rss_kib(child.id()) as f64 / 1024.0);
        stop(child);
    }
}

fn warm(bin: &str, event: &[u8], invocations: usize) -> Value {
    let api = RuntimeApi::start();
    let (child, _) = spawn(bin, &api);
    api.wait_for_init(Duration::from_secs(30))
        .expect("the function never asked for an event");
    for i in 0..20 {
        api.invoke(&format!("warmup-{i}"), event);
    }
    let pid = child.id();
    let cpu_before = cpu_ns(pid);
    let started = Instant::now();
    let mut latency = Vec::with_capacity(invocations);
    let mut statuses = HashMap::new();
    for i in 0..invocations {
        let (l, _, status) = api.invoke(&format!("warm-{i}"), event);
        *statuses.entry(status).or_insert(0) += 1;
        latency.push(l.as_secs_f64() * 1e6);
    }
    let elapsed = started.elapsed();
    let cpu = cpu_ns(pid) - cpu_before;
    let rss = peak_rss_kib(pid) as f64 / 1024.0;
    stop(child);
    json!({
        "invocations": invocations,
        "cpu_us_per_invocation": cpu as f64 / 1e3 / invocations as f64,
        "latency_us": stats(latency),
        "throughput_per_s": invocations as f64 / elapsed.as_secs_f64(),
        "peak_rss_mib": rss,
        "statuses": statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bins: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| *a == "--bin")
        .filter_map(|(i, _)| args.get(i + 1).cloned())
        .collect();
    let (Some(mode), false, Some(event)) = (args.first(), bins.is_empty(), flag("--event")) else {
        eprintln!(
            "usage: lambda-bench cold|warm --bin PATH [--bin PATH ...] --event FILE [--runs N] [--invocations N]"
        );
        std::process::exit(2);
    };
    let event = std::fs::read(&event).unwrap_or_else(|e| panic!("cannot read {event}: {e}"));
    let result = match mode.as_str() {
        "cold" => cold(
            &bins,
            &event,
            flag("--runs").and_then(|n| n.parse().ok()).unwrap_or(20),
        ),
        "warm" => {
            let n = flag("--invocations")
                .and_then(|n| n.parse().ok())
                .unwrap_or(300);
            Value::Object(
                bins.iter()
                    .map(|b| (label(b), warm(b, &event, n)))
                    .collect(),
            )
        }
        other => panic!("unknown mode {other}"),
    };
    println!("{result}");
}
