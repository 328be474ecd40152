//! Concurrent soak: several function processes, each started as Lambda starts it, hammer a
//! shared set of connections in DynamoDB Local with mixed requests; every answer and the
//! table afterwards are checked against a model of the contract.
//!
//!   soak --bin FUNCTION --admin CONNECTIONS_ADMIN [--processes 4] [--requests 10000]
//!        [--hot-rounds 150] [--seed 7] [--show 20] [--concurrency 1]
//!        [--legacy-writers 0] [--legacy-bin PATH] [--bin-form compact]
//!        [--time-limit-seconds 600]   (`soak --help` says what each is)
//!
//! With `--concurrency N` above 1, every second process runs as Lambda Managed Instances
//! run it (AWS_LAMBDA_MAX_CONCURRENCY=N) and N drivers share it, each as a process's one
//! driver would; the others stay classic.
//!
//! Two phases. Mixed: random requests on 64 connections, one in ten a client retry of the
//! previous one. Some writes carry an `Idempotency-Key`: contact changes, disconnects (alone
//! and with a contact change), and writes with `If-Match` at the version last answered for
//! the connection (now and then one before it: stale). Their retries must be answered as
//! replays (`Idempotent-Replayed`, the connection as it was at the replay's version) and
//! never write twice while the key is remembered. After a keyed request its key often comes
//! back with another request: another contact change, the same body with
//! `"status":"disconnected"` added (or taken away), or the same body with another
//! `If-Match` (or none, or one where it had none); a fingerprint that missed the
//! difference would answer a replay where the contract says 422 `idempotency-key-reused`.
//! And a key comes back after 3 or 4 other keyed writes on its connection: the function
//! remembers the last 4, so the first is still a replay or a 422, the second writes again.
//! Hot: every process sends, at the same moment, a write with `If-Match` at the current
//! version of one of a few connections; exactly one may win. The same seed gives the same
//! requests, save the `If-Match` of keyed writes, read from the answers so far.
//!
//! The model replays each connection's accepted writes in version order from its seed:
//! every version above 1 has exactly one writer (the request whose body, applied to the
//! version before, gives what it answered); any other answer at that version must be a
//! retry the contract answers without writing (disconnected, every value already stored).
//! Every 200 must show the replayed connection, and the final item must equal the replay
//! in every member, including the request ids of the last writes and the timestamps
//! (within the writer's send/answer window). An accepted write with `If-Match: "k"` must
//! have written version k+1.
//!
//! Keys, as the function remembers them (the records of the last 4 keyed writes on the
//! connection, in version order): a replay needs a remembered write with its key and the
//! same request (body and `If-Match`); a 422 `idempotency-key-reused` needs a remembered
//! write with its key and another request at some version the connection was at while it
//! was in flight; a keyed write, a 409 or a 412 needs its key not remembered (then).
//!
//! Every answer other than 200 must carry a status and problem `code` the contract allows
//! for its request (401 `invalid-token` for a wrong token, 404 `not-found` for another
//! client's key or connection, 400 `malformed-body`, 422 `validation-failed`, ...), and
//! fit what the connection was while it was in flight: 409 `connection-disconnected` only
//! once a disconnect of it could have been written, 412 `precondition-failed` only while it
//! could have been at another version than its `If-Match`.
//!
//! The hot phase must really race, at the database: after each round the item is read back
//! (connections-admin show) and must hold the winner's write alone (its version, its
//! request id last, the previous version's writer before it); a loser refused with 412 for
//! the `If-Match` the winner wrote from, while in flight with the winner, met it at the
//! item. At least a tenth of the rounds need such a loser (see `required_meetings`), or
//! that is a violation.
//!
//! The environment names the tables and the endpoint (as for the function). Exits 1 on any
//! violation. Bounded: a fixed number of requests, each answered within 30 s, and the whole
//! soak within `--time-limit-seconds`; a worker that panics ends the soak at once.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::RangeInclusive;
use std::panic::AssertUnwindSafe;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use serde_json::{Value, json};
use update_connection_testkit::{RuntimeApi, spawn_with_env, stop};

/// Concurrent soak of the function against DynamoDB Local (tables and endpoint from the
/// environment); every answer and the final table are checked against the contract's
/// model. Exits 1 on any violation.
#[derive(Parser)]
struct Args {
    /// The function binary (update-connection).
    #[arg(long, value_name = "PATH")]
    bin: String,
    /// connections-admin, to seed the tables and read them back.
    #[arg(long, value_name = "PATH")]
    admin: String,
    /// Function processes, each under its own Runtime API; at least 2, so that the hot
    /// phase's writes can meet.
    #[arg(long, default_value_t = 4, value_parser = RangedU64ValueParser::<usize>::new().range(2..))]
    processes: usize,
    /// Requests of the mixed phase, shared out between the processes.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Rounds of the hot phase: every process writes one hot item at the same moment.
    #[arg(long, default_value_t = 150, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    hot_rounds: usize,
    /// Seed of the request mix (the same seed, the same requests).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The first N processes write the bookkeeping's legacy form (BOOKKEEPING_FORMAT=legacy),
    /// the others the compact one: both forms on one table, as during a deploy.
    #[arg(long, default_value_t = 0)]
    legacy_writers: usize,
    /// The legacy writers run this binary instead (a release from before the compact form).
    #[arg(long, value_name = "PATH", requires = "legacy_writers")]
    legacy_bin: Option<String>,
    /// The form the other processes (--bin) write: legacy with --legacy-bin is the first
    /// step of a deploy that changes the form.
    #[arg(long, value_enum, default_value_t = Form::Compact)]
    bin_form: Form,
    /// How many violations to print (all are counted).
    #[arg(long, default_value_t = 20)]
    show: usize,
    /// The whole soak fails (exit 1, its processes killed) if it has not finished within
    /// this many seconds.
    #[arg(long, default_value_t = 600, value_parser = RangedU64ValueParser::<u64>::new().range(1..))]
    time_limit_seconds: u64,
    /// Every second process is started with AWS_LAMBDA_MAX_CONCURRENCY set to this and
    /// driven by this many drivers at once (1: every process classic).
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=64))]
    concurrency: usize,
}

/// The bookkeeping's form a process writes (BOOKKEEPING_FORMAT).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Form {
    Compact,
    Legacy,
}

/// The processes the soak started, so that a failure can end them before it exits.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
/// Progress, for the time limit's message.
static MIXED_ANSWERED: AtomicUsize = AtomicUsize::new(0);
static HOT_ROUNDS_DONE: AtomicUsize = AtomicUsize::new(0);
static PHASE: Mutex<&str> = Mutex::new("starting");

fn children() -> std::sync::MutexGuard<'static, Vec<u32>> {
    CHILDREN.lock().unwrap_or_else(PoisonError::into_inner)
}

fn phase(now: &'static str) {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = now;
}

/// Ends the soak from any thread: kills the processes it started (they would outlive it,
/// and other workers may be waiting at a barrier for ever), then exits 1.
fn fail(message: &str) -> ! {
    eprintln!("soak FAILED: {message}");
    for pid in children().iter() {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    std::process::exit(1);
}

/// Runs connections-admin, registered as a child so that the time limit can end it.
fn admin(admin: &str, args: &[&str]) -> Output {
    let child = Command::new(admin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| fail(&format!("cannot start {admin}: {e}")));
    children().push(child.id());
    let pid = child.id();
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| fail(&format!("{admin} {args:?}: {e}")));
    children().retain(|p| *p != pid);
    if !output.status.success() {
        fail(&format!("{admin} {args:?} failed: {}", output.status));
    }
    output
}

const KEY: &str = "soak-key-a";
const RIVAL_KEY: &str = "soak-key-rival";
const CONNECTIONS: usize = 64;
const RIVALS: usize = 4;
const HOT: usize = 3;
const CREATED_AT: &str = "2026-01-01T00:00:00.000Z";
const STATUSES: [&str; 3] = ["active", "initialized", "unauthenticated"];

fn id(i: usize) -> String {
    format!("01JSAKE{i:019}")
}

fn rival_id(i: usize) -> String {
    format!("01JRVAR{i:019}")
}

fn hot_id(i: usize) -> String {
    format!("01JH0TC{i:019}")
}

fn seed() -> Value {
    let mut connections = Vec::new();
    for i in 0..CONNECTIONS {
        connections.push(json!({
            "connection_id": id(i), "client_id": "client-soak", "customer_id": format!("customer-{i}"),
            "retailer_id": "01J7SC0NN73R6F5VVSP3ZKPDA3", "status": STATUSES[i % 3], "email": null, "mobile": null,
            "token": format!("soak-token-{i}"), "token_scopes": ["connections:write"], "token_expires_at": null
        }));
    }
    for i in 0..HOT {
        connections.push(json!({
            "connection_id": hot_id(i), "client_id": "client-soak", "customer_id": format!("hot-{i}"),
            "retailer_id": "01J7SC0NN73R6F5VVSP3ZKPDA3", "status": "active", "email": null, "mobile": null,
            "token": format!("soak-hot-token-{i}"), "token_scopes": ["connections:write"], "token_expires_at": null
        }));
    }
    for i in 0..RIVALS {
        connections.push(json!({
            "connection_id": rival_id(i), "client_id": "client-rival", "customer_id": format!("rival-{i}"),
            "retailer_id": "01J7SC0NN73R6F5VVSP3ZKPDA3", "status": "active", "email": null, "mobile": null,
            "token": format!("soak-rival-token-{i}"), "token_scopes": ["connections:write"], "token_expires_at": null
        }));
    }
    json!({
        "api_keys": [
            {"secret": KEY, "client_id": "client-soak", "status": "active"},
            {"secret": RIVAL_KEY, "client_id": "client-rival", "status": "active"}
        ],
        "connections": connections
    })
}

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Disconnect,
    Contact,
    WrongToken,
    RivalKey,
    RivalConnection,
    StaleIfMatch,
    InvalidBody,
    MalformedBody,
    HotWrite,
    /// A contact write with a new `Idempotency-Key`; its client retries resend it whole.
    Keyed,
    /// A contact write with a new key and `If-Match` at the version last answered for the
    /// connection (one in four: the version before it, stale).
    KeyedIfMatch,
    /// A disconnect with a new key, alone or with a contact change, now and then with
    /// `If-Match`.
    KeyedDisconnect,
    /// The previous keyed request's key with another contact change (same `If-Match`).
    KeyReused,
    /// The previous keyed request's key and body with `"status":"disconnected"` added (or,
    /// where it had it and more, taken away), same `If-Match`.
    KeyReusedStatus,
    /// The previous keyed request's key and body with another `If-Match`: none where it
    /// had one or its version plus one; the version last answered where it had none.
    KeyReusedIfMatch,
    /// A key sent again after 3 or 4 other keyed writes of this worker on its connection,
    /// with its first body or another: remembered after 3, forgotten after 4.
    OldKey,
}

const OK: (u16, &str) = (200, "");
const GONE: (u16, &str) = (409, "connection-disconnected");
const STALE: (u16, &str) = (412, "precondition-failed");
const REUSED: (u16, &str) = (422, "idempotency-key-reused");

impl Kind {
    /// A new key: its retries are replays, and it may come back with another request.
    fn new_key(self) -> bool {
        matches!(
            self,
            Kind::Keyed | Kind::KeyedIfMatch | Kind::KeyedDisconnect
        )
    }
}

/// The answers the contract allows a request: status and problem code (none for a 200).
/// Whether one fits what the connection was while it was in flight is `check_refusals`'s.
fn allowed(kind: Kind, body: &Value, if_match: Option<u64>) -> Vec<(u16, &'static str)> {
    // A request that asks for nothing beyond the disconnect is a retry on a disconnected
    // connection, never a 409.
    let changes_more = body
        .as_object()
        .is_some_and(|m| m.keys().any(|k| k != "status"));
    let mut out = match kind {
        Kind::WrongToken => vec![(401, "invalid-token")],
        Kind::RivalKey | Kind::RivalConnection => vec![(404, "not-found")],
        Kind::StaleIfMatch => vec![STALE],
        Kind::InvalidBody => vec![(422, "validation-failed")],
        Kind::MalformedBody => vec![(400, "malformed-body")],
        Kind::HotWrite => vec![OK, STALE],
        Kind::Disconnect
        | Kind::Contact
        | Kind::Keyed
        | Kind::KeyedIfMatch
        | Kind::KeyedDisconnect => vec![OK, GONE],
        // 422 while the key's write of another request is remembered; otherwise it is a
        // request of its own.
        Kind::KeyReused | Kind::KeyReusedStatus | Kind::KeyReusedIfMatch | Kind::OldKey => {
            vec![OK, GONE, REUSED]
        }
    };
    if !changes_more {
        out.retain(|a| *a != GONE);
    }
    if if_match.is_some() && !out.contains(&STALE) {
        out.push(STALE);
    }
    out
}

#[derive(Clone)]
struct Request {
    kind: Kind,
    connection: String,
    body: Value,
    if_match: Option<u64>,
    idempotency_key: Option<String>,
    event: Vec<u8>,
}

fn event(connection: &str, key: &str, token: &str, body: &str, if_match: Option<&str>) -> Vec<u8> {
    keyed_event(connection, key, token, body, if_match, None)
}

fn keyed_event(
    connection: &str,
    key: &str,
    token: &str,
    body: &str,
    if_match: Option<&str>,
    idempotency_key: Option<&str>,
) -> Vec<u8> {
    let mut headers = json!({"content-type": "application/json", "x-api-key": key, "authorization": format!("Bearer {token}")});
    if let Some(tag) = if_match {
        headers["if-match"] = json!(tag);
    }
    if let Some(k) = idempotency_key {
        headers["idempotency-key"] = json!(format!("\"{k}\""));
    }
    serde_json::to_vec(&json!({
        "resource": "/connections/{connection_id}", "path": format!("/connections/{connection}"),
        "httpMethod": "PATCH", "headers": headers, "pathParameters": {"connection_id": connection},
        "requestContext": {"stage": "prod", "requestId": "soak"}, "body": body, "isBase64Encoded": false
    }))
    .unwrap()
}

/// A keyed write by this client on connection `i` of the mixed phase.
fn keyed(kind: Kind, i: usize, body: Value, if_match: Option<u64>, key: String) -> Request {
    let connection = id(i);
    Request {
        kind,
        event: keyed_event(
            &connection,
            KEY,
            &format!("soak-token-{i}"),
            &body.to_string(),
            if_match.map(|v| format!("\"{v}\"")).as_deref(),
            Some(&key),
        ),
        if_match,
        idempotency_key: Some(key),
        connection,
        body,
    }
}

fn new_key(rng: &mut Rng) -> String {
    format!("soak-{:016x}", rng.next())
}

/// The mixed phase's connection behind an id, if it is one.
fn index(connection: &str) -> Option<usize> {
    connection.strip_prefix("01JSAKE")?.parse().ok()
}

/// The next request, or a planned run of them (a key, 3 or 4 other keyed writes on its
/// connection, the key again). `known` holds the version last answered for each
/// connection, for keyed writes' `If-Match`.
fn make(rng: &mut Rng, known: &[AtomicU64]) -> Vec<Request> {
    let i = rng.below(CONNECTIONS);
    let connection = id(i);
    let token = format!("soak-token-{i}");
    let current = known[i].load(Ordering::Relaxed);
    let roll = rng.below(1000);
    let (kind, body, key, token, if_match, connection) = match roll {
        // Rare, so that most connections take many writes before they end.
        0..5 => (
            Kind::Disconnect,
            json!({"status": "disconnected"}),
            KEY,
            token,
            None,
            connection,
        ),
        5..10 => {
            let mut body = json!({"status": "disconnected"});
            if rng.below(2) == 0 {
                body = contact_body(rng);
                body["status"] = json!("disconnected");
            }
            let if_match = (rng.below(3) == 0).then_some(current);
            return vec![keyed(
                Kind::KeyedDisconnect,
                i,
                body,
                if_match,
                new_key(rng),
            )];
        }
        10..380 => (
            Kind::Contact,
            contact_body(rng),
            KEY,
            token,
            None,
            connection,
        ),
        380..445 => {
            let body = contact_body(rng);
            return vec![keyed(Kind::Keyed, i, body, None, new_key(rng))];
        }
        445..490 => {
            let body = contact_body(rng);
            let version = if rng.below(4) == 0 {
                current.saturating_sub(1)
            } else {
                current
            };
            return vec![keyed(
                Kind::KeyedIfMatch,
                i,
                body,
                Some(version),
                new_key(rng),
            )];
        }
        490..500 => {
            let key = new_key(rng);
            let first = contact_body(rng);
            let mut run = vec![keyed(Kind::Keyed, i, first.clone(), None, key.clone())];
            for _ in 0..3 + rng.below(2) {
                let body = contact_body(rng);
                run.push(keyed(Kind::Keyed, i, body, None, new_key(rng)));
            }
            let body = if rng.below(2) == 0 {
                first
            } else {
                other_contact_body(&first, rng)
            };
            run.push(keyed(Kind::OldKey, i, body, None, key));
            return run;
        }
        500..600 => (
            Kind::WrongToken,
            json!({"status": "disconnected"}),
            KEY,
            "soak-wrong-token".to_owned(),
            None,
            connection,
        ),
        600..670 => (
            Kind::RivalKey,
            json!({"status": "disconnected"}),
            RIVAL_KEY,
            token,
            None,
            connection,
        ),
        670..720 => {
            let r = rng.below(RIVALS);
            (
                Kind::RivalConnection,
                json!({"status": "disconnected"}),
                KEY,
                format!("soak-rival-token-{r}"),
                None,
                rival_id(r),
            )
        }
        720..820 => (
            Kind::StaleIfMatch,
            json!({"email": "stale@example.com"}),
            KEY,
            token,
            Some("\"0\""),
            connection,
        ),
        820..940 => (
            Kind::InvalidBody,
            json!({"email": "not-an-email", "status": "active"}),
            KEY,
            token,
            None,
            connection,
        ),
        _ => (
            Kind::MalformedBody,
            Value::Null,
            KEY,
            token,
            None,
            connection,
        ),
    };
    let text = if kind == Kind::MalformedBody {
        "{\"status\":".to_owned()
    } else {
        body.to_string()
    };
    vec![Request {
        kind,
        event: event(&connection, key, &token, &text, if_match),
        if_match: if_match.and_then(|t| t.trim_matches('"').parse().ok()),
        idempotency_key: None,
        connection,
        body,
    }]
}

fn contact_body(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => json!({"email": format!("user{}@example.com", rng.below(1000))}),
        1 => json!({"mobile": format!("+1415555{:04}", rng.below(10_000))}),
        2 => json!({"email": null, "customer_id": format!("customer-{}", rng.below(50))}),
        _ => json!({"mobile": null}),
    }
}

fn other_contact_body(than: &Value, rng: &mut Rng) -> Value {
    let mut body = contact_body(rng);
    while body == *than {
        body = contact_body(rng);
    }
    body
}

/// The previous keyed request's key on its connection, with another request: another
/// contact change, or the same one with the disconnect or `If-Match` alone changed.
fn reuse(previous: &Request, rng: &mut Rng, known: &[AtomicU64]) -> Request {
    let i = index(&previous.connection).unwrap_or(0);
    let key = previous.idempotency_key.clone().unwrap_or_default();
    let mut body = previous.body.clone();
    let disconnects = body.get("status").is_some();
    let variant = match rng.below(3) {
        // `{"status":"disconnected"}` alone has nothing to keep without the disconnect.
        1 if disconnects && body.as_object().is_some_and(|m| m.len() == 1) => 2,
        v => v,
    };
    match variant {
        0 => {
            let mut other = other_contact_body(&body, rng);
            if disconnects {
                other["status"] = json!("disconnected");
            }
            keyed(Kind::KeyReused, i, other, previous.if_match, key)
        }
        1 => {
            if let Some(members) = body.as_object_mut() {
                if disconnects {
                    members.remove("status");
                } else {
                    members.insert("status".into(), json!("disconnected"));
                }
            }
            keyed(Kind::KeyReusedStatus, i, body, previous.if_match, key)
        }
        _ => {
            let if_match = match previous.if_match {
                Some(v) if rng.below(2) == 0 => Some(v + 1),
                Some(_) => None,
                None => Some(known[i].load(Ordering::Relaxed)),
            };
            keyed(Kind::KeyReusedIfMatch, i, body, if_match, key)
        }
    }
}

struct Outcome {
    request_id: String,
    kind: Kind,
    connection: String,
    body: Value,
    if_match: Option<u64>,
    idempotency_key: Option<String>,
    /// The answer said `Idempotent-Replayed: true`: a retry answered without a write.
    replayed: bool,
    status: u16,
    /// The answer's body (the connection on a 200).
    answer: Value,
    etag: Option<u64>,
    retry: bool,
    sent: SystemTime,
    answered: SystemTime,
    /// Hot phase: the round this request belonged to.
    round: Option<usize>,
    /// Answered by a process writing the bookkeeping's legacy form.
    legacy: bool,
}

fn send(api: &Api, request_id: String, request: &Request, retry: bool) -> Outcome {
    let sent = SystemTime::now();
    let (_, _, response) = api.runtime.call(&request_id, &request.event);
    let answered = SystemTime::now();
    Outcome {
        request_id,
        kind: request.kind,
        connection: request.connection.clone(),
        body: request.body.clone(),
        if_match: request.if_match,
        idempotency_key: request.idempotency_key.clone(),
        replayed: response["headers"]["idempotent-replayed"] == "true",
        status: response["statusCode"].as_u64().unwrap_or(0) as u16,
        answer: serde_json::from_str(response["body"].as_str().unwrap_or("null"))
            .unwrap_or(Value::Null),
        etag: response["headers"]["etag"]
            .as_str()
            .and_then(|t| t.trim_matches('"').parse().ok()),
        retry,
        sent,
        answered,
        round: None,
        legacy: api.legacy,
    }
}

/// One process's Runtime API, and the form its process writes.
struct Api {
    runtime: RuntimeApi,
    legacy: bool,
}

/// What the processes' drivers share: the version last answered for each connection of
/// the mixed phase (keyed writes' `If-Match`), and for the hot phase the current version of
/// each hot connection, as the round's winner answered it, and the hot item as read back
/// after each round.
struct Shared {
    legacy_writers: usize,
    legacy_bin: Option<String>,
    bin_form: Form,
    known: Vec<AtomicU64>,
    admin: String,
    rounds: usize,
    start: Barrier,
    done: Barrier,
    versions: Mutex<Vec<u64>>,
    /// Round -> the hot item's attributes (connections-admin show) after it.
    after: Mutex<BTreeMap<usize, BTreeMap<String, String>>>,
}

fn hot_body(worker: usize, round: usize) -> Value {
    match (worker + round) % 4 {
        0 => json!({"email": format!("hot{worker}-{round}@example.com")}),
        1 => json!({"mobile": format!("+1415556{worker}{:03}", round % 1000)}),
        2 => json!({"email": null, "customer_id": format!("hot-{worker}-{round}")}),
        _ => json!({"mobile": null}),
    }
}

/// A stored item as connections-admin show prints it: `name<spaces>value` lines.
fn shown(output: &Output) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, value)| (name.to_owned(), value.trim_start().to_owned()))
        .collect()
}

/// One process and its drivers (`workers`, each with its own id), `requests` each. The
/// first `--legacy-writers` processes write the bookkeeping's legacy form.
fn run_process(
    bin: &str,
    process: usize,
    workers: std::ops::Range<usize>,
    requests: usize,
    seed: u64,
    (shared, apis): (&Shared, &[Api]),
) -> Vec<Outcome> {
    let legacy_writer = process < shared.legacy_writers;
    let mut env = Vec::new();
    let bin = match (&shared.legacy_bin, legacy_writer) {
        (Some(old), true) => old.as_str(),
        _ => {
            let form = if apis[process].legacy {
                "legacy"
            } else {
                "compact"
            };
            env.push(("BOOKKEEPING_FORMAT", form));
            bin
        }
    };
    let (child, _) = spawn_with_env(bin, &apis[process].runtime, workers.len(), &env);
    children().push(child.id());
    let out = std::thread::scope(|s| {
        let handles: Vec<_> = workers
            .map(|w| {
                s.spawn(move || {
                    std::panic::catch_unwind(AssertUnwindSafe(|| {
                        drive((apis, process), requests, seed, w, shared)
                    }))
                    .unwrap_or_else(|panic| {
                        fail(&format!("worker {w} panicked: {}", panic_text(&*panic)))
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| fail("a worker ended without its outcomes"))
            })
            .collect()
    });
    let pid = child.id();
    children().retain(|p| *p != pid);
    stop(child);
    out
}

/// One driver of process `own` among `apis`: a client retry or a key's next request goes
/// to any process, as a client's retry reaches any instance, of either version.
fn drive(
    (apis, own): (&[Api], usize),
    requests: usize,
    seed: u64,
    worker: usize,
    shared: &Shared,
) -> Vec<Outcome> {
    let api = &apis[own];
    let mut rng = Rng(seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(worker as u64 + 1));
    let known = shared.known.as_slice();
    let mut previous: Option<Request> = None;
    let mut planned: VecDeque<Request> = VecDeque::new();
    let mut out = Vec::with_capacity(requests + shared.rounds);
    for n in 0..requests {
        // One request in ten repeats this worker's previous one: a client retry.
        let (request, retry, again) = match (planned.pop_front(), &previous, rng.below(10)) {
            (Some(next), _, _) => (next, false, false),
            (None, Some(p), 0) => (p.clone(), true, true),
            // Often a new key comes back with another request.
            (None, Some(p), 1 | 2) if p.kind.new_key() => (reuse(p, &mut rng, known), false, true),
            _ => {
                let mut run = make(&mut rng, known).into_iter();
                let first = run.next().expect("make makes a request");
                planned.extend(run);
                (first, false, false)
            }
        };
        let to = if again && apis.len() > 1 {
            &apis[rng.below(apis.len())]
        } else {
            api
        };
        let outcome = send(to, format!("w{worker}-{n}"), &request, retry);
        if let (200, Some(etag), Some(i)) =
            (outcome.status, outcome.etag, index(&outcome.connection))
        {
            known[i].fetch_max(etag, Ordering::Relaxed);
        }
        out.push(outcome);
        MIXED_ANSWERED.fetch_add(1, Ordering::Relaxed);
        previous = Some(request);
    }
    for round in 0..shared.rounds {
        let c = round % HOT;
        let version = shared.versions.lock().unwrap()[c];
        let body = hot_body(worker, round);
        let request = Request {
            kind: Kind::HotWrite,
            connection: hot_id(c),
            event: event(
                &hot_id(c),
                KEY,
                &format!("soak-hot-token-{c}"),
                &body.to_string(),
                Some(&format!("\"{version}\"")),
            ),
            body,
            if_match: Some(version),
            idempotency_key: None,
        };
        shared.start.wait();
        let mut outcome = send(api, format!("h{worker}-{round}"), &request, false);
        outcome.round = Some(round);
        if let (200, Some(etag)) = (outcome.status, outcome.etag) {
            let mut versions = shared.versions.lock().unwrap();
            versions[c] = versions[c].max(etag);
        }
        out.push(outcome);
        if shared.done.wait().is_leader() {
            // Every write of the round was answered, and the next round on this item is
            // HOT rounds away: the item as the round left it, at the database.
            let item = shown(&admin(&shared.admin, &["show", "--id", &hot_id(c)]));
            shared.after.lock().unwrap().insert(round, item);
            HOT_ROUNDS_DONE.fetch_add(1, Ordering::Relaxed);
        }
    }
    out
}

/// One connection as the contract says it must be after the writes replayed so far: the
/// contract model's item, with `STAMP` where a write stamps its time.
#[derive(Debug, Clone)]
struct State {
    item: contract_model::Item,
    /// Each stamped attribute's writer's send/answer window: the stamp must lie inside it.
    stamped: BTreeMap<String, (SystemTime, SystemTime)>,
}

/// Stands for a write's time in the replayed item; its windows are checked instead.
const STAMP: &str = "<the time of its write>";
/// Stands for the function's fingerprint in an `Idempotency-Key` record, followed by the
/// writer's request id and `>`; the stored fingerprint's form is checked.
const FINGERPRINT: &str = "<fingerprint of ";

impl State {
    fn seeded(id: &str, customer_id: String, status: &str) -> Self {
        let item = json!({
            "connection_id": id, "client_id": "client-soak", "customer_id": customer_id,
            "retailer_id": "01J7SC0NN73R6F5VVSP3ZKPDA3", "status": status,
            "token_scopes": ["connections:write"], "created_at": CREATED_AT,
            "updated_at": CREATED_AT, "version": 1,
        });
        Self {
            item: item.as_object().cloned().unwrap_or_default(),
            stamped: BTreeMap::new(),
        }
    }

    fn version(&self) -> u64 {
        self.item["version"].as_u64().unwrap_or(0)
    }

    fn view(&self) -> Value {
        contract_model::view(&self.item)
    }

    /// The write `o` would make, as the contract model says.
    fn apply(&self, o: &Outcome) -> Self {
        let changes = contract_model::changes(&o.body);
        let mut next = self.clone();
        let fingerprint = format!("{FINGERPRINT}{}>", o.request_id);
        let record = o
            .idempotency_key
            .as_deref()
            .map(|k| (k, fingerprint.as_str()));
        let form = if o.legacy {
            contract_model::Bookkeeping::Legacy
        } else {
            contract_model::Bookkeeping::Compact
        };
        next.item =
            contract_model::write_as(form, &self.item, &changes, &o.request_id, record, STAMP);
        let window = (o.sent, o.answered);
        next.stamped.insert("updated_at".into(), window);
        for (member, change) in &changes {
            if let (Some(stamp), contract_model::Change::Set(_)) = (member.stamps, change) {
                next.stamped.insert(stamp.into(), window);
            }
        }
        next
    }

    /// The contract's retry: disconnected, and every value asked for already stored.
    fn already_applied(&self, o: &Outcome) -> bool {
        contract_model::is_disconnected(&self.item)
            && contract_model::already_applied(&self.item, &contract_model::changes(&o.body))
    }
}

/// RFC 3339 UTC with milliseconds, as the function stamps `updated_at`.
fn rfc3339(t: SystemTime) -> String {
    let format = time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z",
    )
    .expect("a constant format");
    time::OffsetDateTime::from(t)
        .format(&format)
        .expect("a time after 1970")
}

fn within(stamp: &Value, window: Option<(SystemTime, SystemTime)>) -> bool {
    match (stamp.as_str(), window) {
        (Some(stamp), Some((from, to))) => {
            rfc3339(from).as_str() <= stamp && stamp <= rfc3339(to).as_str()
        }
        _ => false,
    }
}

/// What the function fingerprints of a keyed request: the changes it asks for (as the
/// contract reads them) and its `If-Match`.
type Fingerprint = (BTreeSet<String>, Option<u64>);

fn fingerprint(o: &Outcome) -> Fingerprint {
    let changes = o
        .body
        .as_object()
        .map(|_| contract_model::changes(&o.body))
        .unwrap_or_default()
        .iter()
        .map(|(m, change)| format!("{} {change:?}", m.name))
        .collect();
    (changes, o.if_match)
}

fn describe(o: &Outcome) -> String {
    let if_match = o
        .if_match
        .map(|v| format!(" If-Match \"{v}\""))
        .unwrap_or_default();
    match &o.idempotency_key {
        Some(key) => format!("{} ({}{if_match}, key {key})", o.request_id, o.body),
        None => format!("{} ({}{if_match})", o.request_id, o.body),
    }
}

/// What the replay of one connection learnt: who wrote each version, and when.
struct Timeline<'a> {
    /// `writers[v - 2]` wrote version v.
    writers: Vec<&'a Outcome>,
    /// For each version from 2: the earliest send and the latest answer among the requests
    /// that could have written it (identical retries explain a version alike).
    windows: Vec<(SystemTime, SystemTime)>,
    /// The first version at which the connection is disconnected.
    disconnected_from: Option<u64>,
    /// `states[v]`: the replayed item at version v (0 and 1: the seed).
    states: Vec<contract_model::Item>,
}

impl<'a> Timeline<'a> {
    /// The versions the item could have been at while `o` was in flight: from the last one
    /// written before it was sent to the last one whose writer was sent before its answer.
    fn seen(&self, o: &Outcome) -> RangeInclusive<u64> {
        let (mut from, mut to) = (1, 1);
        for (v, (sent, answered)) in (2..).zip(&self.windows) {
            if *answered < o.sent {
                from = v;
            }
            if *sent < o.answered {
                to = v;
            }
        }
        from..=to.max(from)
    }

    /// The remembered write with `key` at version v.
    fn record_of(&self, v: u64, key: &str) -> Option<&'a Outcome> {
        self.record_in(self.states.get(v as usize)?, key)
    }

    /// The write whose record for `key` a replayed item holds (its fingerprint slot names
    /// the writer: `FINGERPRINT`).
    fn record_in(&self, item: &contract_model::Item, key: &str) -> Option<&'a Outcome> {
        let fingerprint = contract_model::idempotency_record(item, key)?;
        let request_id = fingerprint.strip_prefix(FINGERPRINT)?.strip_suffix('>')?;
        self.writers
            .iter()
            .find(|w| w.request_id == request_id)
            .copied()
    }
}

/// Checks one connection's answers other than 200 against what it was while each was in
/// flight (their status and code are checked against `allowed` already).
fn check_refusals(
    id: &str,
    timeline: &Timeline<'_>,
    refusals: &[&Outcome],
    violations: &mut Vec<String>,
) {
    for o in refusals {
        let seen = timeline.seen(o);
        let versions = format!("versions {}..={} possible", seen.start(), seen.end());
        let code = o.answer["code"].as_str().unwrap_or_default();
        // 409: a disconnect of it could have been written by then.
        if o.status == 409 && timeline.disconnected_from.is_none_or(|d| *seen.end() < d) {
            violations.push(format!(
                "{id}: {} answered 409 {code}, but no disconnect of it could have been written \
                 by then ({versions}; disconnected from version {:?})",
                describe(o),
                timeline.disconnected_from
            ));
        }
        // 412: it could have been at another version than the If-Match.
        if o.status == 412
            && let Some(k) = o.if_match
            && seen.clone().all(|v| v == k)
        {
            violations.push(format!(
                "{id}: {} answered 412 {code}, but the connection was at version {k} all the \
                 while ({versions})",
                describe(o)
            ));
        }
        // 422 idempotency-key-reused: the key's remembered write was another request.
        if code == REUSED.1 {
            let explained = o.idempotency_key.as_deref().is_some_and(|key| {
                seen.clone().any(|v| {
                    timeline
                        .record_of(v, key)
                        .is_some_and(|w| fingerprint(w) != fingerprint(o))
                })
            });
            if !explained {
                violations.push(format!(
                    "{id}: {} answered 422 {code}, but no write of another request with its key \
                     was among the last {} keyed writes ({versions})",
                    describe(o),
                    contract_model::KEY_DIGESTS.len()
                ));
            }
        }
        // A remembered key is answered (a replay, or 422) before If-Match and the status.
        if let Some(key) = o.idempotency_key.as_deref()
            && matches!(o.status, 409 | 412)
            && seen.clone().all(|v| timeline.record_of(v, key).is_some())
        {
            violations.push(format!(
                "{id}: {} answered {} {code}, but its key was remembered all the while ({versions})",
                describe(o),
                o.status
            ));
        }
    }
}

/// Replays one connection's accepted writes and checks every answer and the final item.
/// Returns the replayed state and who wrote each version (None when the replay could not
/// go on).
fn replay<'a>(
    id: &str,
    seed: State,
    answers: &[&'a Outcome],
    item: Option<&Value>,
    violations: &mut Vec<String>,
) -> Option<(State, Timeline<'a>)> {
    let mut by_version: BTreeMap<u64, Vec<&Outcome>> = BTreeMap::new();
    let (replays, answers): (Vec<&Outcome>, Vec<&Outcome>) =
        answers.iter().copied().partition(|o| o.replayed);
    for o in &answers {
        match o.etag {
            Some(v) => by_version.entry(v).or_default().push(o),
            None => violations.push(format!(
                "{id}: {} answered 200 without an ETag",
                o.request_id
            )),
        }
    }
    let Some(item) = item else {
        violations.push(format!("{id} is gone"));
        return None;
    };
    let final_version = item["version"].as_u64().unwrap_or(0);
    if let Some((v, os)) = by_version
        .iter()
        .find(|(v, _)| **v < 2 || **v > final_version)
    {
        violations.push(format!(
            "{id}: {} answered version {v}, but the item went 1 -> {final_version}",
            os[0].request_id
        ));
    }
    let mut state = seed;
    // The state at each version, and who wrote it.
    let mut history = vec![state.clone(), state.clone()];
    let mut timeline = Timeline {
        writers: Vec::new(),
        windows: Vec::new(),
        disconnected_from: None,
        states: vec![state.item.clone(), state.item.clone()],
    };
    let final_item = contract_model::Item::from_iter(
        item.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let recorded_requests = contract_model::recent_requests(&final_item);
    for v in 2..=final_version {
        let group = by_version.get(&v).map(Vec::as_slice).unwrap_or_default();
        // Identical requests (a disconnect and its retries) explain a version equally; the
        // item's own record of its last writers says which one wrote.
        let recorded = recorded_requests
            .get((final_version - v) as usize)
            .map(String::as_str);
        let candidates: Vec<&Outcome> = group
            .iter()
            .copied()
            .filter(|o| state.apply(o).view() == o.answer)
            .collect();
        let writer = candidates
            .iter()
            .find(|o| Some(contract_model::digest(&o.request_id).as_str()) == recorded)
            .or(candidates.first())
            .copied();
        let Some(writer) = writer else {
            let asked: Vec<String> = group
                .iter()
                .map(|o| format!("{} {} -> {}", o.request_id, o.body, o.answer))
                .collect();
            violations.push(format!(
                "{id}: no request explains version {v} from {} (answers: {asked:?})",
                state.view()
            ));
            return None;
        };
        let next = state.apply(writer);
        // A key remembered on this connection never writes twice.
        if let Some(key) = &writer.idempotency_key
            && let Some(first) = timeline.record_in(&state.item, key)
        {
            violations.push(format!(
                "{id}: key {key} wrote twice, while remembered: {} and {}",
                describe(first),
                describe(writer)
            ));
        }
        timeline.writers.push(writer);
        timeline.windows.push((
            candidates
                .iter()
                .map(|o| o.sent)
                .min()
                .unwrap_or(writer.sent),
            candidates
                .iter()
                .map(|o| o.answered)
                .max()
                .unwrap_or(writer.answered),
        ));
        if timeline.disconnected_from.is_none() && contract_model::is_disconnected(&next.item) {
            timeline.disconnected_from = Some(v);
        }
        if writer.if_match.is_some_and(|k| k + 1 != v) {
            violations.push(format!(
                "{id}: {} wrote version {v} with If-Match \"{}\"",
                writer.request_id,
                writer.if_match.unwrap_or(0)
            ));
        }
        for o in group.iter().filter(|o| o.request_id != writer.request_id) {
            if o.answer != next.view() || !next.already_applied(o) {
                violations.push(format!(
                    "{id}: version {v} answered by two writes: {} {} and {} {}",
                    writer.request_id, writer.body, o.request_id, o.body
                ));
            } else if o.if_match.is_some_and(|k| k != v) {
                violations.push(format!(
                    "{id}: {} answered at version {v} despite If-Match \"{}\"",
                    o.request_id,
                    o.if_match.unwrap_or(0)
                ));
            } else if let Some(key) = &o.idempotency_key
                && let Some(w) = timeline.record_in(&next.item, key)
            {
                violations.push(format!(
                    "{id}: {} answered at version {v} as a retry without a write, but version \
                     {v} remembers its key from {}: a replay or 422 comes first",
                    describe(o),
                    describe(w)
                ));
            }
        }
        state = next;
        history.push(state.clone());
        timeline.states.push(state.item.clone());
    }
    // A replay is the connection as it was at its version, where the key's remembered
    // write is the same request (body and If-Match).
    for o in &replays {
        let v = o.etag.unwrap_or(0);
        match history.get(v as usize) {
            Some(at) if at.view() == o.answer => {}
            _ => violations.push(format!(
                "{id}: replay {} answered version {v} as {}, not as stored",
                o.request_id, o.answer
            )),
        }
        let key = o.idempotency_key.as_deref().unwrap_or_default();
        match timeline.record_of(v, key) {
            Some(w) if fingerprint(w) == fingerprint(o) => {}
            Some(w) => violations.push(format!(
                "{id}: {} was answered as a replay at version {v}, but its key's remembered \
                 write is another request, {}: the contract answers 422 idempotency-key-reused",
                describe(o),
                describe(w)
            )),
            None => violations.push(format!(
                "{id}: {} was answered as a replay at version {v}, but no write with its key \
                 is among the last {} keyed writes",
                describe(o),
                contract_model::KEY_DIGESTS.len()
            )),
        }
    }

    // The final item, every member; stamps by their writers' windows.
    let members = |o: &contract_model::Item| -> BTreeSet<String> { o.keys().cloned().collect() };
    let stored = item.as_object().cloned().unwrap_or_default();
    if members(&stored) != members(&state.item) {
        violations.push(format!(
            "{id}: members {:?}, the replay has {:?}",
            members(&stored),
            members(&state.item)
        ));
    }
    for (name, value) in &state.item {
        // A fingerprint (compact) or `<key> <fingerprint>` (legacy): the key as replayed,
        // the fingerprint's form only.
        let record = value
            .as_str()
            .and_then(|v| v.find(FINGERPRINT).map(|at| &v[..at]));
        if let Some(key) = record {
            let stored = item[name].as_str().unwrap_or_default();
            let fingerprint = stored.strip_prefix(key).unwrap_or_default();
            if fingerprint.len() != 32 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                violations.push(format!(
                    "{id}: {name} is {stored:?}, the replay has {value}"
                ));
            }
        } else if value == STAMP {
            if !within(&item[name], state.stamped.get(name).copied()) {
                violations.push(format!(
                    "{id}: {name} {} is not the time of the write that stamped it",
                    item[name]
                ));
            }
        } else if item[name] != *value {
            violations.push(format!(
                "{id}: stored {name}={}, the replay has {value}",
                item[name]
            ));
        }
    }
    Some((state, timeline))
}

/// Rounds of the hot phase that must have had a loser meet the winner at the item: a tenth.
/// A loser met the winner when the database refused it with 412 for the version the winner
/// wrote from (both carried it as `If-Match`, and the item read back after the round holds
/// the winner's write alone, so the loser's conditional write reached the item after the
/// winner's landed and was refused there), while it was in flight with the winner. The
/// database side fails only when the writes did not meet at the item (a loser's write
/// landed too, or the item moved otherwise). The in-flight side: a 412 is answered only
/// after the winner's write landed, so a loser misses the winner only if, released by the
/// same barrier, it was still unsent when the winner's answer was back: its thread kept off
/// the CPU for a whole round trip through a function process and DynamoDB Local, and in
/// such a round all of its losers at once. On 2 cores that hit 1 to 4 losers of 450 and at
/// most 1 round of 150, also with 4 busy loops competing for the cores (34 losers and no
/// round with the read-back on a machine busy with builds): far from 9 rounds in 10.
/// Writes serialised before they reach the function (a lock, a queue) miss in every round.
fn required_meetings(hot_rounds: usize) -> usize {
    hot_rounds.div_ceil(10)
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}

fn main() {
    let Args {
        bin,
        admin: admin_bin,
        processes,
        requests,
        hot_rounds,
        seed: rng_seed,
        show,
        time_limit_seconds,
        legacy_writers,
        legacy_bin,
        bin_form,
        concurrency,
    } = Args::parse();
    // Each process's drivers: every second process concurrent (odd ones).
    let mut next = 0;
    let layout: Vec<std::ops::Range<usize>> = (0..processes)
        .map(|p| {
            let n = if p % 2 == 1 { concurrency } else { 1 };
            next += n;
            next - n..next
        })
        .collect();
    let drivers = next;

    // A watchdog for the whole soak: a hung process, request or admin call ends in a clear
    // failure instead of a soak that never returns.
    let total_requests = requests.div_ceil(drivers) * drivers;
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(time_limit_seconds));
        let phase = *PHASE.lock().unwrap_or_else(PoisonError::into_inner);
        fail(&format!(
            "time limit of {time_limit_seconds} s reached while {phase}: {} of {total_requests} mixed \
             requests answered, {} of {hot_rounds} hot rounds done (--time-limit-seconds)",
            MIXED_ANSWERED.load(Ordering::Relaxed),
            HOT_ROUNDS_DONE.load(Ordering::Relaxed),
        ))
    });

    phase("seeding the tables");
    let seed_file = std::env::temp_dir().join(format!("soak-seed-{}.json", std::process::id()));
    std::fs::write(&seed_file, seed().to_string())
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", seed_file.display())));
    let seed_path = seed_file.to_string_lossy().into_owned();
    let seeded = admin(&admin_bin, &["seed-demo", "--file", &seed_path]);
    print!("{}", String::from_utf8_lossy(&seeded.stdout));

    let started = Instant::now();
    let per = requests.div_ceil(drivers);
    let shared = Shared {
        legacy_writers,
        legacy_bin,
        bin_form,
        known: (0..CONNECTIONS).map(|_| AtomicU64::new(1)).collect(),
        admin: admin_bin.clone(),
        rounds: hot_rounds,
        start: Barrier::new(drivers),
        done: Barrier::new(drivers),
        versions: Mutex::new(vec![1; HOT]),
        after: Mutex::new(BTreeMap::new()),
    };
    // Every process's Runtime API before any driver starts: a driver's retries go to any.
    let apis: Vec<Api> = (0..processes)
        .map(|process| Api {
            runtime: RuntimeApi::start(),
            legacy: process < shared.legacy_writers || shared.bin_form == Form::Legacy,
        })
        .collect();
    phase("running the processes");
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = layout
            .iter()
            .enumerate()
            .map(|(process, workers)| {
                let (bin, workers, with) = (bin.clone(), workers.clone(), (&shared, &apis[..]));
                s.spawn(move || run_process(&bin, process, workers, per, rng_seed, with))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| fail("a process ended without its outcomes"))
            })
            .collect()
    });
    let elapsed = started.elapsed();

    phase("reading the table back");
    let dump = admin(&admin_bin, &["dump"]);
    phase("checking the outcomes");
    let items: BTreeMap<String, Value> = String::from_utf8_lossy(&dump.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["connection_id"].as_str().unwrap_or("").to_owned(), v))
        .collect();

    let mut violations: Vec<String> = Vec::new();
    let mut by_kind: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    let mut accepted: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    let mut refused: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    let mut problems_checked = 0;
    for o in &outcomes {
        *by_kind
            .entry(format!("{:?}", o.kind))
            .or_default()
            .entry(o.status)
            .or_default() += 1;
        if o.replayed && o.idempotency_key.is_none() {
            violations.push(format!("{} replayed without a key", o.request_id));
        }
        // The status, and for a problem its code (and its own `status` member).
        let allowed = allowed(o.kind, &o.body, o.if_match);
        let code = o.answer["code"].as_str().unwrap_or_default();
        let fits = allowed
            .iter()
            .any(|(status, c)| *status == o.status && (o.status == 200 || code == *c));
        if o.status != 200 {
            problems_checked += 1;
        }
        if !fits || (o.status != 200 && o.answer["status"] != o.status) {
            violations.push(format!(
                "{} {:?} on {} answered {} {} (allowed {allowed:?})",
                describe(o),
                o.kind,
                o.connection,
                o.status,
                if o.status == 200 {
                    String::new()
                } else {
                    o.answer.to_string()
                }
            ));
        }
        if o.status == 200 {
            accepted.entry(o.connection.clone()).or_default().push(o);
        } else {
            refused.entry(o.connection.clone()).or_default().push(o);
        }
    }

    let mut disconnected = 0;
    let mut writes = 0;
    let mut old_keys_wrote_again = 0;
    let seeds = (0..CONNECTIONS)
        .map(|i| {
            (
                id(i),
                State::seeded(&id(i), format!("customer-{i}"), STATUSES[i % 3]),
            )
        })
        .chain((0..HOT).map(|i| {
            (
                hot_id(i),
                State::seeded(&hot_id(i), format!("hot-{i}"), "active"),
            )
        }));
    for (cid, seed) in seeds {
        let answers = accepted.remove(&cid).unwrap_or_default();
        let Some((state, timeline)) =
            replay(&cid, seed, &answers, items.get(&cid), &mut violations)
        else {
            continue;
        };
        writes += state.version() - 1;
        disconnected += usize::from(state.stamped.contains_key("disconnected_at"));
        old_keys_wrote_again += timeline
            .writers
            .iter()
            .filter(|w| w.kind == Kind::OldKey)
            .count();
        check_refusals(
            &cid,
            &timeline,
            refused.get(&cid).map(Vec::as_slice).unwrap_or_default(),
            &mut violations,
        );
    }
    if let Some((cid, _)) = accepted.iter().next() {
        violations.push(format!("{cid}: answered 200, but it is not the caller's"));
    }
    for i in 0..RIVALS {
        let rid = rival_id(i);
        let item = items.get(&rid);
        if item.and_then(|v| v["version"].as_u64()) != Some(1)
            || item.map(|v| &v["updated_at"]) != Some(&json!(CREATED_AT))
        {
            violations.push(format!("{rid}, another client's connection, changed"));
        }
    }

    // Hot phase: how many losers met the winner at the item. The item as the round left it
    // (read back at once) must hold the winner's write alone: its version, its request id
    // last, the previous version's writer before it. A loser refused with 412 for the
    // If-Match the winner wrote from was then refused by the database for that version,
    // after the winner's write landed; it met the winner if it was also in flight with it
    // (sent before the winner was answered, answered after the winner was sent).
    let after = shared
        .after
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut rounds_met = 0;
    let mut refused_at_version = 0;
    let mut in_flight = 0;
    let mut requests_met = 0;
    let mut hot_winners = 0;
    let mut winner_of: BTreeMap<usize, &Outcome> = BTreeMap::new();
    for round in 0..hot_rounds {
        let in_round: Vec<&Outcome> = outcomes.iter().filter(|o| o.round == Some(round)).collect();
        let winners: Vec<&&Outcome> = in_round.iter().filter(|o| o.status == 200).collect();
        if winners.len() != 1 {
            violations.push(format!("hot round {round}: {} winners", winners.len()));
            continue;
        }
        hot_winners += 1;
        let w = winners[0];
        let from = w.if_match.unwrap_or(0);
        winner_of.insert(round, w);
        let stored = after.get(&round).cloned().unwrap_or_default();
        // The previous version's writer: none but the seed (the item remembers each request
        // once), or the last round's winner on this item.
        let before = match from {
            1 => Some(None),
            _ => round
                .checked_sub(HOT)
                .and_then(|r| winner_of.get(&r))
                .filter(|p| p.etag == Some(from))
                .map(|p| Some(p.request_id.as_str())),
        };
        let attribute = |name: &str| stored.get(name).map(String::as_str);
        let as_item = stored
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        let recent = contract_model::recent_requests(&as_item);
        let recent = |i: usize| recent.get(i).map(String::as_str);
        let digest = |id: Option<&str>| id.map(contract_model::digest);
        let holds_the_winner = w.etag == Some(from + 1)
            && attribute("version") == Some((from + 1).to_string().as_str())
            && recent(0) == digest(Some(&w.request_id)).as_deref()
            && before.is_some_and(|b| recent(1) == digest(b).as_deref());
        if !holds_the_winner {
            violations.push(format!(
                "hot round {round}: {} read back after it is version {:?}, written last by {:?} \
                 after {:?}; the winner {} wrote version {:?} from If-Match \"{from}\" after {:?}",
                w.connection,
                attribute("version"),
                recent(0),
                recent(1),
                w.request_id,
                w.etag,
                before
            ));
            continue;
        }
        let losers: Vec<&Outcome> = in_round
            .iter()
            .copied()
            .filter(|o| o.status == 412)
            .collect();
        let at_version = |o: &&Outcome| o.answer["code"] == STALE.1 && o.if_match == Some(from);
        let flying = |o: &&Outcome| o.sent < w.answered && o.answered > w.sent;
        refused_at_version += losers.iter().filter(|o| at_version(o)).count();
        in_flight += losers.iter().filter(|o| flying(o)).count();
        let met = losers.iter().filter(|o| at_version(o) && flying(o)).count();
        requests_met += met;
        rounds_met += usize::from(met > 0);
    }
    let required = required_meetings(hot_rounds);
    if rounds_met < required {
        violations.push(format!(
            "hot phase: a loser was refused by the database for the version the winner wrote \
             from, while in flight with the winner, in {rounds_met} of {hot_rounds} rounds, \
             fewer than the {required} required: the processes' writes did not race at the \
             item, so the single-winner rounds prove little"
        ));
    }

    let retries = outcomes.iter().filter(|o| o.retry).count();
    let replays = outcomes.iter().filter(|o| o.replayed).count();
    let summary = json!({
        "processes": processes,
        "concurrency_of_every_second_process": concurrency,
        "drivers": drivers,
        "requests": outcomes.len(),
        "client_retries": retries,
        "idempotent_replays": replays,
        "old_keys_that_wrote_again": old_keys_wrote_again,
        "problem_answers_checked": problems_checked,
        "seconds": elapsed.as_secs_f64(),
        "connections_disconnected": disconnected,
        "writes_replayed": writes,
        "hot": {"rounds": hot_rounds, "single_winner_rounds": hot_winners,
                "rounds_where_writes_met": rounds_met, "rounds_required_to_meet": required,
                "losers_refused_at_the_winners_version": refused_at_version,
                "losers_in_flight_with_the_winner": in_flight,
                "losers_that_met_the_winner": requests_met},
        "statuses_by_kind": by_kind,
        "violations": violations.len(),
    });
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    for v in violations.iter().take(show) {
        eprintln!("violation: {v}");
    }
    if !violations.is_empty() {
        std::process::exit(1);
    }
}
