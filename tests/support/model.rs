//! The contract's model of an accepted write (the `contract-model` crate, shared with the
//! soak and the fuzz targets), over the SDK's items: the item after equals the item before
//! plus exactly the requested changes. Every accepted-write test compares whole items with it.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::Item;

/// The item the contract expects after `body` was written by `request_id` at `now`.
/// `record`: the `Idempotency-Key` record the write stored, when it carried a key.
pub fn expected_write(
    old: &Item,
    body: &Value,
    request_id: &str,
    record: Option<(&str, &str)>,
    now: &str,
) -> Item {
    let before = plain(old);
    let changes = contract_model::changes(body);
    let after = contract_model::write_keyed(&before, &changes, request_id, record, now);
    // Unchanged attributes keep their stored form (a number such as 1e20 is not rewritten).
    after
        .iter()
        .map(|(name, value)| {
            let typed = match (before.get(name) == Some(value), old.get(name)) {
                (true, Some(stored)) => stored.clone(),
                _ => typed(name, value),
            };
            (name.clone(), typed)
        })
        .collect()
}

/// The body a 200 shows, read from a stored item.
pub fn view(item: &Item) -> Value {
    contract_model::view(&plain(item))
}

/// An SDK item as the model's plain JSON.
pub fn plain(item: &Item) -> contract_model::Item {
    item.iter()
        .map(|(name, v)| {
            let value = match v {
                AttributeValue::S(s) => Value::String(s.clone()),
                AttributeValue::N(n) => serde_json::from_str(n).unwrap_or(Value::String(n.clone())),
                AttributeValue::Ss(ss) => Value::from(ss.clone()),
                AttributeValue::B(b) => Value::String(hex::encode(b.as_ref())),
                other => panic!("{name}: the model has no attribute type for {other:?}"),
            };
            (name.clone(), value)
        })
        .collect()
}

fn typed(name: &str, value: &Value) -> AttributeValue {
    match value {
        Value::String(s) if contract_model::is_binary(name) => {
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                hex::decode(s).unwrap_or_else(|_| panic!("{name}: {s} is not hex")),
            ))
        }
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        other => panic!("{name}: the model wrote {other}, which has no attribute type here"),
    }
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
