//! What an item remembers of its latest writes, and what that costs: one write unit for a
//! typical connection whatever the keys' length, and items in the legacy form answered
//! right and moved to the compact form, with either form's writer serving the table.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use update_connection::config::Config;
use update_connection::domain::BookkeepingFormat;

use crate::support::*;

/// The bookkeeping's share of an item, by DynamoDB's size rules (name + value bytes).
fn bookkeeping_bytes(item: &Item) -> usize {
    let names = contract_model::REQUEST_DIGESTS
        .iter()
        .chain(&contract_model::KEY_DIGESTS)
        .chain(&contract_model::FINGERPRINTS)
        .chain(&contract_model::LEGACY_REQUEST_IDS)
        .chain(&contract_model::LEGACY_IDEMPOTENCY_RECORDS);
    names
        .filter_map(|name| {
            let size = match item.get(*name)? {
                AttributeValue::S(s) => s.len(),
                AttributeValue::B(b) => b.as_ref().len(),
                other => panic!("{name}: {other:?}"),
            };
            Some(name.len() + size)
        })
        .sum()
}

fn keyed(id: &str, body: &str, key: &str) -> serde_json::Value {
    with_header(patch(id, body), "idempotency-key", Some(key))
}

/// A typical connection at its largest: a 36-character customer id, a 64-character email and a
/// mobile, written by eight keyed writes with 128-character keys and eight plain ones.
/// Returns the write units each write's request line reported, and the stored item.
async fn typical_connection(f: &Fixture, app: &update_connection::App) -> (Vec<f64>, Item) {
    let email = |i: usize| format!("{}{i:02}@example.com", "e".repeat(64 - 14));
    let mut units = Vec::new();
    let mut send = async |event, n: usize| {
        let id = format!("write-units-{}-{n}", f.connections);
        let reply = send_to(app, event, id.clone()).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        units.push(request_line(&id)["write_units"].as_f64().unwrap_or(-1.0));
    };
    let first = json!({"customer_id": "c".repeat(36), "email": email(0), "mobile": "+14155550123"});
    send(patch(ACTIVE, &first.to_string()), 0).await;
    for i in 1..=8 {
        let key = format!("{i}{}", "k".repeat(127));
        let body = json!({"email": email(i)}).to_string();
        send(keyed(ACTIVE, &body, &key), i).await;
    }
    for i in 9..=16 {
        send(patch(ACTIVE, &json!({"email": email(i)}).to_string()), i).await;
    }
    (units, f.item(ACTIVE).await.unwrap())
}

#[tokio::test]
async fn a_typical_connection_costs_one_write_unit_whatever_its_keys_length() {
    let f = Fixture::new().await;
    let (units, item) = typical_connection(&f, &f.app).await;
    // Every write: DynamoDB bills the larger of the item before and after.
    assert!(units.iter().all(|u| *u == 1.0), "write units {units:?}");
    let bookkeeping = bookkeeping_bytes(&item);
    assert!(bookkeeping <= 256, "bookkeeping is {bookkeeping} bytes");

    // The legacy form, on the same connection on fresh tables: two units a write once the
    // 128-character keys are remembered (what the compact form was made for).
    let f = Fixture::new().await;
    let legacy = f.app_with(|c: &mut Config| c.bookkeeping = BookkeepingFormat::Legacy);
    let (units, item) = typical_connection(&f, &legacy).await;
    assert_eq!(units.last(), Some(&2.0), "legacy write units {units:?}");
    assert!(bookkeeping_bytes(&item) > 900);
}

#[tokio::test]
async fn an_item_in_the_legacy_form_is_answered_right_and_moved_to_the_compact_form() {
    let f = Fixture::new().await;
    let legacy = f.app_with(|c: &mut Config| c.bookkeeping = BookkeepingFormat::Legacy);
    let body = r#"{"email":"legacy@example.com"}"#;
    let written = send_to(
        &legacy,
        keyed(ACTIVE, body, "key-legacy"),
        "req-legacy".into(),
    )
    .await;
    assert_eq!(written.status, 200);
    let stored = f.item(ACTIVE).await.unwrap();
    assert_eq!(s(&stored, "last_request_id"), "req-legacy");
    assert!(
        !stored.contains_key("r0"),
        "a legacy write wrote the compact form"
    );

    // The compact writer recognises the legacy records: the retry of that very request,
    // the client's replay of its key, and the key reused for another request.
    let before = f.snapshot().await;
    let retry = f
        .send_as(keyed(ACTIVE, body, "key-legacy"), "req-legacy".into())
        .await;
    assert_eq!((retry.status, retry.header("etag")), (200, Some("\"2\"")));
    let replay = f.send(keyed(ACTIVE, body, "key-legacy")).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    f.refused(
        keyed(ACTIVE, r#"{"email":"other@example.com"}"#, "key-legacy"),
        422,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(f.snapshot().await, before, "a recognised retry wrote");

    // Its next write moves the item to the compact form, carrying every record over.
    let moving = f.send(patch(ACTIVE, r#"{"mobile":null}"#)).await;
    assert_eq!(moving.status, 200, "{}", moving.body);
    let moved = f.item(ACTIVE).await.unwrap();
    for name in contract_model::LEGACY_REQUEST_IDS
        .iter()
        .chain(&contract_model::LEGACY_IDEMPOTENCY_RECORDS)
    {
        assert!(!moved.contains_key(*name), "{name} is still stored");
    }
    let model = crate::support::model::plain(&moved);
    assert_eq!(
        contract_model::recent_requests(&model)[..2],
        [
            contract_model::digest(&moving.request_id),
            contract_model::digest("req-legacy")
        ]
    );
    assert!(contract_model::idempotency_record(&model, "key-legacy").is_some());
    let before = f.snapshot().await;
    let replay = f.send(keyed(ACTIVE, body, "key-legacy")).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let retry = f
        .send_as(keyed(ACTIVE, body, "key-legacy"), "req-legacy".into())
        .await;
    assert_eq!(retry.status, 200);
    assert_eq!(f.snapshot().await, before, "a recognised retry wrote");

    // And the legacy writer, still serving beside it, recognises the compact records.
    let compact = f
        .send(keyed(
            ACTIVE,
            r#"{"email":"compact@example.com"}"#,
            "key-compact",
        ))
        .await;
    assert_eq!(compact.status, 200);
    let before = f.snapshot().await;
    let replay = send_to(
        &legacy,
        keyed(ACTIVE, r#"{"email":"compact@example.com"}"#, "key-compact"),
        "req-legacy-replay".into(),
    )
    .await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let retry = send_to(
        &legacy,
        keyed(ACTIVE, r#"{"email":"compact@example.com"}"#, "key-compact"),
        compact.request_id.clone(),
    )
    .await;
    assert_eq!(retry.status, 200);
    assert_eq!(f.snapshot().await, before, "a recognised retry wrote");
}

/// Bookkeeping this release cannot read whole (an operator's hand, a restore, another
/// tool) still counts: a key with an unreadable fingerprint is a used key, in either
/// form, and a write that moves the item does not drop it.
#[tokio::test]
async fn a_key_whose_fingerprint_cannot_be_read_is_still_a_used_key() {
    use aws_sdk_dynamodb::primitives::Blob;
    let f = Fixture::new().await;
    let legacy = f.app_with(|c: &mut Config| c.bookkeeping = BookkeepingFormat::Legacy);
    let mut item = f.item(ACTIVE).await.unwrap();
    // 64 hex digits where 32 belong; and a compact key slot whose fingerprint is 32 bytes.
    item.insert(
        "last_idempotency_key".into(),
        AttributeValue::S(format!("K-1 {}", "ab".repeat(32))),
    );
    let digest = |t: &str| Blob::new(hex::decode(contract_model::digest(t)).unwrap());
    item.insert("k0".into(), AttributeValue::B(digest("K-2")));
    item.insert("f0".into(), AttributeValue::B(Blob::new(vec![7; 32])));
    f.put(item).await;

    let body = r#"{"email":"reuse@example.com"}"#;
    for key in ["K-1", "K-2"] {
        f.refused(keyed(ACTIVE, body, key), 422, "idempotency-key-reused")
            .await;
        let before = f.snapshot().await;
        let reply = send_to(&legacy, keyed(ACTIVE, body, key), format!("legacy-{key}")).await;
        reply.assert_problem(422, "idempotency-key-reused");
        assert_eq!(f.snapshot().await, before, "{key}: a refused request wrote");
    }
    // A plain write moves the item; both keys stay used.
    assert_eq!(
        f.send(patch(ACTIVE, r#"{"mobile":null}"#)).await.status,
        200
    );
    assert!(
        !f.item(ACTIVE)
            .await
            .unwrap()
            .contains_key("last_idempotency_key")
    );
    for key in ["K-1", "K-2"] {
        f.refused(keyed(ACTIVE, body, key), 422, "idempotency-key-reused")
            .await;
    }
}
