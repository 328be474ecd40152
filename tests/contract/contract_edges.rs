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
    let now = clock::now().since_epoch().as_secs();
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
        if clock::now().since_epoch().as_secs() != now {
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
        if clock::now().since_epoch().as_secs() != now {
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

/// An expiry 0.3 s or more in the past, within the current wall-clock second: expired,
/// though the whole seconds are equal. Judged only when the function's clock read fell in
/// that same second (checked after the answer), so a clock cut to whole seconds cannot pass
/// by the second having rolled over meanwhile.
#[tokio::test]
async fn a_token_expires_to_the_instant_not_the_second() {
    let f = Fixture::new().await;
    let mut judged = false;
    let mut now = clock::now().since_epoch();
    for _ in 0..10 {
        now = clock::now().since_epoch();
        if now.subsec_millis() < 400 || now.subsec_millis() > 600 {
            let wait = (1400 - now.subsec_millis()) % 1000;
            tokio::time::sleep(std::time::Duration::from_millis(u64::from(wait))).await;
            now = clock::now().since_epoch();
        }
        let mut item = f.item(ACTIVE_B).await.unwrap();
        item.insert(
            "token_expires_at".into(),
            AttributeValue::N(format!("{}.1", now.as_secs())),
        );
        f.put(item).await;
        let before = f.snapshot().await;
        let reply = f
            .send(patch(ACTIVE_B, r#"{"status":"disconnected"}"#))
            .await;
        if clock::now().since_epoch().as_secs() != now.as_secs() {
            // The second rolled over before the answer: this round proves nothing.
            assert_ne!(reply.status, 200, "a write on an expired token: {reply:?}");
            f.put(
                before
                    .into_iter()
                    .find(|i| s(i, "connection_id") == ACTIVE_B)
                    .unwrap(),
            )
            .await;
            continue;
        }
        reply.assert_problem(401, "invalid-token");
        assert_eq!(
            f.snapshot().await,
            before,
            "a refused request changed the table"
        );
        judged = true;
        break;
    }
    assert!(judged, "no round stayed within one second");
    // Half a second ahead, as a fraction: still valid.
    let ahead = now + std::time::Duration::from_millis(1500);
    let mut item = f.item(ACTIVE_B).await.unwrap();
    item.insert(
        "token_expires_at".into(),
        AttributeValue::N(format!("{}.{:03}", ahead.as_secs(), ahead.subsec_millis())),
    );
    f.put(item).await;
    let body = json!({"email": "instant@example.com"});
    f.accepted(ACTIVE_B, &body, patch(ACTIVE_B, &body.to_string()))
        .await;
}

/// A "never" expiry DynamoDB can hold is far in the future, never an internal error,
/// whichever rule the request then breaks.
#[tokio::test]
async fn a_far_future_expiry_answers_every_rule() {
    let f = Fixture::new().await;
    for never in ["1e20", "9.9E+125", "18446744073709551616"] {
        for id in [ACTIVE_B, DISCONNECTED] {
            let mut item = f.item(id).await.unwrap();
            item.insert("token_expires_at".into(), AttributeValue::N(never.into()));
            f.put(item).await;
        }
        let wrong = with_header(
            patch(ACTIVE_B, r#"{"email":"x@example.com"}"#),
            "authorization",
            Some("Bearer not-the-token"),
        );
        f.refused(wrong, 401, "invalid-token").await;
        let stale = with_header(
            patch(ACTIVE_B, r#"{"email":"x@example.com"}"#),
            "if-match",
            Some("\"999\""),
        );
        f.refused(stale, 412, "precondition-failed").await;
        f.refused(
            patch(DISCONNECTED, r#"{"email":"x@example.com"}"#),
            409,
            "connection-disconnected",
        )
        .await;
    }
    let body = json!({"mobile": "+14155550199"});
    f.accepted(ACTIVE_B, &body, patch(ACTIVE_B, &body.to_string()))
        .await;
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
