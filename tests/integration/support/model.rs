//! The contract's model of an accepted write: the item after equals the item before plus
//! exactly the requested changes. Every accepted-write test compares whole items with it.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use super::Item;

/// The contract's model of one accepted write, built from the body alone: a string sets the
/// member, `null` removes `email`/`mobile` and leaves `customer_id`/`status`, `"disconnected"`
/// also stamps `disconnected_at`; `updated_at`, `version + 1` and the recent request ids
/// (newest first, shifted by one, an empty slot taking this request's id) always change.
pub fn expected_write(old: &Item, body: &Value, request_id: &str, now: &str) -> Item {
    let mut item = old.clone();
    let text = |v: &str| AttributeValue::S(v.to_owned());
    for (member, value) in body.as_object().expect("a JSON object body") {
        match (member.as_str(), value) {
            ("customer_id" | "status", Value::Null) => {}
            ("email" | "mobile", Value::Null) => {
                item.remove(member);
            }
            ("status", Value::String(v)) => {
                assert_eq!(v, "disconnected", "the model knows no other status");
                item.insert("status".into(), text(v));
                item.insert("disconnected_at".into(), text(now));
            }
            (_, Value::String(v)) => {
                item.insert(member.clone(), text(v));
            }
            other => panic!("the model has no rule for {other:?}"),
        }
    }
    item.insert("updated_at".into(), text(now));
    item.insert(
        "version".into(),
        AttributeValue::N((n(old, "version") + 1).to_string()),
    );
    let recent = update_connection::store::RECENT_REQUEST_IDS;
    for pair in recent.windows(2) {
        let shifted = old
            .get(pair[0])
            .cloned()
            .unwrap_or_else(|| text(request_id));
        item.insert(pair[1].into(), shifted);
    }
    item.insert(recent[0].into(), text(request_id));
    item
}

/// The six members a 200 shows, read from a stored item.
pub fn view(item: &Item) -> Value {
    let optional = |name: &str| item.get(name).map_or(Value::Null, |_| json!(s(item, name)));
    json!({
        "connection_id": s(item, "connection_id"),
        "customer_id": s(item, "customer_id"),
        "retailer_id": s(item, "retailer_id"),
        "status": s(item, "status"),
        "email": optional("email"),
        "mobile": optional("mobile"),
    })
}

/// Member by member, what differs between two items.
pub fn diff(expected: &Item, actual: &Item) -> String {
    let mut names: Vec<&String> = expected.keys().chain(actual.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| expected.get(*name) != actual.get(*name))
        .map(|name| {
            format!(
                "  {name}: expected {:?}, found {:?}",
                expected.get(name),
                actual.get(name)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn s(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

pub fn n(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}
