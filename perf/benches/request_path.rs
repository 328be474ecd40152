//! The request path in process: event bytes -> decision -> response bytes, with DynamoDB
//! answered by an in-process HTTP client (the SDK's whole pipeline still runs: request
//! serialisation, SigV4 signing, retries, response parsing).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use update_connection::clock::{self, Now};
use update_connection::store::Store;
use update_connection::store::in_process::in_process_client;
use update_connection::telemetry::{Outcome, RequestLine, RequestLog};
use update_connection::{App, Config, Event};

// As in src/main.rs: the bench measures the allocator the function runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const UPDATED: &str = r#"{"Attributes":{"connection_id":{"S":"01J51S0JYV6N7K1030CV1ZKSCB"},"client_id":{"S":"client-demo"},"customer_id":{"S":"customer-b"},"retailer_id":{"S":"01J7SC0NN73R6F5VVSP3ZKPDA3"},"status":{"S":"active"},"email":{"S":"bob@example.org"},"token_sha256":{"S":"5d9b3dc5d8eaa4ab3f0eb5bd2d8e8a4b5b6e3a7e4b3f8e0cdb9a1c2b3d4e5f60"},"token_scopes":{"SS":["connections:write"]},"created_at":{"S":"2026-01-01T00:00:00.000Z"},"updated_at":{"S":"2026-11-28T00:00:00.000Z"},"version":{"N":"2"}}}"#;
const KEY_ITEM: &str = r#"{"Item":{"client_id":{"S":"client-demo"},"status":{"S":"active"}}}"#;

fn event(body: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "resource": "/connections/{connection_id}",
        "path": "/connections/01J51S0JYV6N7K1030CV1ZKSCB",
        "httpMethod": "PATCH",
        "headers": {"content-type": "application/json", "x-api-key": "demo-api-key-0001",
                    "authorization": "Bearer demo-token-active-b", "host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"content-type": ["application/json"], "x-api-key": ["demo-api-key-0001"],
                    "authorization": ["Bearer demo-token-active-b"], "host": ["abc.execute-api.eu-west-1.amazonaws.com"]},
        "pathParameters": {"connection_id": "01J51S0JYV6N7K1030CV1ZKSCB"},
        "requestContext": {"stage": "prod", "requestId": "r", "httpMethod": "PATCH"},
        "body": body,
        "isBase64Encoded": false
    }))
    .unwrap()
}

fn app(rt: &tokio::runtime::Runtime) -> App {
    rt.block_on(async {
        let client = in_process_client(|operation, _| {
            let body = if operation == "GetItem" {
                KEY_ITEM
            } else {
                UPDATED
            };
            (200, body.to_owned())
        })
        .await;
        let config = Config {
            api_key_cache_ttl: Duration::from_secs(3600),
            ..Config::for_tables("connections", "api-keys")
        };
        App::new(
            Store::new(client, "connections".into(), "api-keys".into()),
            &config,
        )
    })
}

fn request_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = app(&rt);
    let accepted = event(r#"{"email":"bob@example.org","mobile":null}"#);
    let invalid = event(r#"{"email":"not-an-email","mobile":"0044"}"#);
    let one = |bytes: &[u8]| {
        rt.block_on(async {
            let event: Event = serde_json::from_slice(bytes).unwrap();
            let response = app.handle(&event, "bench").await;
            serde_json::to_vec(&response).unwrap()
        })
    };
    // Warm the key cache, as on a warm instance.
    assert!(
        String::from_utf8(one(&accepted))
            .unwrap()
            .contains("\"statusCode\":200")
    );
    assert!(
        String::from_utf8(one(&invalid))
            .unwrap()
            .contains("\"statusCode\":422")
    );

    let mut group = c.benchmark_group("request_path");
    group.bench_function("accepted_update_with_dynamodb_in_process", |b| {
        b.iter(|| one(&accepted))
    });
    group.bench_function("validation_failure_no_dynamodb", |b| {
        b.iter(|| one(&invalid))
    });
    group.bench_function("event_parse_only", |b| {
        b.iter(|| serde_json::from_slice::<Event>(&accepted).unwrap())
    });
    group.finish();
}

/// The request line as it was formatted by hand before it became a `#[derive(Serialize)]`
/// struct: the baseline the derived line is measured against.
fn hand_formatted_line(emf: &str, log: &RequestLog, outcome: Outcome<'_>, now: &Now) -> String {
    let text = |v: Option<&str>| serde_json::to_string(&v).unwrap_or_else(|_| "null".into());
    let latency = outcome.latency.as_secs_f64() * 1e3;
    let dynamodb = log.dynamodb.as_secs_f64() * 1e3;
    let code = outcome.problem.unwrap_or("ok");
    format!(
        r#"{{"timestamp":"{ts}","message":"request","request_id":{rid},"connection_id":{cid},"client_id":{client},"status":{status},"problem_code":{problem},"latency_ms":{latency:.3},"dynamodb_latency_ms":{dynamodb:.3},"dynamodb_calls":{calls},"Outcome":"{code}","Latency":{latency:.3},"DynamoDBLatency":{dynamodb:.3},{emf}{ms}}}}}"#,
        ts = now.rfc3339(),
        rid = text(Some(outcome.request_id)),
        cid = text(log.connection_id.as_deref()),
        client = text(log.client_id.as_deref()),
        status = outcome.status,
        problem = text(outcome.problem),
        calls = log.dynamodb_calls,
        ms = now.epoch_ms(),
    )
}

fn request_line(c: &mut Criterion) {
    let emf = r#""FunctionName":"update-connection","Requests":1,"_aws":{"CloudWatchMetrics":[{"Namespace":"UpdateConnection","Dimensions":[["FunctionName"],["FunctionName","Outcome"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"},{"Name":"DynamoDBLatency","Unit":"Milliseconds"}]}],"Timestamp":"#;
    let line = RequestLine::new("update-connection", "$LATEST", |_| {});
    let log = RequestLog {
        connection_id: Some("01J51S0JYV6N7K1030CV1ZKSCB".into()),
        client_id: Some("client-demo".into()),
        dynamodb: Duration::from_micros(2_345),
        dynamodb_calls: 1,
        write_units: Some(1.0),
    };
    let outcome = Outcome {
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        trace_id: Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ),
        cold_start: false,
        status: 200,
        problem: None,
        latency: Duration::from_micros(2_901),
    };
    let now = clock::at(std::time::Duration::new(1_795_938_257, 112_000_000));
    let mut group = c.benchmark_group("request_line");
    group.bench_function("derived_serialize", |b| {
        b.iter(|| line.line(&log, outcome, &now))
    });
    group.bench_function("hand_formatted_baseline", |b| {
        b.iter(|| hand_formatted_line(emf, &log, outcome, &now))
    });
    group.finish();
}

criterion_group!(benches, request_path, request_line);
criterion_main!(benches);
