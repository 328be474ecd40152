//! Every accepted write, checked whole: the item afterwards is the item before with exactly
//! the requested changes and the write's bookkeeping, every member compared
//! (`Fixture::accepted`). Checking only the members a request sends lets a write that
//! also touches a neighbour (setting `email` removes `mobile`) pass.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::support::*;

/// The contact states a write can start from: both, neither, only one of them.
const STARTS: [(Option<&str>, Option<&str>); 4] = [
    (Some("start@example.com"), Some("+14155550100")),
    (None, None),
    (Some("start@example.com"), None),
    (None, Some("+14155550100")),
];

fn contact_bodies() -> Vec<Value> {
    vec![
        json!({"email": "new@example.com"}),
        json!({"mobile": "+447700900001"}),
        json!({"email": null}),
        json!({"mobile": null}),
        json!({"customer_id": "changed"}),
        json!({"email": "a@example.com", "mobile": null}),
        json!({"email": null, "mobile": "+14155550199"}),
        json!({"email": null, "mobile": null}),
        json!({"email": "b@example.com", "mobile": "+14155550111"}),
        json!({"customer_id": null, "status": null, "email": "c@example.com"}),
        json!({"customer_id": "c2", "mobile": null}),
    ]
}

async fn write(f: &Fixture, id: &str, body: &Value) -> Reply {
    f.accepted(id, body, patch(id, &body.to_string())).await
}

#[tokio::test]
async fn contact_writes_change_exactly_what_they_ask_from_every_start() {
    let f = Fixture::new().await;
    for (email, mobile) in STARTS {
        for body in contact_bodies() {
            // The start is itself an accepted write, checked the same way.
            write(&f, ACTIVE_B, &json!({"email": email, "mobile": mobile})).await;
            write(&f, ACTIVE_B, &body).await;
        }
    }
}

#[tokio::test]
async fn disconnects_change_exactly_what_they_ask_from_every_status() {
    let f = Fixture::new().await;
    // Seeded: active with email only, initialized with neither, unauthenticated with mobile
    // only, active with both.
    let cases = [
        (ACTIVE, json!({"status": "disconnected"})),
        (
            INITIALIZED,
            json!({"status": "disconnected", "email": "i@example.com"}),
        ),
        (
            UNAUTHENTICATED,
            json!({"status": "disconnected", "email": null}),
        ),
        (
            ACTIVE_B,
            json!({"status": "disconnected", "mobile": null, "customer_id": "last"}),
        ),
    ];
    for (id, body) in cases {
        write(&f, id, &body).await;
    }
    let e = "01J51S0JYV6N7K1030CV1ZKSCE";
    write(&f, e, &json!({"mobile": "+14155550123"})).await;
    write(
        &f,
        e,
        &json!({"status": "disconnected", "email": "e@example.com"}),
    )
    .await;
}

#[tokio::test]
async fn writes_through_every_way_in_are_exact() {
    let f = Fixture::new().await;
    // If-Match at the current version, a list holding it, and `*`.
    for (tag, body) in [
        ("\"1\"", json!({"email": "m1@example.com"})),
        ("\"9\", \"2\"", json!({"mobile": null})),
        ("*", json!({"customer_id": "star"})),
    ] {
        let event = with_header(patch(ACTIVE_B, &body.to_string()), "if-match", Some(tag));
        f.accepted(ACTIVE_B, &body, event).await;
    }
    // A base64 body, and merge-patch.
    let body = json!({"mobile": "+14155550177"});
    let mut event = patch(
        ACTIVE_B,
        &base64::engine::general_purpose::STANDARD.encode(body.to_string()),
    );
    event["isBase64Encoded"] = json!(true);
    f.accepted(ACTIVE_B, &body, event).await;
    let body = json!({"email": null});
    let event = with_header(
        patch(ACTIVE_B, &body.to_string()),
        "content-type",
        Some("application/merge-patch+json; charset=utf-8"),
    );
    f.accepted(ACTIVE_B, &body, event).await;
}

#[tokio::test]
async fn base64_of_exactly_8_kib_is_accepted() {
    let f = Fixture::new().await;
    let body = json!({"email": "padded@example.com"});
    let padded = format!("{:<8192}", body.to_string());
    let mut event = patch(
        ACTIVE_B,
        &base64::engine::general_purpose::STANDARD.encode(padded.as_bytes()),
    );
    event["isBase64Encoded"] = json!(true);
    assert_eq!(padded.len(), 8192);
    f.accepted(ACTIVE_B, &body, event).await;
}

#[tokio::test]
async fn updated_at_moves_on_every_accepted_write() {
    let f = Fixture::new().await;
    let mut seen = vec![s(&f.item(ACTIVE_B).await.unwrap(), "updated_at")];
    for body in contact_bodies().into_iter().take(5) {
        // Timestamps have millisecond precision: two writes in one millisecond would share one.
        tokio::time::sleep(Duration::from_millis(2)).await;
        write(&f, ACTIVE_B, &body).await;
        seen.push(s(&f.item(ACTIVE_B).await.unwrap(), "updated_at"));
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "updated_at did not move on every write: {seen:?}"
    );
}
