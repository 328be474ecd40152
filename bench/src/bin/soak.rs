//! Concurrent soak: several function processes, each started as Lambda starts it, hammer a
//! shared set of connections in DynamoDB Local with mixed requests; every answer and the
//! table afterwards are checked against a model of the contract.
//!
//!   soak --bin FUNCTION --admin CONNECTIONS_ADMIN [--processes 4] [--requests 10000] [--seed 7]
//!
//! The environment names the tables and the endpoint (as for the function). Exits 1 on any
//! violation. Bounded: a fixed number of requests, each answered within 30 s.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};
use update_connection_bench::{RuntimeApi, flag, spawn, stop};

const KEY: &str = "soak-key-a";
const RIVAL_KEY: &str = "soak-key-rival";
const CONNECTIONS: usize = 64;
const RIVALS: usize = 4;
const STATUSES: [&str; 3] = ["active", "initialized", "unauthenticated"];

fn id(i: usize) -> String {
    format!("01JSAKE{i:019}")
}

fn rival_id(i: usize) -> String {
    format!("01JRVAR{i:019}")
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
        }
    }
}

#[derive(Clone)]
struct Request {
    kind: Kind,
    connection: String,
    body: Value,
    event: Vec<u8>,
}

fn event(connection: &str, key: &str, token: &str, body: &str, if_match: Option<&str>) -> Vec<u8> {
    let mut headers = json!({"content-type": "application/json", "x-api-key": key, "authorization": format!("Bearer {token}")});
    if let Some(tag) = if_match {
        headers["if-match"] = json!(tag);
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
        0..4 => (
            Kind::Disconnect,
            json!({"status": "disconnected"}),
            KEY,
            token,
            None,
            connection,
        ),
        4..50 => {
            let body = match rng.below(4) {
                0 => json!({"email": format!("user{}@example.com", rng.below(1000))}),
                1 => json!({"mobile": format!("+1415555{:04}", rng.below(10_000))}),
                2 => json!({"email": null, "customer_id": format!("customer-{}", rng.below(50))}),
                _ => json!({"mobile": null}),
            };
            (Kind::Contact, body, KEY, token, None, connection)
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
        connection,
        body,
    }
}

struct Outcome {
    kind: Kind,
    connection: String,
    body: Value,
    status: u16,
    response: Value,
    retry: bool,
}

fn drive(bin: &str, requests: usize, seed: u64, worker: usize) -> Vec<Outcome> {
    let api = RuntimeApi::start();
    let (child, _) = spawn(bin, &api);
    let mut rng = Rng(seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(worker as u64 + 1));
    let mut previous: Option<Request> = None;
    let mut out = Vec::with_capacity(requests);
    for n in 0..requests {
        // One request in ten repeats this worker's previous one: a client retry.
        let (request, retry) = match (&previous, rng.below(10)) {
            (Some(p), 0) => (p.clone(), true),
            _ => (make(&mut rng), false),
        };
        let (_, _, response) = api.call(&format!("w{worker}-{n}"), &request.event);
        let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
        out.push(Outcome {
            kind: request.kind,
            connection: request.connection.clone(),
            body: request.body.clone(),
            status,
            response,
            retry,
        });
        previous = Some(request);
    }
    stop(child);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(bin), Some(admin)) = (flag(&args, "--bin"), flag(&args, "--admin")) else {
        eprintln!(
            "usage: soak --bin FUNCTION --admin CONNECTIONS_ADMIN [--processes N] [--requests N] [--seed N]"
        );
        std::process::exit(2);
    };
    let processes: usize = flag(&args, "--processes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let requests: usize = flag(&args, "--requests")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rng_seed: u64 = flag(&args, "--seed")
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);

    let seed_file = std::env::temp_dir().join(format!("soak-seed-{}.json", std::process::id()));
    std::fs::write(&seed_file, seed().to_string()).unwrap();
    let seeded = Command::new(&admin)
        .arg("seed-demo")
        .arg("--file")
        .arg(&seed_file)
        .status()
        .unwrap();
    assert!(seeded.success(), "seeding failed");

    let started = Instant::now();
    let per = requests.div_ceil(processes);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..processes)
            .map(|w| {
                let bin = bin.clone();
                s.spawn(move || drive(&bin, per, rng_seed, w))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed();

    let dump = Command::new(&admin).arg("dump").output().unwrap();
    assert!(dump.status.success(), "dump failed");
    let items: BTreeMap<String, Value> = String::from_utf8_lossy(&dump.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["connection_id"].as_str().unwrap_or("").to_owned(), v))
        .collect();

    let mut violations: Vec<String> = Vec::new();
    let mut by_kind: BTreeMap<String, BTreeMap<u16, usize>> = BTreeMap::new();
    // connection -> versions returned by 200s, and the disconnect's version.
    let mut versions: BTreeMap<String, BTreeMap<u64, Vec<&Outcome>>> = BTreeMap::new();
    for o in &outcomes {
        *by_kind
            .entry(format!("{:?}", o.kind))
            .or_default()
            .entry(o.status)
            .or_default() += 1;
        if o.status >= 500 {
            violations.push(format!(
                "{:?} on {} answered {}",
                o.kind, o.connection, o.status
            ));
        } else if !o.kind.allowed().contains(&o.status) {
            violations.push(format!(
                "{:?} on {} answered {} (allowed {:?})",
                o.kind,
                o.connection,
                o.status,
                o.kind.allowed()
            ));
        }
        if o.status == 200 {
            let etag = o.response["headers"]["etag"]
                .as_str()
                .unwrap_or("")
                .trim_matches('"')
                .parse::<u64>()
                .unwrap_or(0);
            let body: Value = serde_json::from_str(o.response["body"].as_str().unwrap_or("null"))
                .unwrap_or(Value::Null);
            if o.kind == Kind::Disconnect && body["status"] != "disconnected" {
                violations.push(format!(
                    "disconnect of {} answered 200 with status {}",
                    o.connection, body["status"]
                ));
            }
            if o.kind == Kind::Contact {
                for (member, value) in o.body.as_object().unwrap() {
                    if body[member] != *value {
                        violations.push(format!(
                            "update of {} answered 200 without {member}={value}",
                            o.connection
                        ));
                    }
                }
            }
            versions
                .entry(o.connection.clone())
                .or_default()
                .entry(etag)
                .or_default()
                .push(o);
        }
    }

    let mut disconnected = 0;
    for i in 0..CONNECTIONS {
        let cid = id(i);
        let Some(item) = items.get(&cid) else {
            violations.push(format!("{cid} is gone"));
            continue;
        };
        let status = item["status"].as_str().unwrap_or("");
        if status != STATUSES[i % 3] && status != "disconnected" {
            violations.push(format!(
                "{cid} has status {status}, which the function never writes"
            ));
        }
        let final_version = item["version"].as_u64().unwrap_or(0);
        let seen = versions.get(&cid).cloned().unwrap_or_default();
        let written: BTreeSet<u64> = seen.keys().copied().filter(|v| *v > 1).collect();
        let expected: BTreeSet<u64> = (2..=final_version).collect();
        if written != expected {
            violations.push(format!(
                "{cid}: versions answered {written:?}, but the item went 1 -> {final_version}"
            ));
        }
        if status == "disconnected" {
            disconnected += 1;
            // Every answer showing the connection disconnected has one version: the last.
            let disconnect_versions: BTreeSet<u64> = seen
                .iter()
                .filter(|(_, os)| {
                    os.iter().any(|o| {
                        let b: Value =
                            serde_json::from_str(o.response["body"].as_str().unwrap_or("null"))
                                .unwrap_or(Value::Null);
                        b["status"] == "disconnected"
                    })
                })
                .map(|(v, _)| *v)
                .collect();
            if disconnect_versions != BTreeSet::from([final_version]) {
                violations.push(format!("{cid}: changed after its disconnect (versions {disconnect_versions:?}, final {final_version})"));
            }
        }
        if let Some(last) = seen.get(&final_version).and_then(|os| os.first()) {
            let body: Value =
                serde_json::from_str(last.response["body"].as_str().unwrap_or("null"))
                    .unwrap_or(Value::Null);
            for member in ["customer_id", "email", "mobile", "status"] {
                let stored = item.get(member).cloned().unwrap_or(Value::Null);
                if body[member] != stored {
                    violations.push(format!(
                        "{cid}: stored {member}={stored} but the last write answered {}",
                        body[member]
                    ));
                }
            }
        }
    }
    for i in 0..RIVALS {
        let rid = rival_id(i);
        if items.get(&rid).and_then(|v| v["version"].as_u64()) != Some(1) {
            violations.push(format!("{rid}, another client's connection, changed"));
        }
    }

    let retries = outcomes.iter().filter(|o| o.retry).count();
    let summary = json!({
        "processes": processes,
        "requests": outcomes.len(),
        "client_retries": retries,
        "seconds": elapsed.as_secs_f64(),
        "connections_disconnected": disconnected,
        "writes": versions.values().map(|v| v.keys().filter(|k| **k > 1).count()).sum::<usize>(),
        "statuses_by_kind": by_kind,
        "violations": violations.len(),
    });
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    for v in violations.iter().take(20) {
        eprintln!("violation: {v}");
    }
    if !violations.is_empty() {
        std::process::exit(1);
    }
}
