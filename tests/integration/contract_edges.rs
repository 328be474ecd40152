//! Boundaries and orderings of the contract that the database decides.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use update_connection::clock;

use crate::support::*;

/// Sets the token's expiry to `now + offset` seconds, sends a write, and returns the answer
/// only if the wall-clock second did not change around the request: the function read the
/// same second, so the boundary was hit exactly.
async fn at_expiry(f: &Fixture, offset: u64, accepted: bool) -> bool {
    let body = json!({"email": "boundary@example.com"});
    let now = clock::now().epoch;
    let mut item = f.item(ACTIVE_B).await.unwrap();
    item.insert(
        "token_expires_at".into(),
        AttributeValue::N((now + offset).to_string()),
    );
    f.put(item).await;
    let event = patch(ACTIVE_B, &body.to_string());
    if accepted {
        let before = f.snapshot().await;
        let reply = f.send(event.clone()).await;
        if clock::now().epoch != now {
            return false;
        }
        assert_eq!(
            reply.status, 200,
            "one second before expiry: {}",
            reply.body
        );
        // The write itself is checked whole elsewhere; here: it wrote.
        assert_ne!(f.snapshot().await, before);
    } else {
        // Refused at and after the second it expires: the assertion holds either way,
        // the boundary is proven only when the second did not change.
        f.refused(event, 401, "invalid-token").await;
        if clock::now().epoch != now {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn a_token_is_valid_until_the_second_it_expires() {
    let f = Fixture::new().await;
    for (offset, accepted) in [(1, true), (0, false)] {
        let mut proven = false;
        for _ in 0..20 {
            if at_expiry(&f, offset, accepted).await {
                proven = true;
                break;
            }
        }
        assert!(
            proven,
            "never hit expiry - {offset} s within one wall-clock second"
        );
    }
}

#[tokio::test]
async fn if_match_star_does_not_reveal_a_missing_or_foreign_connection() {
    let f = Fixture::new().await;
    for id in [UNKNOWN, OTHER_CLIENTS] {
        let event = with_header(
            patch(id, r#"{"email":"x@example.com"}"#),
            "if-match",
            Some("*"),
        );
        f.refused(event, 404, "not-found").await;
    }
    assert!(f.item(UNKNOWN).await.is_none());
}

#[tokio::test]
async fn insufficient_scope_comes_before_a_stale_if_match() {
    let f = Fixture::new().await;
    let event = with_header(
        patch(READ_ONLY, r#"{"email":"x@example.com"}"#),
        "if-match",
        Some("\"99\""),
    );
    f.refused(event, 403, "insufficient-scope").await;
}

#[tokio::test]
async fn a_missing_token_comes_before_a_malformed_id() {
    let f = Fixture::new().await;
    for id in ["not-a-ulid", "01J51S0JYV6N7K1030CV1ZKSCU"] {
        let event = with_header(
            patch(id, r#"{"status":"disconnected"}"#),
            "authorization",
            None,
        );
        let reply = f.refused(event, 401, "invalid-token").await;
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"connections\"")
        );
    }
}

#[tokio::test]
async fn a_retried_disconnect_at_the_current_version_is_answered() {
    let f = Fixture::new().await;
    let disconnect = r#"{"status":"disconnected"}"#;
    let first = f.send(patch(ACTIVE, disconnect)).await;
    assert_eq!(first.header("etag"), Some("\"2\""));
    let before = f.snapshot().await;
    for (id, tag) in [(ACTIVE, "\"2\""), (DISCONNECTED, "\"1\"")] {
        let reply = f
            .send(with_header(patch(id, disconnect), "if-match", Some(tag)))
            .await;
        assert_eq!(reply.status, 200, "{id}: {}", reply.body);
        assert_eq!(reply.header("etag"), Some(tag));
        assert_eq!(reply.body, view(&f.item(id).await.unwrap()));
    }
    assert_eq!(f.snapshot().await, before, "a retry wrote");
}
