//! The contract's model of the endpoint's writes, written from `docs/contract.md` alone.
//!
//! It shares no code with the function on purpose: the integration tests, the soak and the
//! fuzz targets compare the function with this model, so a mistake in the function's member
//! list, null semantics or update expression shows as a disagreement instead of being
//! repeated here. Items are plain JSON: strings, numbers, and string sets as arrays.

use serde_json::{Map, Value, json};

/// A member of the body, as the contract's table of members describes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Member {
    pub name: &'static str,
    /// `null` removes it; otherwise `null` leaves it unchanged and it is always stored.
    pub removable: bool,
    /// The one value it may be set to, where the contract allows only one.
    pub only: Option<&'static str>,
    /// An attribute stamped with the write's time whenever the member is set.
    pub stamps: Option<&'static str>,
}

/// Every member a body may set.
pub const MEMBERS: &[Member] = &[
    Member {
        name: "customer_id",
        removable: false,
        only: None,
        stamps: None,
    },
    Member {
        name: "email",
        removable: true,
        only: None,
        stamps: None,
    },
    Member {
        name: "mobile",
        removable: true,
        only: None,
        stamps: None,
    },
    Member {
        name: "status",
        removable: false,
        only: Some("disconnected"),
        stamps: Some("disconnected_at"),
    },
];

/// Members a response shows that no body may set.
pub const READ_ONLY: [&str; 2] = ["connection_id", "retailer_id"];

/// The request ids of the latest writes, newest first.
pub const RECENT_REQUEST_IDS: [&str; 4] = [
    "last_request_id",
    "previous_request_id_1",
    "previous_request_id_2",
    "previous_request_id_3",
];

/// The `Idempotency-Key` records (`<key> <fingerprint>`) of the latest keyed writes, newest
/// first.
pub const IDEMPOTENCY_RECORDS: [&str; 4] = [
    "last_idempotency_key",
    "previous_idempotency_key_1",
    "previous_idempotency_key_2",
    "previous_idempotency_key_3",
];

pub const DISCONNECTED: &str = "disconnected";

/// A stored connection: attribute name to plain JSON value.
pub type Item = Map<String, Value>;

pub fn member(name: &str) -> Option<&'static Member> {
    MEMBERS.iter().find(|m| m.name == name)
}

/// What an accepted write does to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Remove,
    Set(String),
}

/// How a body's `null` is read, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`: `null` removes a removable member and leaves any other.
    Json,
    /// `application/merge-patch+json`: `null` removes; a member that cannot be removed
    /// makes the body a 422.
    MergePatch,
}

/// The members whose `null` a body of this format refuses (empty: none).
pub fn refused_nulls(body: &Value, format: Format) -> Vec<&'static str> {
    let Some(members) = body.as_object() else {
        return Vec::new();
    };
    members
        .iter()
        .filter(|(_, v)| v.is_null() && format == Format::MergePatch)
        .filter_map(|(name, _)| member(name))
        .filter(|m| !m.removable)
        .map(|m| m.name)
        .collect()
}

/// The changes an accepted body asks for (either format: a body that is accepted reads
/// alike in both): a string sets its member, `null` removes a removable member and leaves
/// any other. Panics on a body the contract refuses: the model describes accepted writes.
pub fn changes(body: &Value) -> Vec<(&'static Member, Change)> {
    let members = body.as_object().expect("an accepted body is a JSON object");
    let mut out = Vec::new();
    for (name, value) in members {
        let m = member(name).unwrap_or_else(|| panic!("{name} is not a member"));
        match value {
            Value::Null if m.removable => out.push((m, Change::Remove)),
            Value::Null => {}
            Value::String(v) => {
                if let Some(only) = m.only {
                    assert_eq!(v, only, "{name} can only be {only}");
                }
                out.push((m, Change::Set(v.clone())));
            }
            other => panic!("{name}: {other} is not a value the contract accepts"),
        }
    }
    out
}

/// The item after one accepted write: the old item plus exactly the changes, `updated_at`
/// (and any stamp of a member set) at `now`, `version + 1`, and the recent request ids
/// shifted down by one with this request's id first (an empty slot takes this request's id).
pub fn write(old: &Item, changes: &[(&Member, Change)], request_id: &str, now: &str) -> Item {
    write_keyed(old, changes, request_id, None, now)
}

/// As `write`, for a write that carried an `Idempotency-Key`: its record goes first in
/// `IDEMPOTENCY_RECORDS`, the others shift down by one (an empty slot takes the record).
pub fn write_keyed(
    old: &Item,
    changes: &[(&Member, Change)],
    request_id: &str,
    record: Option<&str>,
    now: &str,
) -> Item {
    let mut item = apply(old, changes, now);
    if let Some(record) = record {
        for pair in IDEMPOTENCY_RECORDS.windows(2) {
            let shifted = old.get(pair[0]).cloned().unwrap_or_else(|| json!(record));
            item.insert(pair[1].into(), shifted);
        }
        item.insert(IDEMPOTENCY_RECORDS[0].into(), json!(record));
    }
    item.insert("updated_at".into(), json!(now));
    let version = old.get("version").and_then(Value::as_u64).unwrap_or(0);
    item.insert("version".into(), json!(version + 1));
    for pair in RECENT_REQUEST_IDS.windows(2) {
        let shifted = old
            .get(pair[0])
            .cloned()
            .unwrap_or_else(|| json!(request_id));
        item.insert(pair[1].into(), shifted);
    }
    item.insert(RECENT_REQUEST_IDS[0].into(), json!(request_id));
    item
}

/// The members as the changes leave them, nothing else: what a stored item that already
/// holds them looks like.
pub fn apply(old: &Item, changes: &[(&Member, Change)], now: &str) -> Item {
    let mut item = old.clone();
    for (m, change) in changes {
        match change {
            Change::Remove => {
                item.remove(m.name);
            }
            Change::Set(v) => {
                item.insert(m.name.into(), json!(v));
                if let Some(stamp) = m.stamps {
                    item.insert(stamp.into(), json!(now));
                }
            }
        }
    }
    item
}

/// True when every value the changes ask for is already stored: on a disconnected
/// connection such a request is a retry, answered 200 without a write.
pub fn already_applied(item: &Item, changes: &[(&Member, Change)]) -> bool {
    changes.iter().all(|(m, change)| match change {
        Change::Remove => !item.contains_key(m.name),
        Change::Set(v) => item.get(m.name).and_then(Value::as_str) == Some(v.as_str()),
    })
}

/// The record the item keeps for `key`, if it remembers the key.
pub fn idempotency_record<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    IDEMPOTENCY_RECORDS
        .iter()
        .filter_map(|slot| item.get(*slot).and_then(Value::as_str))
        .find(|record| record.split_once(' ').is_some_and(|(k, _)| k == key))
}

pub fn is_disconnected(item: &Item) -> bool {
    item.get("status").and_then(Value::as_str) == Some(DISCONNECTED)
}

/// A 200's body: the read-only members and every member, `null` when not stored.
pub fn view(item: &Item) -> Value {
    let mut view = Map::new();
    for name in READ_ONLY
        .iter()
        .copied()
        .chain(MEMBERS.iter().map(|m| m.name))
    {
        view.insert(name.into(), item.get(name).cloned().unwrap_or(Value::Null));
    }
    Value::Object(view)
}

/// An item in DynamoDB's JSON (`{"S": ..}`, `{"N": ..}`, `{"SS": [..]}`) as plain JSON.
pub fn from_dynamodb(item: &Map<String, Value>) -> Item {
    item.iter()
        .map(|(name, typed)| {
            let plain = if let Some(s) = typed.get("S") {
                s.clone()
            } else if let Some(n) = typed.get("N").and_then(Value::as_str) {
                serde_json::from_str(n).unwrap_or_else(|_| json!(n))
            } else if let Some(ss) = typed.get("SS") {
                ss.clone()
            } else {
                panic!("{name}: the model knows no attribute type in {typed}")
            };
            (name.clone(), plain)
        })
        .collect()
}

/// A plain item in DynamoDB's JSON: strings as S, numbers as N, arrays as SS.
pub fn to_dynamodb(item: &Item) -> Map<String, Value> {
    item.iter()
        .map(|(name, plain)| {
            let typed = match plain {
                Value::String(s) => json!({ "S": s }),
                Value::Number(n) => json!({ "N": n.to_string() }),
                Value::Array(a) => json!({ "SS": a }),
                other => panic!("{name}: {other} has no DynamoDB type in the model"),
            };
            (name.clone(), typed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: Value) -> Item {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_write_changes_exactly_what_was_asked() {
        let old = item(
            json!({"connection_id": "c", "customer_id": "a", "email": "x@y.co",
                              "status": "active", "version": 3, "last_request_id": "r0"}),
        );
        let body = json!({"email": null, "customer_id": "b", "status": "disconnected"});
        let new = write(&old, &changes(&body), "r1", "T");
        assert_eq!(
            Value::Object(new),
            json!({"connection_id": "c", "customer_id": "b", "status": "disconnected",
                   "disconnected_at": "T", "updated_at": "T", "version": 4,
                   "last_request_id": "r1", "previous_request_id_1": "r0",
                   "previous_request_id_2": "r1", "previous_request_id_3": "r1"})
        );
        assert!(changes(&json!({"customer_id": null, "status": null})).is_empty());
    }

    #[test]
    fn the_view_shows_every_member() {
        let v = view(&item(
            json!({"connection_id": "c", "retailer_id": "r", "status": "active",
                                  "customer_id": "a", "token_sha256": "h"}),
        ));
        // The ids, then every member (absent ones as null), whatever MEMBERS holds.
        let mut expected = json!({"connection_id": "c", "retailer_id": "r"});
        for m in MEMBERS {
            expected[m.name] = Value::Null;
        }
        expected["customer_id"] = json!("a");
        expected["status"] = json!("active");
        assert_eq!(v, expected);
    }

    #[test]
    fn dynamodb_json_round_trips() {
        let plain = item(json!({"a": "s", "n": 7, "ss": ["x"]}));
        assert_eq!(from_dynamodb(&to_dynamodb(&plain)), plain);
    }
}
