#![allow(dead_code)] // each test target uses part of it
//! DynamoDB Local for the tests: started once per test binary (unless
//! `AWS_ENDPOINT_URL_DYNAMODB` names a running one), fresh tables for every test.

use std::collections::HashMap;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Intercept;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use connections_admin::{Seed, create_tables};
use serde_json::{Value, json};
use update_connection::store::{Store, dynamodb_client_at};
use update_connection::{App, Config, Event};

pub mod dynamodb_local;
pub mod fault_proxy;
pub mod model;
pub mod runtime_api;

pub use dynamodb_local::endpoint;

/// The repository's root, whichever package's tests include this (the function's, or
/// admin/'s one level down).
pub fn root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|dir| dir.join("template.yaml").is_file())
        .unwrap_or(here)
        .to_path_buf()
}
pub use model::{diff, expected_write, n, s, view};

pub type Item = HashMap<String, AttributeValue>;

pub const KEY: &str = "demo-api-key-0001";
pub const OTHER_KEY: &str = "other-api-key-0001";
pub const REVOKED_KEY: &str = "demo-api-key-revoked";
pub const ACTIVE: &str = "01J51S0JYV6N7K1030CV1ZKSCA";
pub const ACTIVE_B: &str = "01J51S0JYV6N7K1030CV1ZKSCB";
pub const INITIALIZED: &str = "01J51S0JYV6N7K1030CV1ZKSCC";
pub const UNAUTHENTICATED: &str = "01J51S0JYV6N7K1030CV1ZKSCD";
pub const DISCONNECTED: &str = "01J51S0JYV6N7K1030CV1ZKSCF";
pub const READ_ONLY: &str = "01J51S0JYV6N7K1030CV1ZKSCG";
pub const EXPIRED: &str = "01J51S0JYV6N7K1030CV1ZKSCH";
pub const OTHER_CLIENTS: &str = "01J51S0JYV6N7K1030CV1ZKSCJ";
pub const UNKNOWN: &str = "01J51S0JYV6N7K1030CV1ZKSZZ";

/// The token seeded for a demo connection.
pub fn token(id: &str) -> String {
    seed()
        .connection(id)
        .map(|c| c.token.clone())
        .unwrap_or_else(|| "no-such-token".into())
}

pub fn seed() -> &'static Seed {
    static SEED: OnceLock<Seed> = OnceLock::new();
    SEED.get_or_init(|| Seed::demo().expect("demo/seed.json is valid"))
}

/// Counts the DynamoDB operations a client sends, by name, and keeps their JSON bodies.
#[derive(Debug, Default, Clone)]
pub struct CallLog(Arc<Mutex<Vec<(String, String)>>>);

impl CallLog {
    pub fn take(&self) -> Vec<String> {
        self.take_with_bodies()
            .into_iter()
            .map(|(op, _)| op)
            .collect()
    }

    pub fn take_with_bodies(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .trim_start_matches("DynamoDB_20120810.")
            .to_owned();
        let body = context
            .request()
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.0.lock().unwrap().push((target, body));
        Ok(())
    }
}

/// One test's world: its own tables, seeded with the demo data, and the function.
pub struct Fixture {
    pub app: App,
    pub client: Client,
    pub connections: String,
    pub api_keys: String,
    pub calls: CallLog,
}

static TABLES: AtomicUsize = AtomicUsize::new(0);

/// Every request line the fixtures' functions wrote (tests run side by side: find a line
/// by its request id).
static LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn keep_line(line: &[u8]) {
    LINES
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(line).into_owned());
}

/// The request line the function wrote for `request_id`.
pub fn request_line(request_id: &str) -> Value {
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["request_id"] == request_id)
        .unwrap_or_else(|| panic!("no request line for {request_id}"))
}

impl Fixture {
    pub async fn new() -> Self {
        Self::with_ttl(Duration::from_secs(60)).await
    }

    pub async fn with_ttl(ttl: Duration) -> Self {
        Self::with_config(|c| c.api_key_cache_ttl = ttl).await
    }

    /// The function configured as the defaults, then `change`.
    pub async fn with_config(change: impl FnOnce(&mut Config)) -> Self {
        let client = dynamodb_client_at(endpoint()).await;
        let n = TABLES.fetch_add(1, Ordering::SeqCst);
        let suffix = format!("{}-{n}", std::process::id());
        let connections = format!("connections-{suffix}");
        let api_keys = format!("api-keys-{suffix}");
        create_tables(&client, &connections, &api_keys)
            .await
            .expect("tables created in DynamoDB Local");
        seed()
            .write(&client, &connections, &api_keys)
            .await
            .expect("demo data written");

        let calls = CallLog::default();
        let counted = Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(calls.clone())
                .build(),
        );
        let mut config = Config::for_tables(connections.clone(), api_keys.clone());
        change(&mut config);
        let app = App::with_lines_to(
            Store::new(counted, connections.clone(), api_keys.clone()),
            &config,
            keep_line,
        );
        Self {
            app,
            client,
            connections,
            api_keys,
            calls,
        }
    }

    /// Runs one event through the function, as the runtime would, and reads the response.
    pub async fn send(&self, event: Value) -> Reply {
        static IDS: AtomicU32 = AtomicU32::new(0);
        let request_id = format!("test-request-{}", IDS.fetch_add(1, Ordering::SeqCst));
        self.send_as(event, request_id).await
    }

    /// As `send`, with a chosen Lambda request id (a retried invocation keeps its id).
    pub async fn send_as(&self, event: Value, request_id: String) -> Reply {
        send_to(&self.app, event, request_id).await
    }

    /// Another instance of the function on this fixture's tables, configured as the
    /// defaults and then `change` (another version serving the same table).
    pub fn app_with(&self, change: impl FnOnce(&mut Config)) -> App {
        let mut config = Config::for_tables(self.connections.clone(), self.api_keys.clone());
        change(&mut config);
        let store = Store::new(
            self.client.clone(),
            self.connections.clone(),
            self.api_keys.clone(),
        );
        App::with_lines_to(store, &config, keep_line)
    }

    pub async fn item(&self, id: &str) -> Option<Item> {
        self.client
            .get_item()
            .table_name(&self.connections)
            .key("connection_id", AttributeValue::S(id.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get_item")
            .item
    }

    /// Writes an item as it is, bypassing every rule: for items this system would not write.
    pub async fn put(&self, item: Item) {
        self.client
            .put_item()
            .table_name(&self.connections)
            .set_item(Some(item))
            .send()
            .await
            .expect("put_item");
    }

    /// Every connection item, to prove that a rejected request changed nothing.
    pub async fn snapshot(&self) -> Vec<Item> {
        let mut items = self
            .client
            .scan()
            .table_name(&self.connections)
            .consistent_read(true)
            .send()
            .await
            .expect("scan")
            .items
            .unwrap_or_default();
        items.sort_by_key(|i| s(i, "connection_id"));
        items
    }

    /// Sends a request that must be refused, and checks the table did not change.
    pub async fn refused(&self, event: Value, status: u16, code: &str) -> Reply {
        let before = self.snapshot().await;
        let reply = self.send(event).await;
        reply.assert_problem(status, code);
        assert_eq!(
            self.snapshot().await,
            before,
            "a refused request changed the table"
        );
        reply
    }
}

impl Fixture {
    /// Sends a request that must be accepted, and checks the whole table afterwards: the
    /// connection equals its old self with exactly the changes `body` asks for plus the
    /// write's own bookkeeping, every member compared; every other item is unchanged. The
    /// answer must show the stored connection.
    pub async fn accepted(&self, id: &str, body: &Value, event: Value) -> Reply {
        let event_headers = event["headers"].clone();
        let before = self.snapshot().await;
        let started = update_connection::clock::now().rfc3339().to_owned();
        let reply = self.send(event).await;
        let finished = update_connection::clock::now().rfc3339().to_owned();
        assert_eq!(reply.status, 200, "{body}: {}", reply.body);
        let after = self.snapshot().await;

        let old = find(&before, id).unwrap_or_else(|| panic!("{id} was not in the table"));
        let new = find(&after, id).unwrap_or_else(|| panic!("{id} is gone after {body}"));
        let updated_at = s(new, "updated_at");
        assert!(
            started <= updated_at && updated_at <= finished,
            "{body}: updated_at {updated_at} is not the time of the write ({started}..{finished})"
        );
        // A keyed write stores the key's digest and the request's fingerprint; the
        // fingerprint is the function's own hash, so only its form is checked here.
        let key = header(&event_headers, "idempotency-key").map(|k| k.trim_matches('"').to_owned());
        let record = key.as_ref().map(|key| {
            let fingerprint = match new.get("f0") {
                Some(AttributeValue::B(b)) if b.as_ref().len() == 16 => hex::encode(b.as_ref()),
                other => panic!("{body}: f0 {other:?} is not a fingerprint"),
            };
            (key.as_str(), fingerprint)
        });
        let record = record.as_ref().map(|(k, f)| (*k, f.as_str()));
        let expected = expected_write(old, body, &reply.request_id, record, &updated_at);
        assert!(
            *new == expected,
            "{body} on {id}: the item is not the old one with exactly the asked changes\n{}",
            diff(&expected, new)
        );
        let others = |items: &[Item]| -> Vec<Item> {
            items
                .iter()
                .filter(|i| s(i, "connection_id") != id)
                .cloned()
                .collect()
        };
        assert_eq!(
            others(&after),
            others(&before),
            "{body}: another item changed"
        );

        assert_eq!(
            reply.body,
            view(new),
            "{body}: the answer is not the stored connection"
        );
        assert_eq!(
            reply.header("etag"),
            Some(format!("\"{}\"", n(new, "version")).as_str())
        );
        reply
    }
}

/// A header of an event's `headers` map, by name in any case.
fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

fn find<'a>(items: &'a [Item], id: &str) -> Option<&'a Item> {
    items.iter().find(|i| s(i, "connection_id") == id)
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw: Value,
    pub request_id: String,
}

impl Reply {
    /// Reads what the function returned for one event, as the runtime would post it.
    pub fn from_lambda(raw: Value, request_id: String) -> Self {
        let status = raw["statusCode"].as_u64().expect("statusCode") as u16;
        let mut headers = HashMap::new();
        if let Some(map) = raw["headers"].as_object() {
            for (k, v) in map {
                headers.insert(
                    k.to_ascii_lowercase(),
                    v.as_str().unwrap_or_default().to_owned(),
                );
            }
        }
        if let Some(map) = raw["multiValueHeaders"].as_object() {
            for (k, v) in map {
                headers.insert(
                    k.to_ascii_lowercase(),
                    v[0].as_str().unwrap_or_default().to_owned(),
                );
            }
        }
        let body = serde_json::from_str(raw["body"].as_str().unwrap_or("")).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            raw,
            request_id,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert_eq!(
            self.body["type"],
            format!("https://errors.connections.example/{code}")
        );
        assert!(self.body["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.body["detail"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(self.body["request_id"], self.request_id.as_str());
    }
}

/// A REST API (v1) event for `PATCH /connections/{id}` with the demo credentials.
pub fn patch(id: &str, body: &str) -> Value {
    rest(
        "PATCH",
        id,
        &[
            ("x-api-key", KEY),
            ("authorization", &format!("Bearer {}", token(id))),
            ("content-type", "application/json"),
        ],
        Some(body),
    )
}

pub fn rest(method: &str, id: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let map: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!([v])))
        .collect();
    json!({
        "resource": "/connections/{connection_id}",
        "path": format!("/connections/{id}"),
        "httpMethod": method,
        "headers": map,
        "multiValueHeaders": multi,
        "pathParameters": {"connection_id": id},
        "requestContext": {"stage": "prod", "requestId": "apigw-request", "httpMethod": method},
        "body": body,
        "isBase64Encoded": false
    })
}

/// Replaces (or removes, with `None`) one header of a REST event, in both header maps.
pub fn with_header(mut event: Value, name: &str, value: Option<&str>) -> Value {
    for (key, v) in [
        ("headers", json!(value)),
        ("multiValueHeaders", json!([value])),
    ] {
        let map = event[key].as_object_mut().expect("header map");
        map.retain(|k, _| !k.eq_ignore_ascii_case(name));
        if value.is_some() {
            map.insert(name.to_owned(), v);
        }
    }
    event
}

/// Runs one event through `app` with a chosen Lambda request id.
pub async fn send_to(app: &App, event: Value, request_id: String) -> Reply {
    let event: Event = serde_json::from_value(event).expect("the event deserializes");
    let response = app.handle(&event, &request_id).await;
    Reply::from_lambda(
        serde_json::to_value(&response).expect("response serializes"),
        request_id,
    )
}
