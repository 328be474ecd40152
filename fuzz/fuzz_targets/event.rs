//! Whole Lambda events through the handler, DynamoDB answered in process: any bytes, no
//! panic, and every answer is one the contract allows.
//!
//! A hash of the input picks how UpdateItem answers: a write (ALL_NEW), a failed condition
//! whose ALL_OLD item breaks one rule (built from the request's own values, so the rule
//! broken is the intended one), throttling, or a malformed item. When the write was
//! reached, the status must be the one that answer calls for.
#![no_main]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use contract_model::{Change, MEMBERS, Member};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use update_connection::store::Store;
use update_connection::store::in_process::in_process_client;
use update_connection::{App, Config, Event};

const CLIENT: &str = "client-demo";
const KEY_ITEM: &str = r#"{"Item":{"client_id":{"S":"client-demo"},"status":{"S":"active"}}}"#;
const REQUEST_ID: &str = "fuzz";
/// The stamp a write leaves in the items answered here.
const NOW: &str = "2026-01-01T00:00:00.000Z";

/// How UpdateItem answers this input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Written,
    NoItem,
    AnotherClients,
    WrongToken,
    Expired,
    NoWriteScope,
    OtherVersion,
    DisconnectedDifferent,
    DisconnectedSame,
    OwnRequestId,
    /// A keyed request whose key the item remembers: the same request (a replay, 200) or
    /// another one (422). Without a key in the request, a plain write.
    SameKey,
    OtherRequestSameKey,
    Throttled,
    MalformedItem,
}

const ANSWERS: [Answer; 14] = [
    Answer::Written,
    Answer::NoItem,
    Answer::AnotherClients,
    Answer::WrongToken,
    Answer::Expired,
    Answer::NoWriteScope,
    Answer::OtherVersion,
    Answer::DisconnectedDifferent,
    Answer::DisconnectedSame,
    Answer::OwnRequestId,
    Answer::SameKey,
    Answer::OtherRequestSameKey,
    Answer::Throttled,
    Answer::MalformedItem,
];

/// What the handler must answer once UpdateItem was called.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    answer: Answer,
    status: u16,
    /// For 200: the six members and the version of the item answered with.
    view: Option<(Value, u64)>,
}

struct Turn {
    answer: Answer,
    /// Which variant of the answer (which slot, which attribute to break).
    variant: u64,
    expected: Option<Expected>,
}

static TURN: Mutex<Turn> = Mutex::new(Turn {
    answer: Answer::Written,
    variant: 0,
    expected: None,
});

/// FNV-1a: stable across runs, so a finding replays with the same answer.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The UpdateItem request as sent, reduced to what an answer is built from.
struct Request {
    id: String,
    client: String,
    token: String,
    /// `:rid`: what the item remembers of the Lambda request id (DynamoDB JSON's base64).
    request_digest: String,
    now_epoch: u64,
    /// What the write asks of each member, read by the contract model's member list.
    changes: Vec<(&'static Member, Change)>,
    /// The `Idempotency-Key` record the write would store (`:kd`, `:fp`, base64), when the
    /// request has a key.
    idempotency_record: Option<(String, String)>,
    /// `None` without If-Match (or `*`); otherwise the versions it allows (maybe none).
    versions: Option<Vec<u64>>,
}

impl Request {
    fn parse(body: &[u8]) -> Request {
        let body: Value = serde_json::from_slice(body).expect("UpdateItem request is JSON");
        let values = &body["ExpressionAttributeValues"];
        let s = |name: &str| values[name]["S"].as_str().map(str::to_owned);
        let b = |name: &str| values[name]["B"].as_str().map(str::to_owned);
        let n = |name: &str| {
            values[name]["N"]
                .as_str()
                .map(|v| v.parse::<u64>().expect("numeric placeholder"))
        };
        // `:now_epoch` carries the instant's fraction; the items here are whole seconds.
        let now_epoch = values[":now_epoch"]["N"]
            .as_str()
            .and_then(|v| v.split('.').next())
            .and_then(|v| v.parse::<u64>().ok())
            .expect(":now_epoch");
        let update = body["UpdateExpression"].as_str().expect("UpdateExpression");
        let condition = body["ConditionExpression"]
            .as_str()
            .expect("ConditionExpression");
        let removed = update
            .split_once(" REMOVE ")
            .map(|(_, names)| names.to_owned())
            .unwrap_or_default();
        let changes = MEMBERS
            .iter()
            .filter_map(|m| match s(&format!(":{}", m.name)) {
                Some(v) => Some((m, Change::Set(v))),
                None if removed.split(", ").any(|n| n == format!("#{}", m.name)) => {
                    Some((m, Change::Remove))
                }
                None => None,
            })
            .collect();
        let listed: Vec<u64> = (0..).map_while(|i| n(&format!(":v{i}"))).collect();
        let versions = if !listed.is_empty() {
            Some(listed)
        } else if condition.ends_with("AND attribute_not_exists(#connection_id)") {
            Some(Vec::new())
        } else {
            None
        };
        Request {
            id: body["Key"]["connection_id"]["S"]
                .as_str()
                .expect("key")
                .to_owned(),
            client: s(":client").expect(":client"),
            token: s(":token").expect(":token"),
            request_digest: b(":rid").expect(":rid"),
            now_epoch,
            changes,
            idempotency_record: b(":kd").zip(b(":fp")),
            versions,
        }
    }

    /// An If-Match that no version can meet (weak or malformed tags only).
    fn allows_no_version(&self) -> bool {
        self.versions.as_ref().is_some_and(Vec::is_empty)
    }

    /// A version the precondition allows, or any when there is none.
    fn allowed_version(&self) -> u64 {
        match &self.versions {
            Some(v) if !v.is_empty() => v[0],
            _ => 7,
        }
    }
}

/// A connection item in DynamoDB's JSON, the caller's, on which every rule holds.
struct Item {
    attributes: Map<String, Value>,
}

impl Item {
    fn valid(r: &Request) -> Item {
        let mut attributes = Map::new();
        for (name, value) in [
            ("connection_id", r.id.as_str()),
            ("client_id", r.client.as_str()),
            ("customer_id", "stored-customer"),
            ("retailer_id", "01J7SC0NN73R6F5VVSP3ZKPDA3"),
            ("status", "active"),
            ("email", "stored@example.com"),
            ("token_sha256", r.token.as_str()),
        ] {
            attributes.insert(name.into(), json!({ "S": value }));
        }
        // An earlier request's digest (16 bytes, base64).
        attributes.insert("r0".into(), json!({ "B": "YW4tZWFybGllci1yZXF1ZQ==" }));
        attributes.insert(
            "token_scopes".into(),
            json!({ "SS": ["connections:read", "connections:write"] }),
        );
        attributes.insert(
            "token_expires_at".into(),
            json!({ "N": (r.now_epoch + 3600).to_string() }),
        );
        attributes.insert(
            "version".into(),
            json!({ "N": r.allowed_version().to_string() }),
        );
        Item { attributes }
    }

    fn set(&mut self, name: &str, value: Value) {
        self.attributes.insert(name.into(), value);
    }

    fn set_s(&mut self, name: &str, value: &str) {
        self.set(name, json!({ "S": value }));
    }

    fn remove(&mut self, name: &str) {
        self.attributes.remove(name);
    }

    /// The values the request asks for, as a write of it leaves them (the contract model).
    fn apply(&mut self, r: &Request) {
        let plain = contract_model::from_dynamodb(&self.attributes);
        self.attributes = contract_model::to_dynamodb(&contract_model::apply(&plain, &r.changes, NOW));
    }

    /// Stored values that differ from every value the request asks for.
    fn differ_from(&mut self, r: &Request) {
        for (m, change) in &r.changes {
            match change {
                Change::Remove => self.set_s(m.name, "+14155550100"),
                // The one allowed value (the status) stays as the answer set it.
                Change::Set(_) if m.only.is_some() => {}
                Change::Set(_) if m.removable => self.remove(m.name),
                Change::Set(v) => self.set_s(m.name, &format!("{v}-before")),
            }
        }
    }

    fn plain(&self) -> contract_model::Item {
        contract_model::from_dynamodb(&self.attributes)
    }

    fn version(&self) -> u64 {
        self.attributes["version"]["N"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("version")
    }

    /// The contract's view of this item, and its version.
    fn view(&self) -> (Value, u64) {
        (contract_model::view(&self.plain()), self.version())
    }

    fn into_value(self) -> Value {
        Value::Object(self.attributes)
    }
}

fn refused(item: Option<Item>) -> String {
    let mut body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "message": "The conditional request failed",
    });
    if let Some(item) = item {
        body["Item"] = item.into_value();
    }
    body.to_string()
}

/// UpdateItem's answer for this turn, and what the handler must then say.
fn update_item(turn: &Turn, request: &[u8]) -> ((u16, String), Expected) {
    let r = Request::parse(request);
    assert_eq!(r.client, CLIENT, "the client is the API key's");
    let answer = match (turn.answer, r.idempotency_record.is_some()) {
        (Answer::SameKey | Answer::OtherRequestSameKey, false) => Answer::Written,
        (answer, _) => answer,
    };
    let v = turn.variant;
    let expect = |status: u16, view: Option<(Value, u64)>| Expected {
        answer,
        status,
        view,
    };
    let mut item = Item::valid(&r);
    match answer {
        Answer::Written => {
            item.apply(&r);
            item.set("version", json!({ "N": (item.version() + 1).to_string() }));
            let view = item.view();
            let body = json!({ "Attributes": item.into_value() }).to_string();
            ((200, body), expect(200, Some(view)))
        }
        Answer::NoItem => ((400, refused(None)), expect(404, None)),
        Answer::AnotherClients => {
            item.set_s("client_id", "another-client");
            // A foreign item is never parsed, so even a broken one is only "not found".
            if v % 2 == 1 {
                item.remove("retailer_id");
                item.set("version", json!({ "S": "x" }));
            }
            ((400, refused(Some(item))), expect(404, None))
        }
        Answer::WrongToken => {
            let other = if r.token.starts_with('0') { "1" } else { "0" }.repeat(64);
            item.set_s("token_sha256", &other);
            ((400, refused(Some(item))), expect(401, None))
        }
        Answer::Expired => {
            // Expiring at "now" is already expired.
            let at = r.now_epoch.saturating_sub(v % 2);
            item.set("token_expires_at", json!({ "N": at.to_string() }));
            ((400, refused(Some(item))), expect(401, None))
        }
        Answer::NoWriteScope => {
            // Only a string set holds scopes: the right word in a string grants nothing.
            let scopes = match v % 3 {
                0 => json!({ "SS": ["connections:read"] }),
                1 => json!({ "S": "connections:write" }),
                _ => json!({ "L": [{ "S": "connections:write" }] }),
            };
            item.set("token_scopes", scopes);
            ((400, refused(Some(item))), expect(403, None))
        }
        Answer::OtherVersion => {
            let allowed = r.versions.clone().unwrap_or_default();
            let other = (0..)
                .find(|n| !allowed.contains(n))
                .expect("a free version");
            item.set("version", json!({ "N": other.to_string() }));
            // Without If-Match every rule holds: a failure nothing explains is a 500.
            let status = if r.versions.is_some() { 412 } else { 500 };
            ((400, refused(Some(item))), expect(status, None))
        }
        Answer::DisconnectedDifferent => {
            item.set_s("status", "disconnected");
            item.differ_from(&r);
            // The precondition comes before the status in the contract's order: an If-Match
            // that allows no version is 412 even here. Otherwise a bare disconnect of a
            // disconnected connection is a retry whatever is stored.
            let expected = if r.allows_no_version() {
                expect(412, None)
            } else if !contract_model::already_applied(&item.plain(), &r.changes) {
                expect(409, None)
            } else {
                expect(200, Some(item.view()))
            };
            ((400, refused(Some(item))), expected)
        }
        Answer::DisconnectedSame => {
            item.set_s("status", "disconnected");
            item.apply(&r);
            let view = item.view();
            let expected = if r.allows_no_version() {
                expect(412, None)
            } else {
                expect(200, Some(view))
            };
            ((400, refused(Some(item))), expected)
        }
        Answer::OwnRequestId => {
            // This request's earlier attempt wrote, in any of the remembered slots.
            item.apply(&r);
            let slot = contract_model::REQUEST_DIGESTS[(v % 4) as usize];
            item.set(slot, json!({ "B": r.request_digest }));
            let view = item.view();
            ((400, refused(Some(item))), expect(200, Some(view)))
        }
        Answer::SameKey | Answer::OtherRequestSameKey => {
            // The record sits in any slot, the connection maybe moved on, even disconnected:
            // the key is judged before If-Match and the status.
            let (key, fingerprint) = r.idempotency_record.clone().unwrap_or_default();
            let fingerprint = if answer == Answer::SameKey {
                fingerprint
            } else {
                // Another request's fingerprint: 16 zero bytes.
                "AAAAAAAAAAAAAAAAAAAAAA==".to_owned()
            };
            let slot = (v % 4) as usize;
            item.set(contract_model::KEY_DIGESTS[slot], json!({ "B": key }));
            item.set(contract_model::FINGERPRINTS[slot], json!({ "B": fingerprint }));
            if v % 3 == 0 {
                item.set_s("status", "disconnected");
            }
            if v % 2 == 1 {
                let moved = r.allowed_version() + 1 + v % 5;
                item.set("version", json!({ "N": moved.to_string() }));
            }
            let expected = if answer == Answer::SameKey {
                expect(200, Some(item.view()))
            } else {
                expect(422, None)
            };
            ((400, refused(Some(item))), expected)
        }
        Answer::Throttled => {
            let code = if v % 2 == 0 {
                "ThrottlingException"
            } else {
                "ProvisionedThroughputExceededException"
            };
            let body = json!({
                "__type": format!("com.amazonaws.dynamodb.v20120810#{code}"),
                "message": "Rate of requests exceeds the allowed throughput.",
            });
            ((400, body.to_string()), expect(503, None))
        }
        Answer::MalformedItem => {
            match v % 3 {
                0 => item.remove("retailer_id"),
                1 => item.set("version", json!({ "N": "1.5" })),
                _ => item.set("token_expires_at", json!({ "N": "soon" })),
            }
            ((400, refused(Some(item))), expect(500, None))
        }
    }
}

/// The contract's codes and their statuses: `Problem.code` in openapi.yaml, the statuses
/// from docs/contract.md's table (its rows "from contract", the ones the function says).
struct Codes {
    openapi: Vec<String>,
    function: Vec<(String, u16)>,
}

fn codes() -> &'static Codes {
    static CODES: OnceLock<Codes> = OnceLock::new();
    CODES.get_or_init(|| {
        let openapi = include_str!("../../openapi.yaml");
        let schema = openapi
            .split_once("\n    Problem:\n")
            .expect("openapi.yaml: components.schemas.Problem")
            .1;
        let enum_lines = schema
            .split_once("        code:\n")
            .expect("Problem.code")
            .1
            .split_once("enum:\n")
            .expect("Problem.code.enum")
            .1;
        let openapi: Vec<String> = enum_lines
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .map_while(|l| l.strip_prefix("- "))
            .map(str::to_owned)
            .collect();
        let mut function = Vec::new();
        for line in include_str!("../../docs/contract.md").lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let [_, status, codes, "contract", _] = cells[..] else {
                continue;
            };
            let status: u16 = status.parse().expect("a status in the codes table");
            for code in codes.split(',') {
                function.push((code.trim().trim_matches('`').to_owned(), status));
            }
        }
        // Every code of the function's catalogue was read from both documents.
        let all = update_connection::http::ProblemCode::ALL.len();
        assert!(openapi.len() >= all, "openapi.yaml's codes: {openapi:?}");
        assert_eq!(function.len(), all, "docs/contract.md's codes: {function:?}");
        Codes { openapi, function }
    })
}

struct World {
    rt: tokio::runtime::Runtime,
    app: App,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(async {
            let client = in_process_client(|operation, request| match operation {
                "GetItem" => (200, KEY_ITEM.to_owned()),
                "UpdateItem" => {
                    let mut turn = TURN.lock().unwrap();
                    assert!(turn.expected.is_none(), "one UpdateItem per request");
                    let (answer, expected) = update_item(&turn, request);
                    turn.expected = Some(expected);
                    answer
                }
                other => panic!("unexpected DynamoDB call {other}"),
            })
            .await;
            // One attempt: the SDK's backoff would sleep on every throttled answer, and
            // its retry budget would make the outcome depend on earlier inputs.
            let config = client
                .config()
                .to_builder()
                .retry_config(RetryConfig::standard().with_max_attempts(1))
                .build();
            let client = aws_sdk_dynamodb::Client::from_conf(config);
            let config = Config {
                api_key_cache_ttl: Duration::from_secs(3600),
                ..Config::for_tables("c", "k")
            };
            App::with_lines_to(Store::new(client, "c".into(), "k".into()), &config, |_| {})
        });
        World { rt, app }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return;
    };
    let codes = codes();
    let h = fnv1a(data);
    {
        let mut turn = TURN.lock().unwrap();
        turn.answer = ANSWERS[(h % ANSWERS.len() as u64) as usize];
        turn.variant = h / ANSWERS.len() as u64;
        turn.expected = None;
    }
    let w = world();
    let lambda = w.rt.block_on(w.app.handle(&event, REQUEST_ID));
    let response = &lambda.response;
    let expected = TURN.lock().unwrap().expected.take();
    let status = response.status;
    let content_type = response.header("content-type");
    let body: Value = serde_json::from_str(&response.body).expect("a JSON body");
    let object = body.as_object().expect("a JSON object");

    if let Some(expected) = &expected {
        assert_eq!(status, expected.status, "{expected:?}: {body}");
    }
    if status == 200 {
        assert_eq!(content_type, Some("application/json"));
        let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut view: Vec<&str> = contract_model::READ_ONLY.to_vec();
        view.extend(MEMBERS.iter().map(|m| m.name));
        view.sort_unstable();
        assert_eq!(names, view);
        let etag = response.header("etag").expect("an ETag on 200");
        let version = etag
            .strip_prefix('"')
            .and_then(|e| e.strip_suffix('"'))
            .and_then(|v| v.parse::<u64>().ok());
        assert!(version.is_some(), "ETag {etag}");
        // A 200 is the stored connection: the write's ALL_NEW, or the retried ALL_OLD.
        let (view, stored_version) = expected
            .and_then(|e| e.view)
            .expect("a 200 comes only from UpdateItem");
        assert_eq!(body, view);
        assert_eq!(version, Some(stored_version));
    } else {
        assert_eq!(content_type, Some("application/problem+json"));
        for member in ["type", "title", "detail", "code", "request_id"] {
            assert!(
                object.get(member).is_some_and(Value::is_string),
                "{member}: {body}"
            );
        }
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["request_id"], REQUEST_ID);
        let code = body["code"].as_str().unwrap_or_default();
        assert!(
            codes.openapi.iter().any(|c| c == code),
            "{code} not in openapi.yaml"
        );
        assert_eq!(
            body["type"],
            format!("https://errors.connections.example/{code}")
        );
        assert!(
            codes.function.contains(&(code.to_owned(), status)),
            "{code} with status {status}"
        );
        assert_eq!(object.contains_key("errors"), status == 422, "{body}");
    }
    serde_json::to_vec(&lambda).expect("serialisable");
});
