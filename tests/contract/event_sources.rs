//! REST v1, HTTP API v2, function URL and ALB events; ids from path parameters or the path.

use serde_json::{Value, json};

use crate::support::*;

fn v2(id: &str, path_parameters: bool, raw_path: &str, body: &str) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {
            "x-api-key": KEY,
            "authorization": format!("Bearer {}", token(id)),
            "content-type": "application/json",
            "host": "abc.lambda-url.eu-west-1.on.aws"
        },
        "requestContext": {"http": {"method": "PATCH", "path": raw_path}, "stage": "$default", "requestId": "r"},
        "body": body,
        "isBase64Encoded": false
    });
    if path_parameters {
        event["pathParameters"] = json!({"connection_id": id});
    }
    event
}

#[tokio::test]
async fn http_api_v2_and_function_url() {
    let f = Fixture::new().await;
    let reply = f
        .send(v2(
            ACTIVE,
            true,
            &format!("/connections/{ACTIVE}"),
            r#"{"status":"disconnected"}"#,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.raw.get("statusDescription").is_none());
    assert_eq!(reply.raw["headers"]["etag"], "\"2\"");

    // Function URL: no path parameters, id from the path.
    let reply = f
        .send(v2(
            INITIALIZED,
            false,
            &format!("/connections/{INITIALIZED}"),
            r#"{"status":"disconnected"}"#,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        s(&f.item(INITIALIZED).await.unwrap(), "status"),
        "disconnected"
    );

    // A stage prefix in the path.
    let reply = f
        .send(v2(
            UNAUTHENTICATED,
            false,
            &format!("/prod/connections/{UNAUTHENTICATED}"),
            r#"{"email":"d@example.com"}"#,
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // HTTP APIs join repeated headers with commas: an ambiguous key is no key.
    let mut event = v2(ACTIVE_B, true, &format!("/connections/{ACTIVE_B}"), "{}");
    event["headers"]["x-api-key"] = json!(format!("{KEY},{OTHER_KEY}"));
    f.refused(event, 401, "invalid-api-key").await;

    let mut event = v2(ACTIVE_B, true, &format!("/connections/{ACTIVE_B}"), "{}");
    event["requestContext"]["http"]["method"] = json!("GET");
    let reply = f.refused(event, 405, "method-not-allowed").await;
    assert_eq!(reply.raw["headers"]["allow"], "PATCH", "{}", reply.raw);
}

#[tokio::test]
async fn rest_event_without_path_parameters_uses_the_path() {
    let f = Fixture::new().await;
    for (id, path) in [
        (ACTIVE, format!("/connections/{ACTIVE}")),
        (ACTIVE_B, format!("/prod/connections/{ACTIVE_B}")),
    ] {
        let mut event = patch(id, r#"{"customer_id":"via-path"}"#);
        event["pathParameters"] = json!(null);
        event["path"] = json!(path);
        let reply = f.send(event).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_eq!(s(&f.item(id).await.unwrap(), "customer_id"), "via-path");
    }
}

#[tokio::test]
async fn alb_events_single_and_multi_value() {
    let f = Fixture::new().await;
    let headers = json!({
        "x-api-key": KEY,
        "authorization": format!("Bearer {}", token(ACTIVE)),
        "content-type": "application/json"
    });
    let event = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1"}},
        "httpMethod": "PATCH",
        "path": format!("/connections/{ACTIVE}"),
        "headers": headers,
        "body": r#"{"status":"disconnected"}"#,
        "isBase64Encoded": false
    });
    let reply = f.send(event).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.raw["statusDescription"], "200 OK");
    assert_eq!(reply.raw["headers"]["content-type"], "application/json");

    let multi: serde_json::Map<String, Value> = headers
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let event = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/t/1"}},
        "httpMethod": "PATCH",
        "path": format!("/connections/{ACTIVE}"),
        "multiValueHeaders": multi,
        "body": r#"{"email":"new@example.com"}"#,
        "isBase64Encoded": false
    });
    let reply = f.send(event).await;
    reply.assert_problem(409, "connection-disconnected");
    assert_eq!(reply.raw["statusDescription"], "409 Conflict");
    assert_eq!(
        reply.raw["multiValueHeaders"]["content-type"],
        json!(["application/problem+json"])
    );
    assert!(reply.raw.get("headers").is_none());
}

#[tokio::test]
async fn hostile_event_fields_do_not_crash() {
    let f = Fixture::new().await;
    // lambda_http's own conversion panics on these; ours reads only what it needs.
    let mut event = patch(ACTIVE_B, r#"{"customer_id":"host"}"#);
    event["headers"]["Host"] = json!("exa mple.com:99999999");
    event["multiValueHeaders"]["Host"] = json!(["exa mple.com:99999999"]);
    assert_eq!(f.send(event).await.status, 200);

    for odd in [
        json!({}),
        json!({"httpMethod": 5}),
        json!({"headers": null, "body": null}),
        json!({"isBase64Encoded": "Bearer secret-token-123"}),
        json!({"multiValueHeaders": {"authorization": "Bearer secret-token-456"}}),
        json!([1, 2]),
    ] {
        let event = update_connection::Event::from_json(&odd.to_string());
        let response = f.app.handle(&event, "odd").await;
        assert_eq!(response.response.status, 404, "{odd}");
    }
}
