//! Step 6's order where two refusals meet on one item: the owner before the token, the
//! token before the status. Each request is first sent as it would be refused later in
//! the order (the control), so the test cannot pass on an item that never reaches there.

use crate::support::*;

const WRONG_TOKEN: &str = "Bearer demo-token-active-a";

fn wrong_token(event: serde_json::Value) -> serde_json::Value {
    with_header(event, "authorization", Some(WRONG_TOKEN))
}

#[tokio::test]
async fn a_wrong_token_comes_before_a_disconnected_connections_409() {
    let f = Fixture::new().await;
    let change = patch(DISCONNECTED, r#"{"email":"new@example.com"}"#);
    f.refused(change.clone(), 409, "connection-disconnected")
        .await;

    let reply = f.refused(wrong_token(change), 401, "invalid-token").await;
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer realm=\"connections\", error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn a_wrong_token_comes_before_the_retry_answer_on_a_disconnected_connection() {
    let f = Fixture::new().await;
    // Each asks only for what is already stored: a retry, answered 200 with the right token.
    for body in [
        r#"{"status":"disconnected"}"#,
        r#"{"email":"frank@example.com","status":"disconnected"}"#,
        r#"{"customer_id":"customer-f"}"#,
    ] {
        let before = f.snapshot().await;
        let retry = f.send(patch(DISCONNECTED, body)).await;
        assert_eq!(retry.status, 200, "{body}: {}", retry.body);
        assert_eq!(f.snapshot().await, before, "{body}: a retry wrote");

        let event = wrong_token(patch(DISCONNECTED, body));
        f.refused(event.clone(), 401, "invalid-token").await;
        // With If-Match at the stored version too: the version does not vouch for the caller.
        let event = with_header(event, "if-match", Some("\"1\""));
        f.refused(event, 401, "invalid-token").await;
    }
}

#[tokio::test]
async fn another_clients_item_is_404_before_a_wrong_token_is_401() {
    let f = Fixture::new().await;
    let body = r#"{"status":"disconnected"}"#;
    // The control: with its own client's key, the wrong token is what refuses it.
    let own_client = with_header(
        wrong_token(patch(OTHER_CLIENTS, body)),
        "x-api-key",
        Some(OTHER_KEY),
    );
    f.refused(own_client, 401, "invalid-token").await;

    let unknown = f
        .refused(wrong_token(patch(UNKNOWN, body)), 404, "not-found")
        .await;
    let foreign = f
        .refused(wrong_token(patch(OTHER_CLIENTS, body)), 404, "not-found")
        .await;
    // Answered like no item at all: nothing tells that the id exists.
    assert_eq!(foreign.body["detail"], unknown.body["detail"]);
    assert_eq!(foreign.body["title"], unknown.body["title"]);
    assert!(foreign.header("www-authenticate").is_none());
    assert!(f.item(UNKNOWN).await.is_none());
}
