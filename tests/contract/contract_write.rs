//! Step 6: the conditional write and how each refusal is reported.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn disconnect_writes_and_returns_the_connection() {
    let f = Fixture::new().await;
    let reply = f.send(patch(ACTIVE, r#"{"status":"disconnected"}"#)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let item = f.item(ACTIVE).await.unwrap();
    assert_eq!(reply.body, view(&item));
    for (member, value) in [
        ("connection_id", json!(ACTIVE)),
        ("customer_id", json!("8a46e581-48ba-498a-9ad0-2ee72582e1af")),
        ("retailer_id", json!("01J7SC0NN73R6F5VVSP3ZKPDA3")),
        ("status", json!("disconnected")),
        ("email", json!("alice@example.com")),
        ("mobile", json!(null)),
    ] {
        assert_eq!(reply.body[member], value, "{member}");
    }
    assert_eq!(s(&item, "status"), "disconnected");
    assert_eq!(n(&item, "version"), 2);
    assert_ne!(s(&item, "updated_at"), "2026-01-01T00:00:00.000Z");
    assert!(s(&item, "updated_at").ends_with('Z'));
    assert_eq!(s(&item, "disconnected_at"), s(&item, "updated_at"));
    assert_eq!(
        s(&item, "created_at"),
        "2026-01-01T00:00:00.000Z",
        "created_at untouched"
    );
}

#[tokio::test]
async fn every_status_can_be_disconnected() {
    let f = Fixture::new().await;
    for id in [ACTIVE, INITIALIZED, UNAUTHENTICATED] {
        let reply = f.send(patch(id, r#"{"status":"disconnected"}"#)).await;
        assert_eq!(reply.status, 200, "{id}: {}", reply.body);
        assert_eq!(s(&f.item(id).await.unwrap(), "status"), "disconnected");
    }
}

#[tokio::test]
async fn contact_update_sets_and_removes() {
    let f = Fixture::new().await;
    let reply = f
        .send(patch(
            ACTIVE_B,
            r#"{"email":"bob@example.org","mobile":null}"#,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["email"], "bob@example.org");
    assert_eq!(reply.body["mobile"], json!(null));
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body, view(&f.item(ACTIVE_B).await.unwrap()));
    let item = f.item(ACTIVE_B).await.unwrap();
    assert_eq!(s(&item, "email"), "bob@example.org");
    assert!(!item.contains_key("mobile"), "null removes the attribute");
    assert_eq!(
        s(&item, "customer_id"),
        "customer-b",
        "absent leaves unchanged"
    );
    assert!(!item.contains_key("disconnected_at"));
    assert_eq!(n(&item, "version"), 2);

    let reply = f
        .send(patch(
            ACTIVE_B,
            r#"{"mobile":"+447700900123","email":null,"customer_id":"c-9","status":null}"#,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("etag"), Some("\"3\""));
    let item = f.item(ACTIVE_B).await.unwrap();
    assert_eq!(s(&item, "mobile"), "+447700900123");
    assert_eq!(s(&item, "customer_id"), "c-9");
    assert!(!item.contains_key("email"));
    assert_eq!(
        s(&item, "status"),
        "active",
        "status null leaves it unchanged"
    );
}

#[tokio::test]
async fn customer_id_null_leaves_it_unchanged() {
    let f = Fixture::new().await;
    let reply = f
        .send(patch(
            ACTIVE_B,
            r#"{"customer_id":null,"email":"b@example.net"}"#,
        ))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["customer_id"], "customer-b");
    assert_eq!(
        s(&f.item(ACTIVE_B).await.unwrap(), "customer_id"),
        "customer-b"
    );
}

#[tokio::test]
async fn unicode_customer_id_round_trips() {
    let f = Fixture::new().await;
    let id = "顧客-🚀-ü";
    let reply = f
        .send(patch(ACTIVE_B, &json!({"customer_id": id}).to_string()))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["customer_id"], id);
    assert_eq!(s(&f.item(ACTIVE_B).await.unwrap(), "customer_id"), id);
}

#[tokio::test]
async fn unknown_or_other_clients_connection_is_404_alike() {
    let f = Fixture::new().await;
    let unknown = f
        .refused(
            patch(UNKNOWN, r#"{"status":"disconnected"}"#),
            404,
            "not-found",
        )
        .await;
    assert!(
        f.item(UNKNOWN).await.is_none(),
        "a refused update must not create an item"
    );
    let foreign = f
        .refused(
            patch(OTHER_CLIENTS, r#"{"status":"disconnected"}"#),
            404,
            "not-found",
        )
        .await;
    // Even with the right token of the other client's connection: no existence oracle.
    assert_eq!(unknown.body["detail"], foreign.body["detail"]);
    assert_eq!(unknown.body["title"], foreign.body["title"]);
}

#[tokio::test]
async fn wrong_or_expired_token_is_401_invalid_token() {
    let f = Fixture::new().await;
    let wrong = with_header(
        patch(ACTIVE, r#"{"status":"disconnected"}"#),
        "authorization",
        Some("Bearer demo-token-active-b"),
    );
    let reply = f.refused(wrong, 401, "invalid-token").await;
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"connections\", error=\"invalid_token\"")
    );

    let reply = f
        .refused(
            patch(EXPIRED, r#"{"status":"disconnected"}"#),
            401,
            "invalid-token",
        )
        .await;
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn token_without_write_scope_is_403() {
    let f = Fixture::new().await;
    let reply = f
        .refused(
            patch(READ_ONLY, r#"{"email":"g@example.com"}"#),
            403,
            "insufficient-scope",
        )
        .await;
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer error=\"insufficient_scope\", scope=\"connections:write\"")
    );
}

#[tokio::test]
async fn if_match_guards_the_version() {
    let f = Fixture::new().await;
    let event = |etag: &str| {
        with_header(
            patch(ACTIVE_B, r#"{"email":"x@example.com"}"#),
            "if-match",
            Some(etag),
        )
    };
    for stale in ["\"7\"", "W/\"1\"", "1", "\"one\""] {
        f.refused(event(stale), 412, "precondition-failed").await;
    }
    let reply = f.send(event("\"1\"")).await;
    assert_eq!((reply.status, reply.header("etag")), (200, Some("\"2\"")));
    let reply = f.send(event("\"9\", \"2\"")).await;
    assert_eq!((reply.status, reply.header("etag")), (200, Some("\"3\"")));
    let reply = f.send(event("*")).await;
    assert_eq!((reply.status, reply.header("etag")), (200, Some("\"4\"")));
    f.refused(event("\"3\""), 412, "precondition-failed").await;
    assert_eq!(n(&f.item(ACTIVE_B).await.unwrap(), "version"), 4);
}

#[tokio::test]
async fn precondition_failure_is_not_revealed_before_authorisation() {
    let f = Fixture::new().await;
    let event = with_header(
        patch(OTHER_CLIENTS, r#"{"email":"x@example.com"}"#),
        "if-match",
        Some("\"99\""),
    );
    f.refused(event, 404, "not-found").await;
    let event = with_header(
        with_header(
            patch(ACTIVE, r#"{"email":"x@example.com"}"#),
            "if-match",
            Some("\"99\""),
        ),
        "authorization",
        Some("Bearer wrong"),
    );
    f.refused(event, 401, "invalid-token").await;
}

#[tokio::test]
async fn disconnected_is_terminal_but_retries_succeed_without_a_write() {
    let f = Fixture::new().await;
    let before = f.item(DISCONNECTED).await.unwrap();

    let reply = f
        .send(patch(DISCONNECTED, r#"{"status":"disconnected"}"#))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.body["status"], "disconnected");
    assert_eq!(reply.body["email"], "frank@example.com");

    let reply = f
        .send(patch(
            DISCONNECTED,
            r#"{"status":"disconnected","email":"frank@example.com","mobile":null}"#,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        f.item(DISCONNECTED).await.unwrap(),
        before,
        "a retry writes nothing"
    );

    for body in [
        r#"{"email":"new@example.com"}"#,
        r#"{"status":"disconnected","mobile":"+14155550123"}"#,
        r#"{"email":null}"#,
        r#"{"customer_id":"other"}"#,
    ] {
        f.refused(patch(DISCONNECTED, body), 409, "connection-disconnected")
            .await;
    }
}

#[tokio::test]
async fn a_retried_disconnect_returns_what_the_first_one_did() {
    let f = Fixture::new().await;
    let first = f.send(patch(ACTIVE, r#"{"status":"disconnected"}"#)).await;
    let item = f.item(ACTIVE).await.unwrap();
    let retry = f.send(patch(ACTIVE, r#"{"status":"disconnected"}"#)).await;
    assert_eq!((first.status, retry.status), (200, 200));
    assert_eq!(first.body, retry.body);
    assert_eq!(first.header("etag"), retry.header("etag"));
    assert_eq!(
        f.item(ACTIVE).await.unwrap(),
        item,
        "the retry wrote nothing"
    );
    let update = f.send(patch(ACTIVE, r#"{"mobile":"+14155550123"}"#)).await;
    update.assert_problem(409, "connection-disconnected");
}

#[tokio::test]
async fn refusals_follow_the_contract_order() {
    let f = Fixture::new().await;
    // Wrong token and missing scope and disconnected: the token is reported.
    let event = with_header(
        patch(READ_ONLY, r#"{"email":"x@example.com"}"#),
        "authorization",
        Some("Bearer nope"),
    );
    f.refused(event, 401, "invalid-token").await;
    // Stale If-Match on a disconnected connection: 412 comes first.
    let event = with_header(
        patch(DISCONNECTED, r#"{"status":"disconnected"}"#),
        "if-match",
        Some("\"5\""),
    );
    f.refused(event, 412, "precondition-failed").await;
}

#[tokio::test]
async fn the_function_never_writes_another_status() {
    let f = Fixture::new().await;
    for status in [
        "active",
        "initialized",
        "unauthenticated",
        "DISCONNECTED",
        "disconnected ",
    ] {
        let body = json!({"status": status}).to_string();
        f.refused(patch(ACTIVE_B, &body), 422, "validation-failed")
            .await;
    }
}

#[tokio::test]
async fn a_retried_attempt_of_one_request_writes_once() {
    // The SDK retries an attempt whose answer was lost (a timeout): the same request id
    // reaches the table twice. The second finds its own id and is answered, not written.
    let f = Fixture::new().await;
    let event = patch(ACTIVE_B, r#"{"email":"once@example.com"}"#);
    let first = f.send_as(event.clone(), "lambda-request-7".into()).await;
    let again = f.send_as(event.clone(), "lambda-request-7".into()).await;
    assert_eq!((first.status, again.status), (200, 200), "{}", again.body);
    assert_eq!(first.body, again.body);
    assert_eq!(first.header("etag"), Some("\"2\""));
    assert_eq!(again.header("etag"), Some("\"2\""));
    assert_eq!(n(&f.item(ACTIVE_B).await.unwrap(), "version"), 2);
    // A new request (a new id) with the same body is a new write.
    let next = f.send(event).await;
    assert_eq!(next.header("etag"), Some("\"3\""));
}

#[tokio::test]
async fn scopes_count_only_as_a_string_set() {
    // `contains` on a string matches a substring, and on a list an element: only a string
    // set of scopes may grant `connections:write`, in the database and in the explanation.
    let f = Fixture::new().await;
    for scopes in [
        AttributeValue::S("connections:write-limited".into()),
        AttributeValue::S("connections:write".into()),
        AttributeValue::L(vec![AttributeValue::S("connections:write".into())]),
    ] {
        let mut item = f.item(ACTIVE_B).await.unwrap();
        item.insert("token_scopes".into(), scopes.clone());
        f.put(item).await;
        f.refused(
            patch(ACTIVE_B, r#"{"email":"s@example.com"}"#),
            403,
            "insufficient-scope",
        )
        .await;
    }
}

#[tokio::test]
async fn another_clients_malformed_item_is_404_not_500() {
    // Only the caller's own items are parsed: a foreign item that would not parse must not
    // answer differently from an unknown id. The last case, with no owner at all, is nobody's.
    let f = Fixture::new().await;
    let mut foreign = f.item(OTHER_CLIENTS).await.unwrap();
    foreign.remove("retailer_id");
    let mut foreign_bad_version = foreign.clone();
    foreign_bad_version.insert("version".into(), AttributeValue::N("1.5".into()));
    let mut ownerless = f.item(ACTIVE_B).await.unwrap();
    ownerless.remove("client_id");
    for (id, item, body) in [
        (OTHER_CLIENTS, foreign, r#"{"status":"disconnected"}"#),
        (
            OTHER_CLIENTS,
            foreign_bad_version,
            r#"{"status":"disconnected"}"#,
        ),
        (ACTIVE_B, ownerless, r#"{"email":"x@example.com"}"#),
    ] {
        f.put(item).await;
        f.refused(patch(id, body), 404, "not-found").await;
    }
}

#[tokio::test]
async fn repeated_if_match_lines_are_one_list() {
    let f = Fixture::new().await;
    for email in ["v2@example.com", "v3@example.com"] {
        let body = json!({ "email": email }).to_string();
        assert_eq!(f.send(patch(ACTIVE_B, &body)).await.status, 200);
    }
    assert_eq!(n(&f.item(ACTIVE_B).await.unwrap(), "version"), 3);
    // REST API: each line in multiValueHeaders, the last one alone in headers.
    let mut event = patch(ACTIVE_B, r#"{"email":"v4@example.com"}"#);
    event["multiValueHeaders"]["If-Match"] = json!(["\"3\"", "\"4\""]);
    event["headers"]["If-Match"] = json!("\"4\"");
    let reply = f.send(event).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("etag"), Some("\"4\""));

    // Neither line matches: 412, nothing written.
    let mut event = patch(ACTIVE_B, r#"{"email":"v5@example.com"}"#);
    event["multiValueHeaders"]["If-Match"] = json!(["\"1\"", "\"2\""]);
    f.refused(event, 412, "precondition-failed").await;
}

#[tokio::test]
async fn an_if_match_list_over_the_limit_is_refused_not_cut() {
    let f = Fixture::new().await;
    // The matching tag is the 101st: cutting the list would make this a quiet 412.
    let mut tags: Vec<String> = (100..200).map(|v| format!("\"{v}\"")).collect();
    tags.push("\"1\"".into());
    let event = with_header(
        patch(ACTIVE_B, r#"{"email":"x@example.com"}"#),
        "if-match",
        Some(&tags.join(", ")),
    );
    let reply = f.refused(event, 422, "validation-failed").await;
    assert_eq!(reply.body["errors"][0]["field"], "If-Match");
    assert!(
        reply.body["detail"].as_str().unwrap().contains("If-Match"),
        "{}",
        reply.body
    );
    // The same list as repeated lines.
    let mut event = patch(ACTIVE_B, r#"{"email":"x@example.com"}"#);
    event["multiValueHeaders"]["if-match"] = json!(tags);
    f.refused(event, 422, "validation-failed").await;
    // At the limit it is read whole.
    let event = with_header(
        patch(ACTIVE_B, r#"{"email":"x@example.com"}"#),
        "if-match",
        Some(&tags[1..].join(", ")),
    );
    assert_eq!(f.send(event).await.status, 200);
}

#[tokio::test]
async fn a_retry_after_other_writes_still_writes_once() {
    // The first attempt wrote and its answer was lost; other requests wrote before the
    // SDK's retry arrived. The retry finds its id among the recent ones and writes nothing.
    let f = Fixture::new().await;
    let mine = patch(ACTIVE_B, r#"{"email":"mine@example.com"}"#);
    let first = f.send_as(mine.clone(), "lambda-request-a".into()).await;
    assert_eq!(first.header("etag"), Some("\"2\""));
    let others = update_connection::schema::connection::REQUEST_DIGESTS.len() - 1;
    for i in 0..others {
        let body = json!({ "email": format!("other{i}@example.com") }).to_string();
        assert_eq!(f.send(patch(ACTIVE_B, &body)).await.status, 200);
    }
    let before = f.item(ACTIVE_B).await.unwrap();
    let retry = f.send_as(mine.clone(), "lambda-request-a".into()).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(f.item(ACTIVE_B).await.unwrap(), before, "the retry wrote");
    // The answer is the connection as it is now, with the later writes.
    assert_eq!(
        retry.body["email"],
        format!("other{}@example.com", others - 1)
    );

    // The documented limit: once as many other writes came between, the id is forgotten
    // and a retry would write again.
    assert_eq!(
        f.send(patch(ACTIVE_B, r#"{"mobile":null}"#)).await.status,
        200
    );
    let late = f.send_as(mine, "lambda-request-a".into()).await;
    assert_eq!(late.status, 200);
    assert_eq!(
        n(&f.item(ACTIVE_B).await.unwrap(), "version"),
        n(&before, "version") + 2
    );
}
