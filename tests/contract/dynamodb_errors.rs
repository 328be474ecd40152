//! Step 7, one DynamoDB error code at a time: each is answered by the fault proxy as the
//! service sends it, on the key lookup (nothing cached) and on the update (the key cached),
//! and must become the contract's answer: throttling and the service's own failures are
//! 503 `unavailable` with Retry-After; anything else (a permission, a missing table, a
//! bug) is 500 `internal`. Nothing is written, and the code never reaches the body.

use std::sync::atomic::{AtomicU32, Ordering};

use update_connection::store::{Store, dynamodb_client_at};
use update_connection::{App, Config, Event};

use crate::support::fault_proxy::{FaultProxy, Mode};
use crate::support::*;

/// A fresh function instance (empty key cache) whose DynamoDB calls go through `proxy`.
async fn app_behind(proxy: &FaultProxy, f: &Fixture) -> App {
    let client = dynamodb_client_at(&proxy.endpoint).await;
    let config = Config::for_tables(f.connections.clone(), f.api_keys.clone());
    App::with_lines_to(
        Store::new(client, f.connections.clone(), f.api_keys.clone()),
        &config,
        |_| {},
    )
}

async fn call(app: &App, body: &str) -> Reply {
    static IDS: AtomicU32 = AtomicU32::new(0);
    let id = format!("classify-{}", IDS.fetch_add(1, Ordering::SeqCst));
    let event: Event = serde_json::from_value(patch(ACTIVE_B, body)).unwrap();
    let response = app.handle(&event, &id).await;
    Reply::from_lambda(serde_json::to_value(&response).unwrap(), id)
}

/// The answers while every DynamoDB call gets `code` with HTTP `status`: first when the
/// key lookup fails, then when the update fails. Both must leave the table unchanged.
async fn answers_when_dynamodb_says(status: u16, code: &'static str) -> [(&'static str, Reply); 2] {
    let f = Fixture::new().await;
    let proxy = FaultProxy::start(endpoint()).await;
    let before = f.snapshot().await;

    proxy.set(Mode::Error { status, code });
    let lookup = call(
        &app_behind(&proxy, &f).await,
        r#"{"email":"x@example.com"}"#,
    )
    .await;
    assert_eq!(
        f.snapshot().await,
        before,
        "{code}: a failed lookup changed the table"
    );

    // A healthy call caches the key; the next call's only DynamoDB call is the update.
    proxy.set(Mode::Pass);
    let app = app_behind(&proxy, &f).await;
    let ok = call(&app, r#"{"email":"one@example.com"}"#).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let before_update = f.snapshot().await;
    proxy.set(Mode::Error { status, code });
    let update = call(&app, r#"{"email":"two@example.com"}"#).await;
    proxy.set(Mode::Pass);

    assert_ne!(before, before_update, "the healthy call did not write");
    assert_eq!(
        f.snapshot().await,
        before_update,
        "{code}: a failed update changed the table"
    );
    [("key lookup", lookup), ("update", update)]
}

async fn assert_unavailable(status: u16, code: &'static str) {
    for (call, reply) in answers_when_dynamodb_says(status, code).await {
        assert_eq!(
            reply.status, 503,
            "{code} ({status}) on the {call}: {}",
            reply.body
        );
        reply.assert_problem(503, "unavailable");
        assert_eq!(
            reply.header("retry-after"),
            Some("1"),
            "{code} on the {call}"
        );
        assert_no_internals(&reply, code);
    }
}

async fn assert_internal(status: u16, code: &'static str) {
    for (call, reply) in answers_when_dynamodb_says(status, code).await {
        assert_eq!(
            reply.status, 500,
            "{code} ({status}) on the {call}: {}",
            reply.body
        );
        reply.assert_problem(500, "internal");
        assert!(
            reply.header("retry-after").is_none(),
            "{code} on the {call}: a 500 is not worth a retry"
        );
        assert_no_internals(&reply, code);
    }
}

fn assert_no_internals(reply: &Reply, code: &str) {
    let body = reply.body.to_string();
    for leak in [code, "injected", "Exception", "DynamoDB", "dynamodb"] {
        assert!(!body.contains(leak), "{leak} in {body}");
    }
}

// DynamoDB sends its throttling and limit errors with HTTP 400: only the code tells them
// from a refusal, so these pin the list of retryable codes.

#[tokio::test]
async fn throttling_is_503() {
    for code in [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    ] {
        assert_unavailable(400, code).await;
    }
}

#[tokio::test]
async fn a_limit_exceeded_is_503() {
    assert_unavailable(400, "LimitExceededException").await;
}

#[tokio::test]
async fn a_transaction_conflict_is_503() {
    assert_unavailable(400, "TransactionConflictException").await;
}

#[tokio::test]
async fn the_services_own_failures_are_503() {
    assert_unavailable(500, "InternalServerError").await;
    assert_unavailable(503, "ServiceUnavailable").await;
    // A 5xx is the service's side whatever its code says.
    assert_unavailable(500, "SomeFutureFailure").await;
}

#[tokio::test]
async fn a_permission_error_is_500() {
    assert_internal(400, "AccessDeniedException").await;
    assert_internal(400, "UnrecognizedClientException").await;
}

#[tokio::test]
async fn a_missing_table_is_500() {
    assert_internal(400, "ResourceNotFoundException").await;
}

#[tokio::test]
async fn a_request_dynamodb_calls_invalid_is_500() {
    // A bug in the request we built: retrying it cannot help.
    assert_internal(400, "ValidationException").await;
}
