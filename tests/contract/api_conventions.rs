//! What API clients build on: `Idempotency-Key` (a client's own retry writes once),
//! `application/merge-patch+json` as RFC 7396 reads `null`, and the opt-in 428 for a write
//! without If-Match. Every refusal leaves the table unchanged (`Fixture::refused`).

use serde_json::{Value, json};

use crate::support::*;

fn keyed(id: &str, body: &Value, key: &str) -> Value {
    with_header(patch(id, &body.to_string()), "idempotency-key", Some(key))
}

fn merge(id: &str, body: &str) -> Value {
    with_header(
        patch(id, body),
        "content-type",
        Some("application/merge-patch+json"),
    )
}

/// A retry answers 200, says it replayed, and writes nothing.
async fn replayed(f: &Fixture, event: Value) -> Reply {
    let before = f.snapshot().await;
    let reply = f.send(event).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("idempotent-replayed"), Some("true"));
    assert_eq!(f.snapshot().await, before, "a replay wrote");
    reply
}

#[tokio::test]
async fn a_client_retry_with_the_same_key_writes_once_and_answers_alike() {
    let f = Fixture::new().await;
    let body = json!({"email": "once@example.com"});
    // The key as the draft writes it (an sf-string), then bare: the same key.
    let first = f
        .accepted(ACTIVE, &body, keyed(ACTIVE, &body, "\"k-1\""))
        .await;
    assert_eq!(first.header("idempotent-replayed"), None);
    for key in ["\"k-1\"", "k-1"] {
        let retry = replayed(&f, keyed(ACTIVE, &body, key)).await;
        assert_eq!(retry.body, first.body);
        assert_eq!(retry.header("etag"), first.header("etag"));
    }
    assert_eq!(n(&f.item(ACTIVE).await.unwrap(), "version"), 2);
}

#[tokio::test]
async fn a_replay_after_the_connection_moved_on_answers_it_as_it_is_now() {
    let f = Fixture::new().await;
    let body = json!({"email": "first@example.com"});
    f.accepted(ACTIVE, &body, keyed(ACTIVE, &body, "k-2")).await;
    let later = json!({"mobile": "+14155550177"});
    f.accepted(ACTIVE, &later, patch(ACTIVE, &later.to_string()))
        .await;
    let retry = replayed(&f, keyed(ACTIVE, &body, "k-2")).await;
    let item = f.item(ACTIVE).await.unwrap();
    assert_eq!(retry.body, view(&item));
    assert_eq!(retry.header("etag"), Some("\"3\""));
}

#[tokio::test]
async fn a_retry_with_its_if_match_is_a_replay_not_a_412() {
    let f = Fixture::new().await;
    let body = json!({"status": "disconnected"});
    let event = with_header(keyed(ACTIVE, &body, "k-3"), "if-match", Some("\"1\""));
    f.accepted(ACTIVE, &body, event.clone()).await;
    replayed(&f, event).await;
}

#[tokio::test]
async fn racing_attempts_with_one_key_write_once() {
    let f = Fixture::new().await;
    let body = json!({"mobile": "+14155550123"});
    let event = keyed(ACTIVE_B, &body, "k-race");
    let replies = futures_join(&f, &event, 8).await;
    let written = replies
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .count();
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, replies[0].body);
    }
    assert_eq!(written, 1, "exactly one attempt writes");
    assert_eq!(n(&f.item(ACTIVE_B).await.unwrap(), "version"), 2);
}

async fn futures_join(f: &Fixture, event: &Value, n: usize) -> Vec<Reply> {
    let sends: Vec<_> = (0..n).map(|_| f.send(event.clone())).collect();
    let mut out = Vec::new();
    // Every send is polled together: their UpdateItems are in flight at once.
    let mut pending: Vec<_> = sends.into_iter().map(Box::pin).collect();
    while !pending.is_empty() {
        let (reply, _, rest) = select_all(pending).await;
        out.push(reply);
        pending = rest;
    }
    out
}

/// A minimal `select_all` over boxed futures (no extra crate for one test).
async fn select_all<F: std::future::Future + Unpin>(
    mut futures: Vec<F>,
) -> (F::Output, usize, Vec<F>) {
    std::future::poll_fn(move |cx| {
        for i in 0..futures.len() {
            if let std::task::Poll::Ready(out) = std::pin::Pin::new(&mut futures[i]).poll(cx) {
                drop(futures.swap_remove(i));
                let rest = std::mem::take(&mut futures);
                return std::task::Poll::Ready((out, i, rest));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[tokio::test]
async fn the_same_key_for_another_request_is_422_and_writes_nothing() {
    let f = Fixture::new().await;
    let body = json!({"email": "mine@example.com"});
    f.accepted(ACTIVE, &body, keyed(ACTIVE, &body, "k-4")).await;
    let other = json!({"email": "other@example.com"});
    let reply = f
        .refused(keyed(ACTIVE, &other, "k-4"), 422, "idempotency-key-reused")
        .await;
    assert_eq!(reply.body["errors"][0]["field"], "Idempotency-Key");
    // The same body under another If-Match is another request too.
    let stale = with_header(keyed(ACTIVE, &body, "k-4"), "if-match", Some("\"2\""));
    f.refused(stale, 422, "idempotency-key-reused").await;
}

#[tokio::test]
async fn a_key_belongs_to_one_connection() {
    let f = Fixture::new().await;
    let body = json!({"email": "both@example.com"});
    for id in [ACTIVE, ACTIVE_B] {
        f.accepted(id, &body, keyed(id, &body, "k-5")).await;
    }
}

#[tokio::test]
async fn a_key_is_no_credential() {
    let f = Fixture::new().await;
    let body = json!({"email": "cred@example.com"});
    f.accepted(ACTIVE, &body, keyed(ACTIVE, &body, "k-6")).await;
    let wrong_token = with_header(
        keyed(ACTIVE, &body, "k-6"),
        "authorization",
        Some("Bearer not-the-token"),
    );
    f.refused(wrong_token, 401, "invalid-token").await;
    let other_client = with_header(keyed(ACTIVE, &body, "k-6"), "x-api-key", Some(OTHER_KEY));
    f.refused(other_client, 404, "not-found").await;
}

#[tokio::test]
async fn a_key_is_remembered_for_the_last_four_keyed_writes() {
    let f = Fixture::new().await;
    let write = |i: usize| json!({"customer_id": format!("customer-{i}")});
    f.accepted(ACTIVE, &write(0), keyed(ACTIVE, &write(0), "k-0"))
        .await;
    for i in 1..4 {
        let key = format!("k-{i}");
        f.accepted(ACTIVE, &write(i), keyed(ACTIVE, &write(i), &key))
            .await;
    }
    replayed(&f, keyed(ACTIVE, &write(0), "k-0")).await;
    f.accepted(ACTIVE, &write(4), keyed(ACTIVE, &write(4), "k-4"))
        .await;
    // Five keyed writes on: k-0 is forgotten, and its retry is a new write.
    f.accepted(ACTIVE, &write(0), keyed(ACTIVE, &write(0), "k-0"))
        .await;
}

#[tokio::test]
async fn a_bad_key_is_422_naming_the_header() {
    let f = Fixture::new().await;
    let body = json!({"email": "bad@example.com"});
    let long = "x".repeat(129);
    // "a,b" is what an HTTP API delivers for two Idempotency-Key lines.
    for key in ["a b", "\"a", "é", long.as_str(), "\"\"", "a,b", "k-7, k-8"] {
        let reply = f
            .refused(keyed(ACTIVE, &body, key), 422, "validation-failed")
            .await;
        assert_eq!(
            reply.body["errors"][0]["field"], "Idempotency-Key",
            "{key:?}"
        );
        // The detail too names the header, not just "1 field is invalid".
        assert_eq!(
            reply.body["detail"], "the Idempotency-Key header is invalid",
            "{key:?}"
        );
    }
    let mut twice = keyed(ACTIVE, &body, "k-7");
    twice["multiValueHeaders"]["idempotency-key"] = json!(["k-7", "k-8"]);
    let reply = f.refused(twice, 422, "validation-failed").await;
    assert_eq!(reply.body["errors"][0]["message"], "must be given once");
}

#[tokio::test]
async fn merge_patch_nulls_remove_as_rfc_7396_says() {
    let f = Fixture::new().await;
    // ACTIVE_B holds both an email and a mobile: each null removes its own.
    let before = f.item(ACTIVE_B).await.unwrap();
    assert!(before.contains_key("email") && before.contains_key("mobile"));
    let body = json!({"email": null, "mobile": null});
    f.accepted(ACTIVE_B, &body, merge(ACTIVE_B, &body.to_string()))
        .await;
    let after = f.item(ACTIVE_B).await.unwrap();
    assert!(!after.contains_key("email") && !after.contains_key("mobile"));
    for (body, field) in [
        (r#"{"customer_id":null}"#, "customer_id"),
        (r#"{"status":null}"#, "status"),
        (r#"{"status":null,"email":"x@example.com"}"#, "status"),
    ] {
        let reply = f
            .refused(merge(ACTIVE_B, body), 422, "validation-failed")
            .await;
        assert_eq!(reply.body["errors"][0]["field"], field, "{body}");
        assert_eq!(reply.body["errors"][0]["message"], "cannot be removed");
    }
    // application/json keeps its meaning: a required member's null leaves it.
    let body = json!({"customer_id": null, "email": "json@example.com"});
    f.accepted(ACTIVE_B, &body, patch(ACTIVE_B, &body.to_string()))
        .await;
}

#[tokio::test]
async fn with_require_if_match_a_write_without_an_entity_tag_is_428() {
    let f = Fixture::with_config(|c| c.require_if_match = true).await;
    let body = json!({"email": "tagged@example.com"});
    for tag in [
        None,
        Some("*"),
        Some("W/\"1\""),
        Some("not-a-tag"),
        Some(""),
    ] {
        let event = with_header(patch(ACTIVE, &body.to_string()), "if-match", tag);
        f.refused(event, 428, "precondition-required").await;
    }
    // Credentials and the body come first.
    let no_token = with_header(patch(ACTIVE, &body.to_string()), "authorization", None);
    f.refused(no_token, 401, "invalid-token").await;
    f.refused(
        patch(ACTIVE, r#"{"email":"nope"}"#),
        422,
        "validation-failed",
    )
    .await;
    // Header validation comes first too: a bad Idempotency-Key, an If-Match over 100 tags.
    for (name, value) in [
        ("idempotency-key", "has a space".to_owned()),
        ("if-match", vec!["*"; 101].join(",")),
    ] {
        let event = with_header(patch(ACTIVE, &body.to_string()), name, Some(&value));
        let reply = f.refused(event, 422, "validation-failed").await;
        assert!(
            reply.body["errors"][0]["field"]
                .as_str()
                .is_some_and(|field| field.eq_ignore_ascii_case(name)),
            "{name}: {:?}",
            reply.body
        );
    }
    let event = with_header(patch(ACTIVE, &body.to_string()), "if-match", Some("\"1\""));
    f.accepted(ACTIVE, &body, event).await;
    // Off by default.
    let f = Fixture::new().await;
    f.accepted(ACTIVE, &body, patch(ACTIVE, &body.to_string()))
        .await;
}

/// The fingerprint covers every member a body may change: reusing a key with any one
/// member added is another request (422), never a replay that silently drops it, such as
/// a disconnect. Walks `Member::ALL`, so a new member is covered without touching this.
#[tokio::test]
async fn a_reused_key_with_any_member_changed_is_another_request() {
    use update_connection::domain::member::Member;
    let f = Fixture::new().await;
    for member in Member::ALL {
        let key = format!("fp-{}", member.name());
        let first = json!({"email": "fp@example.com"});
        let reply = f.send(keyed(ACTIVE, &first, &key)).await;
        assert_eq!(reply.status, 200, "{}: {reply:?}", member.name());
        let mut second = first.clone();
        second[member.name()] = json!(if *member == Member::Email {
            "fp-other@example.com"
        } else {
            member.example()
        });
        f.refused(keyed(ACTIVE, &second, &key), 422, "idempotency-key-reused")
            .await;
        // Removing a removable member is a change as well.
        if member.removable() && *member != Member::Email {
            let mut removed = first.clone();
            removed[member.name()] = Value::Null;
            f.refused(keyed(ACTIVE, &removed, &key), 422, "idempotency-key-reused")
                .await;
        }
    }
}

/// A keyed request refused for another rule is told that rule, whatever other keys the
/// connection remembers: only its own key's record can make it a replay or a reuse.
#[tokio::test]
async fn another_keys_record_never_explains_a_refusal() {
    let f = Fixture::new().await;
    let body = json!({"email": "remembered@example.com"});
    assert_eq!(f.send(keyed(ACTIVE, &body, "k-first")).await.status, 200);
    let other = json!({"email": "second@example.com"});
    let stale = with_header(keyed(ACTIVE, &other, "k-second"), "if-match", Some("\"1\""));
    f.refused(stale, 412, "precondition-failed").await;
    let wrong_token = with_header(
        keyed(ACTIVE, &other, "k-second"),
        "authorization",
        Some("Bearer nope"),
    );
    f.refused(wrong_token, 401, "invalid-token").await;
    // The refused key left no record: it writes now.
    assert_eq!(f.send(keyed(ACTIVE, &other, "k-second")).await.status, 200);
}
