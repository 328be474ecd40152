//! Step 7: a database that is missing or broken gives 503/500, never a hang or a leak.

use std::time::{Duration, Instant};

use update_connection::store::{Store, dynamodb_client_at};
use update_connection::{App, Config};

use crate::support::*;

fn config(connections: &str, api_keys: &str) -> Config {
    Config {
        api_key_cache_ttl: Duration::from_secs(60),
        ..Config::for_tables(connections, api_keys)
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
    let app = App::with_lines_to(
        Store::new(client, "c".into(), "k".into()),
        &config("c", "k"),
        |_| {},
    );
    let event: update_connection::Event =
        serde_json::from_value(patch(ACTIVE, r#"{"status":"disconnected"}"#)).unwrap();
    let started = Instant::now();
    let response = app.handle(&event, "r-503").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let reply = Reply::from_lambda(serde_json::to_value(&response).unwrap(), "r-503".into());
    // Type, title, status, code, detail, request id and the problem content type.
    reply.assert_problem(503, "unavailable");
    assert_eq!(reply.body["title"], "Service unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn missing_table_is_500_without_internals() {
    let f = Fixture::new().await;
    let client = dynamodb_client_at(endpoint()).await;
    let app = App::with_lines_to(
        Store::new(client, "no-such-table".into(), f.api_keys.clone()),
        &config("no-such-table", &f.api_keys),
        |_| {},
    );
    let event: update_connection::Event =
        serde_json::from_value(patch(ACTIVE, r#"{"status":"disconnected"}"#)).unwrap();
    let response = app.handle(&event, "r-500").await;
    let reply = Reply::from_lambda(serde_json::to_value(&response).unwrap(), "r-500".into());
    reply.assert_problem(500, "internal");
    assert_eq!(reply.body["title"], "Internal error");
    assert!(reply.header("retry-after").is_none());
    let response = response.response;
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

mod injected {
    //! Faults injected between the function and DynamoDB Local: each gives 503 with
    //! Retry-After inside the time budget and changes nothing, and the same instance
    //! serves normally once the database is back.

    use std::time::{Duration, Instant};

    use update_connection::store::{Store, dynamodb_client_at};
    use update_connection::{App, Config, Event};

    use crate::support::fault_proxy::{FaultProxy, Mode};
    use crate::support::*;

    /// 2 s per DynamoDB call, at most two calls, and some slack for a loaded machine.
    const BUDGET: Duration = Duration::from_secs(5);

    async fn behind_proxy(f: &Fixture) -> (FaultProxy, App) {
        let proxy = FaultProxy::start(endpoint()).await;
        let client = dynamodb_client_at(&proxy.endpoint).await;
        let config = Config {
            api_key_cache_ttl: Duration::from_secs(60),
            ..Config::for_tables(f.connections.clone(), f.api_keys.clone())
        };
        let app = App::with_lines_to(
            Store::new(client, f.connections.clone(), f.api_keys.clone()),
            &config,
            |_| {},
        );
        (proxy, app)
    }

    async fn call(app: &App, body: &str) -> (u16, Option<String>, Duration) {
        static IDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let id = format!(
            "fault-{}",
            IDS.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let event: Event = serde_json::from_value(patch(ACTIVE_B, body)).unwrap();
        let started = Instant::now();
        let response = app.handle(&event, &id).await.response;
        let retry_after = response.header("retry-after").map(str::to_owned);
        (response.status, retry_after, started.elapsed())
    }

    async fn survives(mode: Mode) {
        let f = Fixture::new().await;
        let (proxy, app) = behind_proxy(&f).await;
        // Healthy first: the key is cached and a connection is pooled.
        assert_eq!(call(&app, r#"{"email":"one@example.com"}"#).await.0, 200);
        let before = f.snapshot().await;

        proxy.set(mode);
        for _ in 0..3 {
            let (status, retry_after, took) = call(&app, r#"{"email":"two@example.com"}"#).await;
            assert_eq!(status, 503, "{mode:?}");
            assert_eq!(retry_after.as_deref(), Some("1"), "{mode:?}");
            assert!(took < BUDGET, "{mode:?} took {took:?}");
        }
        proxy.set(Mode::Pass);
        if matches!(mode, Mode::Slow(_)) {
            // Only the answers were slowed: each request's write may have landed, but its
            // retried attempts must not write again (three requests, at most three writes).
            let version = |items: &[Item]| {
                items
                    .iter()
                    .find(|i| s(i, "connection_id") == ACTIVE_B)
                    .map(|i| n(i, "version"))
            };
            let (was, is) = (
                version(&before).unwrap(),
                version(&f.snapshot().await).unwrap(),
            );
            assert!(
                is <= was + 3,
                "{mode:?}: version {was} -> {is}: a retried attempt wrote again"
            );
        } else {
            assert_eq!(
                f.snapshot().await,
                before,
                "{mode:?}: a refused call changed the table"
            );
        }

        let (status, _, _) = call(&app, r#"{"email":"three@example.com"}"#).await;
        assert_eq!(status, 200, "{mode:?}: no recovery without a restart");
        assert_eq!(
            s(&f.item(ACTIVE_B).await.unwrap(), "email"),
            "three@example.com"
        );
    }

    #[tokio::test]
    async fn database_down_mid_run() {
        survives(Mode::Down).await;
    }

    #[tokio::test]
    async fn database_throttling() {
        survives(Mode::Throttle).await;
    }

    #[tokio::test]
    async fn database_too_slow() {
        survives(Mode::Slow(Duration::from_secs(3))).await;
    }

    #[tokio::test]
    async fn database_down_before_the_key_lookup() {
        let f = Fixture::new().await;
        let (proxy, app) = behind_proxy(&f).await;
        proxy.set(Mode::Down);
        let (status, retry_after, took) = call(&app, r#"{"email":"x@example.com"}"#).await;
        assert_eq!((status, retry_after.as_deref()), (503, Some("1")));
        assert!(took < BUDGET, "took {took:?}");
        proxy.set(Mode::Pass);
        assert_eq!(call(&app, r#"{"email":"y@example.com"}"#).await.0, 200);
    }
}
