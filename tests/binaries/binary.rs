//! The built `update-connection` binary, run as Lambda runs it: Runtime API, environment,
//! JSON logs on stdout.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::support::fault_proxy::{FaultProxy, Mode};
use crate::support::patch as super_patch;
use crate::support::runtime_api::RuntimeApi;
use crate::support::*;

fn function(api: &RuntimeApi, connections: &str, api_keys: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_update-connection"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "update-connection")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "group")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint())
        .env("CONNECTIONS_TABLE", connections)
        .env("API_KEYS_TABLE", api_keys)
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn output(mut child: Child) -> String {
    let _ = child.start_kill();
    let _ = child.wait().await;
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut text).await.unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut text).await.unwrap();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_events_and_logs_one_clean_line_per_request() {
    let f = Fixture::new().await;
    let api = RuntimeApi::start().await;
    let child = function(&api, &f.connections, &f.api_keys)
        .spawn()
        .expect("start the function");

    let email = "very.private.person@example.com";
    let mobile = "+447700900999";
    let requests = [
        (
            "r1",
            patch(
                ACTIVE_B,
                &json!({"email": email, "mobile": mobile}).to_string(),
            ),
            200,
        ),
        (
            "r2",
            patch(
                ACTIVE_B,
                &json!({"email": "bad-email-secret", "mobile": "0799 secret"}).to_string(),
            ),
            422,
        ),
        (
            "r3",
            with_header(
                patch(ACTIVE_B, r#"{"customer_id":"x"}"#),
                "authorization",
                Some("Bearer leaked-token-123"),
            ),
            401,
        ),
        (
            "r4",
            with_header(
                patch(ACTIVE_B, "{}"),
                "x-api-key",
                Some("leaked-api-key-456"),
            ),
            401,
        ),
        ("r5", patch(ACTIVE, r#"{"status":"disconnected"}"#), 200),
        ("r6", json!({"not": "an http event"}), 404),
        // A field of the wrong type (only a direct invoke can send one): still an answer,
        // never a runtime error whose message would quote the value.
        (
            "r6b",
            json!({"multiValueHeaders": {"authorization": "Bearer leaked-token-789"}}),
            404,
        ),
    ];
    let mut child = Some(child);
    for (id, event, status) in &requests {
        let response = api
            .invoke(id, event.clone())
            .await
            .expect("a response, not an error");
        if response["statusCode"] != *status {
            let logs = output(child.take().unwrap()).await;
            panic!("{id}: expected {status}, got {response}\nlogs:\n{logs}");
        }
    }
    let child = child.unwrap();
    let response = api
        .invoke("r7", patch(ACTIVE_B, r#"{"email":null}"#))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200);
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["email"], Value::Null);
    assert_eq!(s(&f.item(ACTIVE_B).await.unwrap(), "mobile"), mobile);

    let logs = output(child).await;
    let request_lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "request")
        .collect();
    assert_eq!(request_lines.len(), 8, "one line per request:\n{logs}");
    let r1 = request_lines
        .iter()
        .find(|l| l["request_id"] == "r1")
        .expect("r1 logged");
    assert_eq!(r1["connection_id"], ACTIVE_B);
    assert_eq!(r1["client_id"], "client-demo");
    assert_eq!(r1["status"], 200);
    assert_eq!(r1["dynamodb_calls"], 2);
    assert_eq!(r1["problem_code"], Value::Null);
    assert!(r1["latency_ms"].as_f64().is_some() && r1["dynamodb_latency_ms"].as_f64().is_some());
    let r2 = request_lines
        .iter()
        .find(|l| l["request_id"] == "r2")
        .unwrap();
    assert_eq!(r2["problem_code"], "validation-failed");
    // One JSON line per request: here (no warning, no error) the request lines are all the
    // JSON lines there are.
    let json_lines = logs
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .count();
    assert_eq!(json_lines, 8, "{logs}");

    // The same lines carry the CloudWatch EMF metrics, by function name and outcome.
    let emf: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), 8, "metrics on every request line:\n{logs}");
    assert!(
        emf.iter()
            .all(|m| m["FunctionName"] == "update-connection" && m["Requests"] == 1)
    );
    let outcomes: Vec<&str> = emf.iter().map(|m| m["Outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        [
            "ok",
            "validation-failed",
            "invalid-token",
            "invalid-api-key",
            "ok",
            "not-found",
            "not-found",
            "ok"
        ]
    );
    assert!(emf[0]["DynamoDBLatency"].as_f64().unwrap() > 0.0);
    assert_eq!(
        emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "UpdateConnection"
    );

    let mut secrets = vec![
        KEY.to_owned(),
        "leaked-token-123".into(),
        "leaked-token-789".into(),
        "leaked-api-key-456".into(),
        email.into(),
        mobile.into(),
        "bad-email-secret".into(),
        "0799 secret".into(),
    ];
    secrets.push(token(ACTIVE));
    secrets.push(token(ACTIVE_B));
    for secret in secrets {
        assert!(
            !logs.contains(&secret),
            "{secret:?} appears in the logs:\n{logs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_database_logs_one_request_line_and_a_clean_warning() {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(endpoint()).await;
    let api = RuntimeApi::start().await;
    let mut cmd = function(&api, &f.connections, &f.api_keys);
    cmd.env("AWS_ENDPOINT_URL_DYNAMODB", &proxy.endpoint);
    let child = cmd.spawn().expect("start the function");

    // Healthy first, so the key is cached and the 503 comes from the write itself.
    let response = api
        .invoke("warm", patch(ACTIVE_B, r#"{"customer_id":"warm"}"#))
        .await
        .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    proxy.set(Mode::Down);
    let email = "hidden.person@example.com";
    let mobile = "+447700900555";
    let body = json!({"email": email, "mobile": mobile}).to_string();
    let response = api.invoke("down", patch(ACTIVE_B, &body)).await.unwrap();
    let logs = output(child).await;
    assert_eq!(response["statusCode"], 503, "{response}\nlogs:\n{logs}");

    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let request_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "request" && l["request_id"] == "down")
        .collect();
    assert_eq!(request_lines.len(), 1, "one request line:\n{logs}");
    assert_eq!(request_lines[0]["status"], 503);
    assert_eq!(request_lines[0]["problem_code"], "unavailable");
    let warnings: Vec<&Value> = lines.iter().filter(|l| l["level"] == "WARN").collect();
    assert!(
        warnings
            .iter()
            .any(|l| l["message"] == "dynamodb unavailable" && l["call"] == "update"),
        "no warning for the failed write:\n{logs}"
    );
    for secret in [KEY, &token(ACTIVE_B), email, mobile] {
        assert!(
            !logs.contains(secret),
            "{secret:?} appears in the logs:\n{logs}"
        );
    }
}

#[tokio::test]
async fn a_missing_table_variable_stops_init_naming_it() {
    let api = RuntimeApi::start().await;
    let mut cmd = function(&api, "c", "k");
    cmd.env_remove("API_KEYS_TABLE");
    let child = cmd.spawn().unwrap();
    let mut child = child;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(!status.success());
    let logs = output(child).await;
    assert!(logs.contains("API_KEYS_TABLE"), "{logs}");
}

/// With the database unreachable from init on (the warm-up fails, every call fails), every
/// line the function writes names its invocation: the request id, and the trace id the
/// Runtime API gave; the request line says which invocation was the cold start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_names_its_invocation_even_with_a_dead_database() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let api = RuntimeApi::start().await;
    let mut cmd = function(&api, "c", "k");
    cmd.env(
        "AWS_ENDPOINT_URL_DYNAMODB",
        format!("http://127.0.0.1:{port}"),
    );
    let child = cmd.spawn().expect("start the function");
    for id in ["first", "second"] {
        let response = api
            .invoke(id, patch(ACTIVE_B, r#"{"email":"dead@example.com"}"#))
            .await
            .unwrap();
        assert_eq!(response["statusCode"], 503, "{response}");
    }
    let logs = output(child).await;
    let mut requests = Vec::new();
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        let id = v["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no request id: {line}"));
        assert!(["first", "second"].contains(&id), "{line}");
        assert!(
            v["trace_id"]
                .as_str()
                .is_some_and(|t| t.starts_with("Root=")),
            "{line}"
        );
        if v["message"] == "request" {
            requests.push((
                id.to_owned(),
                v["cold_start"].clone(),
                v["ColdStarts"].clone(),
            ));
        }
    }
    assert_eq!(
        requests,
        [
            ("first".to_owned(), json!(true), json!(1)),
            ("second".to_owned(), json!(false), json!(0))
        ],
        "{logs}"
    );
    assert!(
        logs.contains("warm-up did not complete"),
        "the failed warm-up is said:\n{logs}"
    );
}

/// Lambda's log-level filter for JSON logs (AWS's documentation of advanced logging
/// controls): a line whose `level` is missing or not a level is filed as INFO; a line is
/// kept when its level is at least the function's ApplicationLogLevel.
fn lambda_keeps(line: &str, configured: &str) -> bool {
    const ORDER: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    let rank = |level: &str| ORDER.iter().position(|l| l.eq_ignore_ascii_case(level));
    let filed = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v["level"].as_str().and_then(rank))
        .unwrap_or(2);
    filed >= rank(configured).expect("a Lambda log level")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_line_survives_lambdas_filter_at_every_allowed_log_level() {
    // The filter drops what it should: without a level at WARN, an INFO line at ERROR.
    assert!(!lambda_keeps(r#"{"message":"request"}"#, "WARN"));
    assert!(!lambda_keeps(r#"{"level":"INFO"}"#, "ERROR"));
    assert!(lambda_keeps("not json", "INFO"));

    // The levels the template lets an operator choose (the deployment tests hold that its
    // LoggingConfig takes LogLevel as ApplicationLogLevel, with JSON logs).
    let template: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap(),
    )
    .unwrap();
    let allowed: Vec<String> = template["Parameters"]["LogLevel"]["AllowedValues"]
        .as_sequence()
        .expect("LogLevel lists its AllowedValues")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(allowed.contains(&"INFO".to_owned()), "{allowed:?}");

    let f = Fixture::new().await;
    for level in &allowed {
        let api = RuntimeApi::start().await;
        let child = function(&api, &f.connections, &f.api_keys)
            .env("AWS_LAMBDA_LOG_LEVEL", level)
            .spawn()
            .expect("start the function");
        let ok = api
            .invoke("ok-1", patch(ACTIVE_B, r#"{"email":"x@example.com"}"#))
            .await
            .unwrap();
        assert_eq!(ok["statusCode"], 200);
        let refused = api
            .invoke(
                "refused-1",
                with_header(patch(ACTIVE_B, "{}"), "x-api-key", Some("nope")),
            )
            .await
            .unwrap();
        assert_eq!(refused["statusCode"], 401);
        let logs = output(child).await;
        let kept: Vec<Value> = logs
            .lines()
            .filter(|l| lambda_keeps(l, level))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["message"] == "request" && l.get("_aws").is_some())
            .collect();
        let ids: Vec<&str> = kept
            .iter()
            .map(|l| l["request_id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            ["ok-1", "refused-1"],
            "LogLevel={level}: the access log and metrics lost:\n{logs}"
        );
    }
}

/// (request id, event, status, code; for a 200 the connection and the email it wrote)
type Case = (String, Value, u16, &'static str, Option<(String, String)>);

/// As Lambda Managed Instances run it (AWS_LAMBDA_MAX_CONCURRENCY=8): 24 invocations
/// queued at once, accepted writes on eight connections interleaved with refusals. Each
/// answer is its own, each stored item holds its own write, each invocation writes one
/// request line naming its own request and trace ids, one is the cold start, and nothing
/// is logged at WARN (the runtime's "feature is not enabled" warning among them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_concurrency_8_every_invocation_keeps_its_own_answer_item_and_line() {
    let f = Fixture::new().await;
    let template = f.item(ACTIVE_B).await.expect("the seeded connection");
    let ids: Vec<String> = (0..8)
        .map(|i| format!("01J51S0JYV6N7K1030CV1ZKT{i:02}"))
        .collect();
    for id in &ids {
        let mut item = template.clone();
        item.insert(
            "connection_id".into(),
            aws_sdk_dynamodb::types::AttributeValue::S(id.clone()),
        );
        f.put(item).await;
    }
    // The copies keep ACTIVE_B's token.
    let bearer = format!("Bearer {}", token(ACTIVE_B));
    let patch = |id: &str, body: &str| with_header(patch(id, body), "authorization", Some(&bearer));
    let api = RuntimeApi::start().await;
    let child = function(&api, &f.connections, &f.api_keys)
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "8")
        .spawn()
        .expect("start the function");

    let mut cases: Vec<Case> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let email = format!("writer-{i}@example.com");
        let body = json!({ "email": email }).to_string();
        cases.push((
            format!("ok-{i}"),
            patch(id, &body),
            200,
            "",
            Some((id.clone(), email)),
        ));
        let refusal = match i % 4 {
            0 => (
                with_header(patch(id, &body), "authorization", Some("Bearer wrong")),
                401,
                "invalid-token",
            ),
            1 => (
                with_header(patch(id, &body), "x-api-key", Some("unknown-key")),
                401,
                "invalid-api-key",
            ),
            2 => (
                patch(id, r#"{"email":"not-an-email"}"#),
                422,
                "validation-failed",
            ),
            _ => (super_patch(OTHER_CLIENTS, &body), 404, "not-found"),
        };
        cases.push((format!("no-{i}"), refusal.0, refusal.1, refusal.2, None));
        cases.push((
            format!("bad-{i}"),
            patch(id, "{"),
            400,
            "malformed-body",
            None,
        ));
    }
    let calls: Vec<_> = cases
        .iter()
        .map(|(rid, event, ..)| {
            let (api, rid, event) = (api.clone(), rid.clone(), event.clone());
            tokio::spawn(async move { api.invoke(&rid, event).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().expect("a response, not an error"));
    }
    let logs = output(child).await;

    assert!(
        api.max_in_flight() > 1 && api.max_in_flight() <= 8,
        "invocations served at once: {} (1 is one at a time)\n{logs}",
        api.max_in_flight()
    );
    for ((rid, _, status, code, wrote), response) in cases.iter().zip(&answers) {
        assert_eq!(response["statusCode"], *status, "{rid}: {response}\n{logs}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        match wrote {
            Some((id, email)) => {
                assert_eq!(
                    (&body["connection_id"], &body["email"]),
                    (&json!(id), &json!(email)),
                    "{rid}"
                );
            }
            None => assert_eq!(
                (&body["code"], &body["request_id"]),
                (&json!(code), &json!(rid)),
                "{rid}"
            ),
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let item = f.item(id).await.unwrap();
        assert_eq!(s(&item, "email"), format!("writer-{i}@example.com"), "{id}");
        assert_eq!(
            n(&item, "version"),
            n(&template, "version") + 1,
            "{id}: one write"
        );
    }

    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}\n{logs}")))
        .collect();
    for line in &lines {
        assert_ne!(line["level"], "WARN", "{line}\n{logs}");
        let rid = line["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no request id: {line}"));
        assert_eq!(
            line["trace_id"].as_str(),
            Some(update_connection_testkit::trace_id_for(rid).as_str()),
            "a line names another invocation's trace: {line}"
        );
    }
    let mut requests: Vec<&str> = lines
        .iter()
        .filter(|l| l["message"] == "request")
        .map(|l| l["request_id"].as_str().unwrap())
        .collect();
    requests.sort_unstable();
    let mut expected: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(
        requests, expected,
        "one request line per invocation:\n{logs}"
    );
    let cold = lines
        .iter()
        .filter(|l| l["message"] == "request" && l["cold_start"] == true)
        .count();
    assert_eq!(cold, 1, "exactly one cold start:\n{logs}");
}
