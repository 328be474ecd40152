//! Concurrent soak: several function processes, each started as Lambda starts it, hammer a
//! shared set of connections in DynamoDB Local with mixed requests; every answer and the
//! table afterwards are checked against a model of the contract.
//!
//!   soak --bin FUNCTION --admin CONNECTIONS_ADMIN [--processes 4] [--requests 10000]
//!        [--hot-rounds 150] [--seed 7] [--show 20]   (`soak --help` says what each is)
//!
//! Two phases. Mixed: random requests on 64 connections, one in ten a client retry of the
//! previous one. Some contact writes carry an `Idempotency-Key`: their retries must be
//! answered as replays (`Idempotent-Replayed`, the connection as it was at the replay's
//! version, after a write by the same key and body) and never write twice while the key is
//! remembered; now and then the key comes back with another body (422
//! `idempotency-key-reused` once the key wrote). Hot: every process sends, at the same moment, a write with `If-Match` at
//! the current version of one of a few connections; exactly one may win.
//!
//! The model replays each connection's accepted writes in version order from its seed:
//! every version above 1 has exactly one writer (the request whose body, applied to the
//! version before, gives what it answered); any other answer at that version must be a
//! retry the contract answers without writing (disconnected, every value already stored).
//! Every 200 must show the replayed connection, and the final item must equal the replay
//! in every member, including the request ids of the last writes and the timestamps
//! (within the writer's send/answer window). A 409 needs a disconnect sent before it was
//! answered; an accepted write with `If-Match: "k"` must have written version k+1.
//!
//! The hot phase must really race: at least a tenth of its rounds need a loser in flight
//! with the winner (see `required_meetings`), or that is a violation.
//!
//! The environment names the tables and the endpoint (as for the function). Exits 1 on any
//! violation. Bounded: a fixed number of requests, each answered within 30 s, and the whole
//! soak within `--time-limit-seconds`; a worker that panics ends the soak at once.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use serde_json::{Value, json};
use update_connection_testkit::{RuntimeApi, spawn, stop};

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
    /// How many violations to print (all are counted).
    #[arg(long, default_value_t = 20)]
    show: usize,
    /// The whole soak fails (exit 1, its processes killed) if it has not finished within
    /// this many seconds.
    #[arg(long, default_value_t = 600, value_parser = RangedU64ValueParser::<u64>::new().range(1..))]
    time_limit_seconds: u64,
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
/// Where the item keeps the request ids of its last writes, newest first.
const RECENT: [&str; 4] = contract_model::RECENT_REQUEST_IDS;
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
    /// A contact write with an `Idempotency-Key`; its client retries resend it whole.
    Keyed,
    /// The previous keyed request's key with another body.
    KeyReused,
}

impl Kind {
    fn allowed(self) -> &'static [u16] {
        match self {
            Kind::Disconnect => &[200],
            Kind::Contact => &[200, 409],
            Kind::WrongToken => &[401],
            Kind::RivalKey | Kind::RivalConnection => &[404],
            Kind::StaleIfMatch => &[412],
            Kind::InvalidBody => &[422],
            Kind::MalformedBody => &[400],
            Kind::HotWrite => &[200, 412],
            Kind::Keyed => &[200, 409],
            // 422 once the key's first request wrote; otherwise it is a request of its own.
            Kind::KeyReused => &[200, 409, 422],
        }
    }
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

fn make(rng: &mut Rng) -> Request {
    let i = rng.below(CONNECTIONS);
    let connection = id(i);
    let token = format!("soak-token-{i}");
    let roll = rng.below(100);
    let (kind, body, key, token, if_match, connection) = match roll {
        // Rare, so that most connections take many writes before they end.
        0..1 => (
            Kind::Disconnect,
            json!({"status": "disconnected"}),
            KEY,
            token,
            None,
            connection,
        ),
        1..42 => (
            Kind::Contact,
            contact_body(rng),
            KEY,
            token,
            None,
            connection,
        ),
        42..50 => {
            let key = format!("soak-{:016x}", rng.next());
            let body = contact_body(rng);
            return Request {
                kind: Kind::Keyed,
                event: keyed_event(
                    &connection,
                    KEY,
                    &token,
                    &body.to_string(),
                    None,
                    Some(&key),
                ),
                if_match: None,
                idempotency_key: Some(key),
                connection,
                body,
            };
        }
        50..60 => (
            Kind::WrongToken,
            json!({"status": "disconnected"}),
            KEY,
            "soak-wrong-token".to_owned(),
            None,
            connection,
        ),
        60..67 => (
            Kind::RivalKey,
            json!({"status": "disconnected"}),
            RIVAL_KEY,
            token,
            None,
            connection,
        ),
        67..72 => {
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
        72..82 => (
            Kind::StaleIfMatch,
            json!({"email": "stale@example.com"}),
            KEY,
            token,
            Some("\"0\""),
            connection,
        ),
        82..94 => (
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
    Request {
        kind,
        event: event(&connection, key, &token, &text, if_match),
        if_match: if_match.and_then(|t| t.trim_matches('"').parse().ok()),
        idempotency_key: None,
        connection,
        body,
    }
}

fn contact_body(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => json!({"email": format!("user{}@example.com", rng.below(1000))}),
        1 => json!({"mobile": format!("+1415555{:04}", rng.below(10_000))}),
        2 => json!({"email": null, "customer_id": format!("customer-{}", rng.below(50))}),
        _ => json!({"mobile": null}),
    }
}

/// The previous keyed request's key on its connection, with another body.
fn reuse(previous: &Request, rng: &mut Rng) -> Request {
    let i: usize = previous.connection[7..].parse().unwrap_or(0);
    let mut body = contact_body(rng);
    while body == previous.body {
        body = contact_body(rng);
    }
    let key = previous.idempotency_key.clone();
    Request {
        kind: Kind::KeyReused,
        event: keyed_event(
            &previous.connection,
            KEY,
            &format!("soak-token-{i}"),
            &body.to_string(),
            None,
            key.as_deref(),
        ),
        if_match: None,
        idempotency_key: key,
        connection: previous.connection.clone(),
        body,
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
}

fn send(api: &RuntimeApi, request_id: String, request: &Request, retry: bool) -> Outcome {
    let sent = SystemTime::now();
    let (_, _, response) = api.call(&request_id, &request.event);
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
    }
}

/// What the hot phase shares between the processes' drivers: the current version of each
/// hot connection, as the round's winner answered it.
struct Hot {
    rounds: usize,
    start: Barrier,
    done: Barrier,
    versions: Mutex<Vec<u64>>,
}

fn hot_body(worker: usize, round: usize) -> Value {
    match (worker + round) % 4 {
        0 => json!({"email": format!("hot{worker}-{round}@example.com")}),
        1 => json!({"mobile": format!("+1415556{worker}{:03}", round % 1000)}),
        2 => json!({"email": null, "customer_id": format!("hot-{worker}-{round}")}),
        _ => json!({"mobile": null}),
    }
}

fn drive(bin: &str, requests: usize, seed: u64, worker: usize, hot: &Hot) -> Vec<Outcome> {
    let api = RuntimeApi::start();
    let (child, _) = spawn(bin, &api);
    children().push(child.id());
    let mut rng = Rng(seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(worker as u64 + 1));
    let mut previous: Option<Request> = None;
    let mut out = Vec::with_capacity(requests + hot.rounds);
    for n in 0..requests {
        // One request in ten repeats this worker's previous one: a client retry.
        let (request, retry) = match (&previous, rng.below(10)) {
            (Some(p), 0) => (p.clone(), true),
            // Now and then a keyed request's key comes back with another body.
            (Some(p), 1) if p.kind == Kind::Keyed => (reuse(p, &mut rng), false),
            _ => (make(&mut rng), false),
        };
        out.push(send(&api, format!("w{worker}-{n}"), &request, retry));
        MIXED_ANSWERED.fetch_add(1, Ordering::Relaxed);
        previous = Some(request);
    }
    for round in 0..hot.rounds {
        let c = round % HOT;
        let version = hot.versions.lock().unwrap()[c];
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
        hot.start.wait();
        let mut outcome = send(&api, format!("h{worker}-{round}"), &request, false);
        outcome.round = Some(round);
        if let (200, Some(etag)) = (outcome.status, outcome.etag) {
            let mut versions = hot.versions.lock().unwrap();
            versions[c] = versions[c].max(etag);
        }
        out.push(outcome);
        if hot.done.wait().is_leader() {
            HOT_ROUNDS_DONE.fetch_add(1, Ordering::Relaxed);
        }
    }
    let pid = child.id();
    children().retain(|p| *p != pid);
    stop(child);
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
/// Stands for the function's fingerprint in an `Idempotency-Key` record; its form is checked.
const FINGERPRINT: &str = "<fingerprint>";

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
        let record = o
            .idempotency_key
            .as_ref()
            .map(|k| format!("{k} {FINGERPRINT}"));
        next.item = contract_model::write_keyed(
            &self.item,
            &changes,
            &o.request_id,
            record.as_deref(),
            STAMP,
        );
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

/// Replays one connection's accepted writes and checks every answer and the final item.
/// Returns the replayed state (None when the replay could not go on).
fn replay(
    id: &str,
    seed: State,
    answers: &[&Outcome],
    item: Option<&Value>,
    violations: &mut Vec<String>,
) -> Option<State> {
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
    let mut writers: Vec<&Outcome> = Vec::new();
    for v in 2..=final_version {
        let group = by_version.get(&v).map(Vec::as_slice).unwrap_or_default();
        // Identical requests (a disconnect and its retries) explain a version equally; the
        // item's own record of its last writers says which one wrote.
        let recorded = RECENT
            .get((final_version - v) as usize)
            .and_then(|name| item[*name].as_str());
        let candidates: Vec<&&Outcome> = group
            .iter()
            .filter(|o| state.apply(o).view() == o.answer)
            .collect();
        let writer = candidates
            .iter()
            .find(|o| Some(o.request_id.as_str()) == recorded)
            .or(candidates.first());
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
        if let Some(key) = &writer.idempotency_key {
            let keyed: Vec<&&Outcome> = writers
                .iter()
                .rev()
                .filter(|w| w.idempotency_key.is_some())
                .take(contract_model::IDEMPOTENCY_RECORDS.len())
                .collect();
            if let Some(first) = keyed
                .iter()
                .find(|w| w.idempotency_key.as_ref() == Some(key))
            {
                violations.push(format!(
                    "{id}: key {key} wrote twice: {} and {}",
                    first.request_id, writer.request_id
                ));
            }
        }
        writers.push(writer);
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
            }
        }
        state = next;
        history.push(state.clone());
    }
    // A replay is the connection as it was at its version, after a write by the same key
    // and request.
    for o in &replays {
        let v = o.etag.unwrap_or(0) as usize;
        match history.get(v) {
            Some(at) if at.view() == o.answer => {}
            _ => violations.push(format!(
                "{id}: replay {} answered version {v} as {}, not as stored",
                o.request_id, o.answer
            )),
        }
        let explained = writers.iter().take(v.saturating_sub(1)).any(|w| {
            w.idempotency_key == o.idempotency_key && w.body == o.body && w.if_match == o.if_match
        });
        if !explained {
            violations.push(format!(
                "{id}: {} was answered as a replay, but no write with its key and body came first",
                o.request_id
            ));
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
        let record = value
            .as_str()
            .and_then(|v| v.strip_suffix(&format!(" {FINGERPRINT}")));
        if let Some(key) = record {
            let stored = item[name].as_str().unwrap_or_default();
            let fingerprint = stored.strip_prefix(&format!("{key} ")).unwrap_or_default();
            if fingerprint.len() != 32 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
                violations.push(format!(
                    "{id}: {name} is {stored:?}, the replay has key {key}"
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
    Some(state)
}

/// Rounds of the hot phase that must have had a loser in flight with the winner: a tenth.
/// A 412 is answered only after the winner's write landed, so a loser misses the winner
/// only if, released by the same barrier, it was still unsent when the winner's answer was
/// back: its thread kept off the CPU for a whole round trip through a function process and
/// DynamoDB Local, and in such a round all of its losers at once. On 2 cores that hit 1 to
/// 4 losers of 450 and at most 1 round of 150, also with 4 busy loops competing for the
/// cores: far from 9 rounds in 10. Serialised writes (a lock, a queue) miss in every round.
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
    } = Args::parse();

    // A watchdog for the whole soak: a hung process, request or admin call ends in a clear
    // failure instead of a soak that never returns.
    let total_requests = requests.div_ceil(processes) * processes;
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
    let per = requests.div_ceil(processes);
    let hot = Hot {
        rounds: hot_rounds,
        start: Barrier::new(processes),
        done: Barrier::new(processes),
        versions: Mutex::new(vec![1; HOT]),
    };
    phase("running the processes");
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..processes)
            .map(|w| {
                let bin = bin.clone();
                let hot = &hot;
                s.spawn(move || {
                    // At once: the other workers would wait for this one at a barrier.
                    std::panic::catch_unwind(AssertUnwindSafe(|| {
                        drive(&bin, per, rng_seed, w, hot)
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
    for o in &outcomes {
        *by_kind
            .entry(format!("{:?}", o.kind))
            .or_default()
            .entry(o.status)
            .or_default() += 1;
        if o.kind == Kind::KeyReused
            && o.status == 422
            && o.answer["code"] != "idempotency-key-reused"
        {
            violations.push(format!("{} answered 422 {}", o.request_id, o.answer));
        }
        if o.replayed && o.idempotency_key.is_none() {
            violations.push(format!("{} replayed without a key", o.request_id));
        }
        if !o.kind.allowed().contains(&o.status) {
            violations.push(format!(
                "{} {:?} on {} answered {} (allowed {:?})",
                o.request_id,
                o.kind,
                o.connection,
                o.status,
                o.kind.allowed()
            ));
        }
        if o.status == 200 {
            accepted.entry(o.connection.clone()).or_default().push(o);
        }
    }

    let mut disconnected = 0;
    let mut writes = 0;
    // When each connection's first answered disconnect was sent: its write came after.
    let mut disconnects: BTreeMap<&str, SystemTime> = BTreeMap::new();
    for o in outcomes
        .iter()
        .filter(|o| o.status == 200 && o.answer["status"] == "disconnected")
    {
        let sent = disconnects.entry(&o.connection).or_insert(o.sent);
        *sent = (*sent).min(o.sent);
    }
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
        let Some(state) = replay(&cid, seed, &answers, items.get(&cid), &mut violations) else {
            continue;
        };
        writes += state.version() - 1;
        disconnected += usize::from(state.stamped.contains_key("disconnected_at"));
    }
    if let Some((cid, _)) = accepted.iter().next() {
        violations.push(format!("{cid}: answered 200, but it is not the caller's"));
    }
    // A 409 only once a disconnect of that connection was on its way.
    for o in outcomes.iter().filter(|o| o.status == 409) {
        if disconnects
            .get(o.connection.as_str())
            .is_none_or(|sent| *sent > o.answered)
        {
            violations.push(format!(
                "{} on {} answered 409 before any disconnect of it was sent",
                o.request_id, o.connection
            ));
        }
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

    // Hot phase: how many requests really met on one item. A loser met the winner when it
    // was sent before the winner was answered and answered after the winner was sent.
    let mut rounds_met = 0;
    let mut requests_met = 0;
    let mut hot_winners = 0;
    for round in 0..hot_rounds {
        let in_round: Vec<&Outcome> = outcomes.iter().filter(|o| o.round == Some(round)).collect();
        let winners: Vec<&&Outcome> = in_round.iter().filter(|o| o.status == 200).collect();
        if winners.len() != 1 {
            violations.push(format!("hot round {round}: {} winners", winners.len()));
            continue;
        }
        hot_winners += 1;
        let w = winners[0];
        let met = in_round
            .iter()
            .filter(|o| o.status == 412 && o.sent < w.answered && o.answered > w.sent)
            .count();
        requests_met += met;
        rounds_met += usize::from(met > 0);
    }
    let required = required_meetings(hot_rounds);
    if rounds_met < required {
        violations.push(format!(
            "hot phase: a loser was in flight with the winner in {rounds_met} of {hot_rounds} \
             rounds, fewer than the {required} required: the processes' writes did not race, so \
             the single-winner rounds prove little"
        ));
    }

    let retries = outcomes.iter().filter(|o| o.retry).count();
    let replays = outcomes.iter().filter(|o| o.replayed).count();
    let summary = json!({
        "processes": processes,
        "requests": outcomes.len(),
        "client_retries": retries,
        "idempotent_replays": replays,
        "seconds": elapsed.as_secs_f64(),
        "connections_disconnected": disconnected,
        "writes_replayed": writes,
        "hot": {"rounds": hot_rounds, "single_winner_rounds": hot_winners,
                "rounds_where_writes_met": rounds_met, "rounds_required_to_meet": required,
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
