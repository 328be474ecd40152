//! Steps 1-4: route, API key, bearer token, id.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn unknown_path_is_404() {
    let f = Fixture::new().await;
    let mut event = patch(ACTIVE, r#"{"status":"disconnected"}"#);
    event["path"] = json!("/connections");
    event["pathParameters"] = json!(null);
    f.refused(event, 404, "not-found").await;

    let mut event = patch(ACTIVE, r#"{"status":"disconnected"}"#);
    event["path"] = json!(format!("/connections/{ACTIVE}/extra"));
    event["pathParameters"] = json!(null);
    f.refused(event, 404, "not-found").await;
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let f = Fixture::new().await;
    for method in ["GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "patch"] {
        let mut event = patch(ACTIVE, r#"{"status":"disconnected"}"#);
        event["httpMethod"] = json!(method);
        let reply = f.refused(event, 405, "method-not-allowed").await;
        assert_eq!(reply.header("allow"), Some("PATCH"), "{method}");
    }
}

#[tokio::test]
async fn route_is_checked_before_credentials() {
    let f = Fixture::new().await;
    let event = rest("GET", ACTIVE, &[], None);
    f.refused(event, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn missing_unknown_or_revoked_api_key_is_401() {
    let f = Fixture::new().await;
    let good = patch(ACTIVE, r#"{"status":"disconnected"}"#);
    for key in [
        None,
        Some(""),
        Some("no-such-key"),
        Some(REVOKED_KEY),
        Some("demo api key"),
    ] {
        let event = with_header(good.clone(), "x-api-key", key);
        let reply = f.refused(event, 401, "invalid-api-key").await;
        assert!(reply.header("www-authenticate").is_some());
    }
}

#[tokio::test]
async fn without_a_valid_key_nothing_else_is_revealed() {
    let f = Fixture::new().await;
    // A bad id, a missing token, a bad body and an unknown connection all look the same.
    let variants = [
        with_header(patch("not-a-ulid", "{}"), "x-api-key", Some("nope")),
        with_header(
            with_header(patch(ACTIVE, "{}"), "authorization", None),
            "x-api-key",
            None,
        ),
        with_header(patch(UNKNOWN, "[]"), "x-api-key", Some(REVOKED_KEY)),
        with_header(patch(OTHER_CLIENTS, "{}"), "x-api-key", Some("nope")),
    ];
    for event in variants {
        f.refused(event, 401, "invalid-api-key").await;
    }
}

#[tokio::test]
async fn repeated_api_key_with_different_values_is_refused() {
    let f = Fixture::new().await;
    let mut event = patch(ACTIVE, r#"{"status":"disconnected"}"#);
    event["multiValueHeaders"]["x-api-key"] = json!([KEY, OTHER_KEY]);
    f.refused(event, 401, "invalid-api-key").await;
}

#[tokio::test]
async fn repeated_api_key_with_one_value_is_that_key() {
    let f = Fixture::new().await;
    let body = json!({"status": "disconnected"});
    let mut event = patch(ACTIVE, &body.to_string());
    event["multiValueHeaders"]["x-api-key"] = json!([KEY, KEY]);
    f.accepted(ACTIVE, &body, event).await;
}

#[tokio::test]
async fn missing_or_non_bearer_authorization_is_401_with_challenge() {
    let f = Fixture::new().await;
    let good = patch(ACTIVE, r#"{"status":"disconnected"}"#);
    let basic = "Basic ZGVtbzpkZW1v".to_owned();
    let empty = "Bearer ".to_owned();
    let token_only = token(ACTIVE);
    for value in [
        None,
        Some(basic.as_str()),
        Some(empty.as_str()),
        Some(token_only.as_str()),
    ] {
        let event = with_header(good.clone(), "authorization", value);
        let reply = f.refused(event, 401, "invalid-token").await;
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"connections\""),
            "{value:?}"
        );
    }
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let f = Fixture::new().await;
    let event = with_header(
        patch(ACTIVE, r#"{"status":"disconnected"}"#),
        "Authorization",
        Some(&format!("bEaReR {}", token(ACTIVE))),
    );
    assert_eq!(f.send(event).await.status, 200);
}

#[tokio::test]
async fn invalid_id_is_404_without_touching_the_database() {
    let f = Fixture::new().await;
    // Warm the key cache so that any database call would be the update.
    f.send(patch(UNKNOWN, r#"{"status":"disconnected"}"#)).await;
    f.calls.take();
    for id in [
        "not-a-ulid",
        "01J51S0JYV6N7K1030CV1ZKSC",
        "81J51S0JYV6N7K1030CV1ZKSCA",
        "01J51S0JYV6N7K1030CV1ZKSCU",
    ] {
        f.refused(patch(id, r#"{"status":"disconnected"}"#), 404, "not-found")
            .await;
    }
    assert_eq!(f.calls.take(), Vec::<String>::new());
}

#[tokio::test]
async fn lower_case_ulid_is_normalised() {
    let f = Fixture::new().await;
    let lower = ACTIVE.to_ascii_lowercase();
    let event = with_header(
        patch(&lower, r#"{"status":"disconnected"}"#),
        "authorization",
        Some(&format!("Bearer {}", token(ACTIVE))),
    );
    let reply = f.send(event).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["connection_id"], ACTIVE);
    assert_eq!(s(&f.item(ACTIVE).await.unwrap(), "status"), "disconnected");
    assert!(
        f.item(&lower).await.is_none(),
        "no second item under the lower-case id"
    );
}
