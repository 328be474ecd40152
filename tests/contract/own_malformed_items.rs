//! The caller's own item as this system could not have written it: a write is refused with
//! nothing written (500 `internal`, the same for every retry), never committed and then
//! answered 500; and the edges of If-Match and the body's nesting, each at its limit.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::support::*;

const EMAIL: &str = r#"{"email":"new@example.com"}"#;

/// Each change makes ACTIVE_B an item the answer cannot be read from.
#[tokio::test]
async fn a_write_to_an_item_missing_what_the_answer_needs_changes_nothing() {
    let f = Fixture::new().await;
    let base = f.item(ACTIVE_B).await.unwrap();
    let without = |name: &str| {
        let mut item = base.clone();
        item.remove(name);
        item
    };
    let with = |name: &str, value: AttributeValue| {
        let mut item = base.clone();
        item.insert(name.into(), value);
        item
    };
    for (what, item) in [
        ("no retailer_id", without("retailer_id")),
        ("no customer_id", without("customer_id")),
        ("no status", without("status")),
        (
            "retailer_id a number",
            with("retailer_id", AttributeValue::N("7".into())),
        ),
        (
            "status a number",
            with("status", AttributeValue::N("1".into())),
        ),
        (
            "token_expires_at a string",
            with("token_expires_at", AttributeValue::S("9999999999".into())),
        ),
        (
            "version a string",
            with("version", AttributeValue::S("3".into())),
        ),
    ] {
        f.put(item).await;
        // The retry meets the same item and is refused the same way: nothing is ever written.
        for attempt in 1..=2 {
            let reply = f.refused(patch(ACTIVE_B, EMAIL), 500, "internal").await;
            assert_eq!(reply.status, 500, "{what}, attempt {attempt}");
        }
    }
}

#[tokio::test]
async fn an_item_without_a_version_is_at_version_0_for_if_match() {
    let f = Fixture::new().await;
    let mut item = f.item(ACTIVE_B).await.unwrap();
    item.remove("version");
    f.put(item).await;
    let reply = f
        .send(with_header(
            patch(ACTIVE_B, EMAIL),
            "if-match",
            Some("\"0\""),
        ))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let stored = f.item(ACTIVE_B).await.unwrap();
    assert_eq!(n(&stored, "version"), 1);
    assert_eq!(s(&stored, "email"), "new@example.com");
    // And "1" is stale for it now, "0" too.
    f.refused(
        with_header(
            patch(ACTIVE_B, r#"{"email":"b@example.com"}"#),
            "if-match",
            Some("\"0\""),
        ),
        412,
        "precondition-failed",
    )
    .await;
}

#[tokio::test]
async fn every_if_match_element_counts_against_the_limit_stars_included() {
    let f = Fixture::new().await;
    let stars = vec!["*"; 150].join(", ");
    let reply = f
        .refused(
            with_header(patch(ACTIVE_B, EMAIL), "if-match", Some(&stars)),
            422,
            "validation-failed",
        )
        .await;
    assert_eq!(
        reply.body["errors"][0]["field"], "If-Match",
        "{:?}",
        reply.body
    );
}

#[tokio::test]
async fn a_body_nested_128_levels_is_read_and_129_is_malformed() {
    let f = Fixture::new().await;
    // The body's object and 127 arrays: 128 levels; its email is of the wrong type.
    let at_limit = format!("{{\"email\":{}{}}}", "[".repeat(127), "]".repeat(127));
    let reply = f
        .refused(patch(ACTIVE_B, &at_limit), 422, "validation-failed")
        .await;
    assert_eq!(
        reply.body["errors"][0]["field"], "email",
        "{:?}",
        reply.body
    );
    let over = format!("{{\"email\":{}{}}}", "[".repeat(128), "]".repeat(128));
    f.refused(patch(ACTIVE_B, &over), 400, "malformed-body")
        .await;
}
