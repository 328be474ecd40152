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

/// The bookkeeping of the latest writes, newest first, each slot the first 16 bytes of a
/// SHA-256 (binary; lower-case hex in this model): the request ids' ...
pub const REQUEST_DIGESTS: [&str; 4] = ["r0", "r1", "r2", "r3"];
/// ... and, for the writes that carried an `Idempotency-Key`, the key's digest and the
/// request's fingerprint, slot by slot.
pub const KEY_DIGESTS: [&str; 4] = ["k0", "k1", "k2", "k3"];
pub const FINGERPRINTS: [&str; 4] = ["f0", "f1", "f2", "f3"];

/// The same bookkeeping in the legacy form, as text: request ids ...
pub const LEGACY_REQUEST_IDS: [&str; 4] = [
    "last_request_id",
    "previous_request_id_1",
    "previous_request_id_2",
    "previous_request_id_3",
];
/// ... and `<key> <fingerprint hex>` records.
pub const LEGACY_IDEMPOTENCY_RECORDS: [&str; 4] = [
    "last_idempotency_key",
    "previous_idempotency_key_1",
    "previous_idempotency_key_2",
    "previous_idempotency_key_3",
];

/// Every attribute that holds a binary value.
pub fn is_binary(name: &str) -> bool {
    REQUEST_DIGESTS
        .iter()
        .chain(&KEY_DIGESTS)
        .chain(&FINGERPRINTS)
        .any(|n| *n == name)
}

/// What the item stores of a request id or a key: SHA-256's first 16 bytes, in hex.
pub fn digest(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
}

/// The form a write leaves the bookkeeping in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bookkeeping {
    Compact,
    Legacy,
}

/// The request digests an item remembers, newest first, each once (a write fills a list's
/// empty slots with its own entry): the legacy form's first (a compact write removes it,
/// so it is always the newer), then the compact form's.
pub fn recent_requests(item: &Item) -> Vec<String> {
    let legacy = LEGACY_REQUEST_IDS
        .iter()
        .filter_map(|n| item.get(*n).and_then(Value::as_str))
        .map(digest);
    let compact = REQUEST_DIGESTS
        .iter()
        .filter_map(|n| item.get(*n).and_then(Value::as_str))
        .map(str::to_owned);
    unique(legacy.chain(compact))
}

fn unique<T: PartialEq>(entries: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for entry in entries {
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// The `(key digest, fingerprint)` records an item remembers, newest first, as
/// `recent_requests` orders them.
pub fn key_records(item: &Item) -> Vec<(String, String)> {
    let legacy = LEGACY_IDEMPOTENCY_RECORDS
        .iter()
        .filter_map(|n| item.get(*n).and_then(Value::as_str))
        .filter_map(|r| r.split_once(' '))
        .map(|(key, fingerprint)| (digest(key), fingerprint.to_owned()));
    let compact = KEY_DIGESTS.iter().zip(FINGERPRINTS).filter_map(|(k, f)| {
        let text = |n: &str| item.get(n).and_then(Value::as_str).map(str::to_owned);
        Some((text(k)?, text(f)?))
    });
    unique(legacy.chain(compact))
}

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
/// (and any stamp of a member set) at `now`, `version + 1`, and the bookkeeping in the
/// compact form with this request first (see `write_keyed`).
pub fn write(old: &Item, changes: &[(&Member, Change)], request_id: &str, now: &str) -> Item {
    write_keyed(old, changes, request_id, None, now)
}

/// As `write`, for a write that may have carried an `Idempotency-Key` (`record`: the key
/// and the request's fingerprint in hex). In the compact form every list, read in both
/// forms (`recent_requests`, `key_records`), is shifted down by one with this write's
/// entry first, an empty slot taking this write's entry; a write without a key keeps the
/// records as read; the legacy form is removed.
pub fn write_keyed(
    old: &Item,
    changes: &[(&Member, Change)],
    request_id: &str,
    record: Option<(&str, &str)>,
    now: &str,
) -> Item {
    write_as(Bookkeeping::Compact, old, changes, request_id, record, now)
}

/// As `write_keyed`, in either form. The legacy form shifts its own lists (request ids,
/// `<key> <fingerprint>` records) the same way and leaves the compact form untouched.
pub fn write_as(
    form: Bookkeeping,
    old: &Item,
    changes: &[(&Member, Change)],
    request_id: &str,
    record: Option<(&str, &str)>,
    now: &str,
) -> Item {
    let mut item = apply(old, changes, now);
    item.insert("updated_at".into(), json!(now));
    let version = old.get("version").and_then(Value::as_u64).unwrap_or(0);
    item.insert("version".into(), json!(version + 1));
    match form {
        Bookkeeping::Legacy => {
            if let Some((key, fingerprint)) = record {
                shift(
                    &mut item,
                    old,
                    &LEGACY_IDEMPOTENCY_RECORDS,
                    json!(format!("{key} {fingerprint}")),
                );
            }
            shift(&mut item, old, &LEGACY_REQUEST_IDS, json!(request_id));
        }
        // Without the legacy form: each list shifted in place, as the legacy form's are.
        Bookkeeping::Compact if !has_legacy(old) => {
            if let Some((key, fingerprint)) = record {
                shift(&mut item, old, &KEY_DIGESTS, json!(digest(key)));
                shift(&mut item, old, &FINGERPRINTS, json!(fingerprint));
            }
            shift(&mut item, old, &REQUEST_DIGESTS, json!(digest(request_id)));
        }
        // With it: both forms read, this write's entry first, the legacy form removed.
        Bookkeeping::Compact => {
            let requests = recent_requests(old);
            let records = key_records(old);
            for name in LEGACY_REQUEST_IDS.iter().chain(&LEGACY_IDEMPOTENCY_RECORDS) {
                item.remove(*name);
            }
            let mine = digest(request_id);
            for (name, value) in REQUEST_DIGESTS.iter().zip(shifted(&requests, mine)) {
                item.insert((*name).into(), json!(value));
            }
            let records = match record {
                Some((key, fingerprint)) => {
                    shifted(&records, (digest(key), fingerprint.to_owned()))
                }
                None => records.into_iter().take(KEY_DIGESTS.len()).collect(),
            };
            for (i, (k, f)) in KEY_DIGESTS.iter().zip(FINGERPRINTS).enumerate() {
                match records.get(i) {
                    Some((key, fingerprint)) => {
                        item.insert((*k).into(), json!(key));
                        item.insert(f.into(), json!(fingerprint));
                    }
                    None => {
                        item.remove(*k);
                        item.remove(f);
                    }
                }
            }
        }
    }
    item
}

/// A legacy write always sets the first slot of its lists.
fn has_legacy(item: &Item) -> bool {
    item.contains_key(LEGACY_REQUEST_IDS[0]) || item.contains_key(LEGACY_IDEMPOTENCY_RECORDS[0])
}

/// Four slots: `first`, then `old`'s entries, an empty slot taking `first`.
fn shifted<T: Clone>(old: &[T], first: T) -> Vec<T> {
    let mut out = vec![first.clone()];
    out.extend(old.iter().take(3).cloned());
    out.resize(4, first);
    out
}

fn shift(item: &mut Item, old: &Item, slots: &[&str], value: Value) {
    for pair in slots.windows(2) {
        let shifted = old.get(pair[0]).cloned().unwrap_or_else(|| value.clone());
        item.insert(pair[1].into(), shifted);
    }
    item.insert(slots[0].into(), value);
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

/// The fingerprint the item remembers for `key`, if it remembers the key.
pub fn idempotency_record(item: &Item, key: &str) -> Option<String> {
    let key = digest(key);
    key_records(item)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, fingerprint)| fingerprint)
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
            } else if let Some(b) = typed.get("B").and_then(Value::as_str) {
                json!(hex::encode(base64_decode(b)))
            } else {
                panic!("{name}: the model knows no attribute type in {typed}")
            };
            (name.clone(), plain)
        })
        .collect()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap_or_else(|_| panic!("{text} is not base64"))
}

/// A plain item in DynamoDB's JSON: strings as S (B for the bookkeeping's binaries, held
/// here as hex), numbers as N, arrays as SS.
pub fn to_dynamodb(item: &Item) -> Map<String, Value> {
    item.iter()
        .map(|(name, plain)| {
            let typed = match plain {
                Value::String(s) if is_binary(name) => json!({ "B": base64_encode(
                    &hex::decode(s).unwrap_or_else(|_| panic!("{name}: {s} is not hex"))
                ) }),
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
                              "status": "active", "version": 3, "r0": digest("q0")}),
        );
        let body = json!({"email": null, "customer_id": "b", "status": "disconnected"});
        let new = write(&old, &changes(&body), "q1", "T");
        let q1 = digest("q1");
        assert_eq!(
            Value::Object(new),
            json!({"connection_id": "c", "customer_id": "b", "status": "disconnected",
                   "disconnected_at": "T", "updated_at": "T", "version": 4,
                   "r0": q1, "r1": digest("q0"), "r2": q1, "r3": q1})
        );
        assert!(changes(&json!({"customer_id": null, "status": null})).is_empty());
    }

    #[test]
    fn a_compact_write_carries_the_legacy_form_over_newest_first() {
        let fp = "0123456789abcdef0123456789abcdef";
        let old = item(json!({"version": 2, "last_request_id": "l1",
            "previous_request_id_1": "l0", "r0": digest("c0"),
            "last_idempotency_key": format!("key-l {fp}"), "k0": digest("key-c"), "f0": fp}));
        let new = write_keyed(&old, &[], "q", Some(("key-q", fp)), "T");
        let requests: Vec<&str> = REQUEST_DIGESTS
            .iter()
            .map(|n| new[*n].as_str().unwrap())
            .collect();
        assert_eq!(
            requests,
            [digest("q"), digest("l1"), digest("l0"), digest("c0")]
        );
        assert_eq!(
            key_records(&new),
            [
                (digest("key-q"), fp.into()),
                (digest("key-l"), fp.into()),
                (digest("key-c"), fp.into())
            ]
        );
        assert!(
            LEGACY_REQUEST_IDS
                .iter()
                .chain(&LEGACY_IDEMPOTENCY_RECORDS)
                .all(|n| !new.contains_key(*n))
        );
        assert_eq!(idempotency_record(&new, "key-l").as_deref(), Some(fp));
        // A write without a key keeps the records as read (here: converted, not shifted).
        let new = write(&old, &[], "q", "T");
        assert_eq!(
            key_records(&new),
            [(digest("key-l"), fp.into()), (digest("key-c"), fp.into())]
        );
        // The legacy form shifts its own lists and leaves the compact one as it was.
        let new = write_as(Bookkeeping::Legacy, &old, &[], "q", None, "T");
        assert_eq!(new["last_request_id"], "q");
        assert_eq!(new["previous_request_id_1"], "l1");
        assert_eq!(new["r0"], json!(digest("c0")));
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
        let plain = item(json!({"a": "s", "n": 7, "ss": ["x"], "r0": digest("q")}));
        assert_eq!(from_dynamodb(&to_dynamodb(&plain)), plain);
    }
}
