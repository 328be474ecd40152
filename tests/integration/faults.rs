//! Step 7: a database that is missing or broken gives 503/500, never a hang or a leak.

use std::time::{Duration, Instant};

use update_connection::store::{Store, dynamodb_client_at};
use update_connection::{App, Config};

use crate::support::*;

fn config(connections: &str, api_keys: &str) -> Config {
    Config {
        connections_table: connections.into(),
        api_keys_table: api_keys.into(),
        api_key_cache_ttl: Duration::from_secs(60),
        warm_up: false,
    }
}

#[tokio::test]
async fn unreachable_database_is_503_with_retry_after_quickly() {
    // A loopback port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = dynamodb_client_at(&format!("http://127.0.0.1:{port}")).await;
    let app = App::new(
        Store::new(client, "c".into(), "k".into()),
        &config("c", "k"),
    );
    let event: update_connection::Event =
        serde_json::from_value(patch(ACTIVE, r#"{"status":"disconnected"}"#)).unwrap();
    let started = Instant::now();
    let response = app.handle(&event, "r-503").await.response;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert!(response.body.contains("\"code\":\"unavailable\""));
}

#[tokio::test]
async fn missing_table_is_500_without_internals() {
    let f = Fixture::new().await;
    let client = dynamodb_client_at(endpoint()).await;
    let app = App::new(
        Store::new(client, "no-such-table".into(), f.api_keys.clone()),
        &config("no-such-table", &f.api_keys),
    );
    let event: update_connection::Event =
        serde_json::from_value(patch(ACTIVE, r#"{"status":"disconnected"}"#)).unwrap();
    let response = app.handle(&event, "r-500").await.response;
    assert_eq!(response.status, 500, "{}", response.body);
    assert!(response.body.contains("\"code\":\"internal\""));
    for leak in [
        "ResourceNotFound",
        "no-such-table",
        "dynamodb",
        "DynamoDB",
        "Exception",
    ] {
        assert!(!response.body.contains(leak), "{leak} in {}", response.body);
    }
}
