//! DynamoDB requests per invocation: one write, never a read before it.

use crate::support::*;

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
    let revoked = update_connection::admin::ApiKeySeed {
        secret: KEY.into(),
        client_id: "client-demo".into(),
        status: "revoked".into(),
    };
    update_connection::admin::put_api_key(&f.client, &f.api_keys, &revoked)
        .await
        .unwrap();
    f.refused(
        patch(ACTIVE_B, r#"{"email":"b2@example.com"}"#),
        401,
        "invalid-api-key",
    )
    .await;
}
