//! DynamoDB requests per invocation: one write, never a read before it.

use crate::support::*;

#[tokio::test]
async fn the_warm_up_makes_one_key_read_and_caches_nothing() {
    let f = Fixture::new().await;
    f.app.warm_up(std::time::Duration::from_secs(5)).await;
    assert_eq!(f.calls.take(), ["GetItem"]);
    // The first request still looks its key up: the warm-up read no real key.
    f.send(patch(ACTIVE_B, r#"{"email":"w@example.com"}"#))
        .await;
    assert_eq!(f.calls.take(), ["GetItem", "UpdateItem"]);
}

#[tokio::test]
async fn calls_per_request() {
    let f = Fixture::new().await;
    // Cold key cache: the key lookup, then the write.
    f.send(patch(ACTIVE_B, r#"{"email":"b1@example.com"}"#))
        .await;
    assert_eq!(f.calls.take(), ["GetItem", "UpdateItem"]);
    // Warm: the write only.
    assert_eq!(
        f.send(patch(ACTIVE_B, r#"{"email":"b2@example.com"}"#))
            .await
            .status,
        200
    );
    assert_eq!(f.calls.take(), ["UpdateItem"]);
    // Conditional failures: still one call, no second read.
    for id in [UNKNOWN, OTHER_CLIENTS, READ_ONLY, EXPIRED, DISCONNECTED] {
        assert_ne!(
            f.send(patch(id, r#"{"email":"z@example.com"}"#))
                .await
                .status,
            200
        );
        assert_eq!(f.calls.take(), ["UpdateItem"], "{id}");
    }
    // Refused before the write: no call.
    f.send(patch(ACTIVE_B, r#"{"email":"nope"}"#)).await;
    f.send(with_header(patch(ACTIVE_B, "{}"), "authorization", None))
        .await;
    f.send(with_header(patch(ACTIVE_B, "{}"), "x-api-key", None))
        .await;
    assert_eq!(f.calls.take(), Vec::<String>::new());
    // A wrong key is remembered too.
    f.send(with_header(
        patch(ACTIVE_B, "{}"),
        "x-api-key",
        Some("wrong-key"),
    ))
    .await;
    f.send(with_header(
        patch(ACTIVE_B, "{}"),
        "x-api-key",
        Some("wrong-key"),
    ))
    .await;
    assert_eq!(f.calls.take(), ["GetItem"]);
}

#[tokio::test]
async fn key_revocation_applies_after_the_cache_ttl() {
    let f = Fixture::with_ttl(std::time::Duration::ZERO).await;
    assert_eq!(
        f.send(patch(ACTIVE_B, r#"{"email":"b1@example.com"}"#))
            .await
            .status,
        200
    );
    revoke_the_demo_key(&f).await;
    f.refused(
        patch(ACTIVE_B, r#"{"email":"b2@example.com"}"#),
        401,
        "invalid-api-key",
    )
    .await;
}

#[tokio::test]
async fn an_active_key_survives_a_flood_of_unknown_keys() {
    // The longest TTL: 10,000 lookups on a loaded 2-core machine can outlast the default
    // 60 s, and the key would then expire by time, not by eviction.
    let ttl = std::time::Duration::from_secs(300);
    let f = Fixture::with_ttl(ttl).await;
    let started = std::time::Instant::now();
    let ok = f
        .send(patch(ACTIVE_B, r#"{"email":"b1@example.com"}"#))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(f.calls.take(), ["GetItem", "UpdateItem"]);
    // Random keys within one TTL: each is a miss (one read), and none may push the
    // active key out of the cache.
    const FLOOD: usize = 10_000;
    for i in 0..FLOOD {
        let reply = f
            .send(with_header(
                patch(ACTIVE_B, "{}"),
                "x-api-key",
                Some(&format!("random-key-{i}-{}", std::process::id())),
            ))
            .await;
        assert_eq!(reply.status, 401);
    }
    let calls = f.calls.take();
    assert_eq!(calls.len(), FLOOD);
    assert!(calls.iter().all(|c| c == "GetItem"));
    assert!(
        started.elapsed() < ttl,
        "the flood outlasted the TTL: nothing proven"
    );
    // The active key is still cached: the write is the only call.
    let ok = f
        .send(patch(ACTIVE_B, r#"{"email":"b2@example.com"}"#))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(f.calls.take(), ["UpdateItem"]);
}

#[tokio::test]
async fn key_lookups_are_strongly_consistent() {
    let f = Fixture::new().await;
    f.send(patch(ACTIVE_B, r#"{"email":"b1@example.com"}"#))
        .await;
    let calls = f.calls.take_with_bodies();
    let (op, body) = &calls[0];
    assert_eq!(op, "GetItem");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["ConsistentRead"], true, "{body}");
}

/// Managed Instances serve invocations at once in one process: concurrent first uses of
/// one key (each a cache miss) read it once and all get its answer.
#[tokio::test]
async fn concurrent_first_uses_of_one_key_read_it_once() {
    let f = Fixture::new().await;
    let send = |email: &str| f.send(patch(ACTIVE_B, &format!(r#"{{"email":"{email}"}}"#)));
    let (a, b, c, d) = tokio::join!(
        send("c1@example.com"),
        send("c2@example.com"),
        send("c3@example.com"),
        send("c4@example.com"),
    );
    assert_eq!([a.status, b.status, c.status, d.status], [200; 4]);
    let mut calls = f.calls.take();
    calls.sort();
    assert_eq!(
        calls,
        [
            "GetItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem",
            "UpdateItem"
        ]
    );
    // An unknown key too: one read, four refusals.
    let unknown = || {
        f.send(with_header(
            patch(ACTIVE_B, "{}"),
            "x-api-key",
            Some("never-issued"),
        ))
    };
    let (a, b, c, d) = tokio::join!(unknown(), unknown(), unknown(), unknown());
    assert_eq!([a.status, b.status, c.status, d.status], [401; 4]);
    assert_eq!(f.calls.take(), ["GetItem"]);
}

/// Single flight shares only a read in flight: once the TTL has passed, concurrent uses of
/// a revoked key read it again, once, and are all refused.
#[tokio::test]
async fn a_revoked_key_stops_working_within_the_ttl_under_concurrency() {
    let ttl = std::time::Duration::from_millis(300);
    let f = Fixture::with_ttl(ttl).await;
    let send = || f.send(patch(ACTIVE_B, r#"{"email":"r@example.com"}"#));
    let (a, b) = tokio::join!(send(), send());
    assert_eq!([a.status, b.status], [200; 2]);
    revoke_the_demo_key(&f).await;
    f.calls.take();
    tokio::time::sleep(ttl + std::time::Duration::from_millis(100)).await;
    let (a, b, c) = tokio::join!(send(), send(), send());
    for reply in [a, b, c] {
        reply.assert_problem(401, "invalid-api-key");
    }
    assert_eq!(f.calls.take(), ["GetItem"]);
}

/// The demo client's API key, revoked in the table (as `connections-admin revoke-key`).
async fn revoke_the_demo_key(f: &Fixture) {
    let revoked = connections_admin::ApiKeySeed {
        secret: KEY.into(),
        client_id: "client-demo".into(),
        status: "revoked".into(),
    };
    connections_admin::put_api_key(&f.client, &f.api_keys, &revoked)
        .await
        .unwrap();
}
