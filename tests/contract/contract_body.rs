//! Step 5: media type, size, JSON, emptiness, validation.

use base64::Engine;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn unsupported_media_types_are_415() {
    let f = Fixture::new().await;
    let good = patch(ACTIVE, r#"{"status":"disconnected"}"#);
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json-patch+json"),
        Some("application/json; charset=iso-8859-1"),
    ] {
        f.refused(
            with_header(good.clone(), "content-type", ct),
            415,
            "unsupported-media-type",
        )
        .await;
    }
}

#[tokio::test]
async fn merge_patch_and_charset_are_accepted() {
    let f = Fixture::new().await;
    for ct in [
        "application/merge-patch+json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
    ] {
        let event = with_header(
            patch(ACTIVE_B, r#"{"customer_id":"b2"}"#),
            "Content-Type",
            Some(ct),
        );
        assert_eq!(f.send(event).await.status, 200, "{ct}");
    }
}

#[tokio::test]
async fn body_over_8_kib_is_413_and_8_kib_is_accepted() {
    let f = Fixture::new().await;
    let exact = format!("{:<8192}", r#"{"customer_id":"padded"}"#);
    assert_eq!(exact.len(), 8192);
    let reply = f.send(patch(ACTIVE_B, &exact)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let over = format!("{:<8193}", r#"{"customer_id":"padded"}"#);
    f.refused(patch(ACTIVE_B, &over), 413, "payload-too-large")
        .await;

    let mut b64 = patch(
        ACTIVE_B,
        &base64::engine::general_purpose::STANDARD.encode(over.as_bytes()),
    );
    b64["isBase64Encoded"] = json!(true);
    f.refused(b64, 413, "payload-too-large").await;
}

#[tokio::test]
async fn not_json_or_not_an_object_is_400_malformed() {
    let f = Fixture::new().await;
    for body in [
        "",
        "not json",
        "[]",
        "null",
        "\"disconnected\"",
        "{\"status\":",
        "{} {}",
        r#"{"status":"disconnected","status":"disconnected"}"#,
    ] {
        f.refused(patch(ACTIVE, body), 400, "malformed-body").await;
    }
    let mut no_body = patch(ACTIVE, "");
    no_body["body"] = json!(null);
    f.refused(no_body, 400, "malformed-body").await;
}

#[tokio::test]
async fn invalid_base64_or_utf8_is_400_never_a_crash() {
    let f = Fixture::new().await;
    let mut event = patch(ACTIVE, "%%% not base64 %%%");
    event["isBase64Encoded"] = json!(true);
    f.refused(event, 400, "malformed-body").await;

    let mut event = patch(
        ACTIVE,
        &base64::engine::general_purpose::STANDARD.encode(b"{\"customer_id\":\"\xff\xfe\"}"),
    );
    event["isBase64Encoded"] = json!(true);
    f.refused(event, 400, "malformed-body").await;
}

#[tokio::test]
async fn valid_base64_body_is_decoded() {
    let f = Fixture::new().await;
    let mut event = patch(
        ACTIVE,
        &base64::engine::general_purpose::STANDARD.encode(br#"{"status":"disconnected"}"#),
    );
    event["isBase64Encoded"] = json!(true);
    let reply = f.send(event).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(s(&f.item(ACTIVE).await.unwrap(), "status"), "disconnected");
}

#[tokio::test]
async fn no_updatable_member_is_400_empty_update() {
    let f = Fixture::new().await;
    for body in [
        "{}",
        r#"{"customer_id":null}"#,
        r#"{"status":null}"#,
        r#"{"customer_id":null,"status":null}"#,
    ] {
        f.refused(patch(ACTIVE, body), 400, "empty-update").await;
    }
}

#[tokio::test]
async fn bad_values_are_422_with_one_entry_per_field() {
    let f = Fixture::new().await;
    let reply = f
        .refused(
            patch(
                ACTIVE,
                r#"{"email":"alice@","mobile":"04155550123","status":"active","customer_id":""}"#,
            ),
            422,
            "validation-failed",
        )
        .await;
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "mobile", "status", "customer_id"]);
    assert_eq!(reply.body["detail"], "4 fields are invalid");
    assert_eq!(
        reply.body["errors"][1]["message"],
        "must be E.164, e.g. +14155550123"
    );
    for error in reply.body["errors"].as_array().unwrap() {
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn unknown_and_read_only_members_are_422_naming_them() {
    let f = Fixture::new().await;
    for (body, field) in [
        (
            r#"{"status":"disconnected","connection_id":"01J51S0JYV6N7K1030CV1ZKSCB"}"#,
            "connection_id",
        ),
        (
            r#"{"retailer_id":"01J7SC0NN73R6F5VVSP3ZKPDA3"}"#,
            "retailer_id",
        ),
        (r#"{"email":"a@b.co","nickname":"al"}"#, "nickname"),
        (r#"{"token_scopes":["connections:admin"]}"#, "token_scopes"),
        (r#"{"version":99}"#, "version"),
    ] {
        let reply = f
            .refused(patch(ACTIVE, body), 422, "validation-failed")
            .await;
        assert_eq!(
            reply.body["errors"],
            json!([{"field": field, "message": reply.body["errors"][0]["message"]}])
        );
    }
}

#[tokio::test]
async fn wrong_json_types_are_422() {
    let f = Fixture::new().await;
    for (body, field) in [
        (r#"{"email":42}"#, "email"),
        (r#"{"mobile":14155550123}"#, "mobile"),
        (r#"{"customer_id":{"id":1}}"#, "customer_id"),
        (r#"{"status":true}"#, "status"),
        (r#"{"email":["a@b.co"]}"#, "email"),
    ] {
        let reply = f
            .refused(patch(ACTIVE, body), 422, "validation-failed")
            .await;
        assert_eq!(reply.body["errors"][0]["field"], field);
    }
}

#[tokio::test]
async fn body_checks_follow_the_contract_order() {
    let f = Fixture::new().await;
    // 415 before 413 before 400.
    let big = "x".repeat(9000);
    f.refused(
        with_header(patch(ACTIVE, &big), "content-type", Some("text/plain")),
        415,
        "unsupported-media-type",
    )
    .await;
    f.refused(patch(ACTIVE, &big), 413, "payload-too-large")
        .await;
    // 404 for a bad id before anything about the body.
    f.refused(
        with_header(patch("nope", &big), "content-type", Some("text/plain")),
        404,
        "not-found",
    )
    .await;
}
