use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use crate::domain::{ClientId, Connection, Digest, Expiry, KeyRecord, Member, Members};
use crate::schema::connection as attr;

pub type Item = HashMap<String, AttributeValue>;

/// What a refused write found. Another client's item is told apart from the caller's
/// before anything else in it is read, so a malformed foreign item answers like no item.
// One per request, moved once: boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldItem {
    /// No item, or another client's.
    NotFound,
    /// The caller's own item, as it was.
    Owned(Connection),
}

/// Reads the ALL_OLD item of a refused write: the owner first, on the raw item; only the
/// caller's own item is parsed (and may then be reported as malformed).
pub fn old_item(item: Option<&Item>, client_id: &ClientId) -> Result<OldItem, StoreError> {
    let Some(item) = item else {
        return Ok(OldItem::NotFound);
    };
    let owner = item.get(attr::CLIENT_ID).and_then(|v| v.as_s().ok());
    if owner.map(String::as_str) != Some(client_id.as_str()) {
        return Ok(OldItem::NotFound);
    }
    connection_from_item(item).map(OldItem::Owned)
}

/// Reads a connection item. Missing optional attributes get their neutral value; a
/// missing required one is an error (the item was not written by this system's rules).
pub fn connection_from_item(item: &Item) -> Result<Connection, StoreError> {
    let mut members = Members::default();
    for member in Member::ALL {
        let value = optional_string(item, member.attribute());
        if value.is_none() && !member.removable() {
            return Err(StoreError::MalformedItem(member.attribute()));
        }
        members[*member] = value;
    }
    Ok(Connection {
        connection_id: string(item, attr::CONNECTION_ID)?,
        client_id: ClientId::new(string(item, attr::CLIENT_ID)?)
            .ok_or(StoreError::MalformedItem(attr::CLIENT_ID))?,
        retailer_id: string(item, attr::RETAILER_ID)?,
        members,
        token_sha256: string(item, attr::TOKEN_SHA256)?,
        // Only a string set holds scopes, exactly as the write's condition demands
        // (`attribute_type SS`): a string or list of the same words grants nothing.
        token_scopes: match item.get(attr::TOKEN_SCOPES) {
            Some(AttributeValue::Ss(scopes)) => scopes.clone(),
            _ => Vec::new(),
        },
        // Any number DynamoDB holds, kept to the instant (the condition compares it so);
        // another type is malformed, as the write's condition refuses it.
        token_expires_at: match item.get(attr::TOKEN_EXPIRES_AT) {
            Some(AttributeValue::N(n)) => Some(
                Expiry::parse(n).map_err(|_| StoreError::MalformedItem(attr::TOKEN_EXPIRES_AT))?,
            ),
            Some(_) => return Err(StoreError::MalformedItem(attr::TOKEN_EXPIRES_AT)),
            None => None,
        },
        recent_requests: recent_requests(item),
        idempotency_records: idempotency_records(item),
        legacy_bookkeeping: attr::LEGACY_MARKERS
            .iter()
            .any(|name| item.contains_key(*name)),
        version: match item.get(attr::VERSION) {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| StoreError::MalformedItem(attr::VERSION))?,
            Some(_) => return Err(StoreError::MalformedItem(attr::VERSION)),
            None => 0,
        },
    })
}

/// Both forms, legacy first (a compact write removes the legacy form, so whatever legacy
/// entries an item holds were written after its compact ones), each entry once. An entry
/// of another shape is no record (as before: only a string was read).
fn recent_requests(item: &Item) -> Vec<Digest> {
    let legacy = attr::LEGACY_REQUEST_IDS
        .iter()
        .filter_map(|name| optional_string(item, name))
        .map(|id| Digest::of(id.as_bytes()));
    let compact = attr::REQUEST_DIGESTS
        .iter()
        .filter_map(|name| digest(item, name));
    unique(legacy.chain(compact))
}

/// Each entry once, in order: a write fills the empty slots of a list with its own entry,
/// and such copies must not push older entries out when the lists are merged.
fn unique<T: PartialEq>(entries: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for entry in entries {
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

fn idempotency_records(item: &Item) -> Vec<KeyRecord> {
    let legacy = attr::LEGACY_IDEMPOTENCY_RECORDS
        .iter()
        .filter_map(|name| item.get(*name)?.as_s().ok())
        .filter_map(|record| KeyRecord::from_legacy(record));
    let compact = attr::KEY_DIGESTS
        .iter()
        .zip(&attr::FINGERPRINTS)
        .filter_map(|(key, fingerprint)| {
            let stored = item
                .get(*fingerprint)
                .and_then(|v| v.as_b().ok())
                .map_or(&[][..], |b| b.as_ref());
            Some(KeyRecord {
                key: digest(item, key)?,
                fingerprint: KeyRecord::fingerprint(digest(item, fingerprint), stored),
            })
        });
    unique(legacy.chain(compact))
}

fn digest(item: &Item, name: &str) -> Option<Digest> {
    Digest::from_bytes(item.get(name)?.as_b().ok()?.as_ref())
}

fn string(item: &Item, name: &'static str) -> Result<String, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or(StoreError::MalformedItem(name))
}

fn optional_string(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn item(client: &str) -> Item {
        HashMap::from([
            ("connection_id".into(), s("01J51S0JYV6N7K1030CV1ZKSCA")),
            ("client_id".into(), s(client)),
            ("customer_id".into(), s("c")),
            ("retailer_id".into(), s("01J7SC0NN73R6F5VVSP3ZKPDA3")),
            ("status".into(), s("active")),
            ("token_sha256".into(), s("ab")),
            ("version".into(), AttributeValue::N("3".into())),
        ])
    }

    #[test]
    fn the_owner_is_compared_before_anything_is_parsed() {
        let a = &ClientId::new("a").unwrap();
        assert_eq!(old_item(None, a), Ok(OldItem::NotFound));
        let mut foreign = item("b");
        foreign.remove("retailer_id");
        foreign.insert("version".into(), AttributeValue::N("x".into()));
        assert_eq!(old_item(Some(&foreign), a), Ok(OldItem::NotFound));
        let mut ownerless = item("a");
        ownerless.insert("client_id".into(), AttributeValue::N("1".into()));
        assert_eq!(old_item(Some(&ownerless), a), Ok(OldItem::NotFound));
        ownerless.remove("client_id");
        assert_eq!(old_item(Some(&ownerless), a), Ok(OldItem::NotFound));

        let mut own = item("a");
        own.remove("retailer_id");
        assert_eq!(
            old_item(Some(&own), a),
            Err(StoreError::MalformedItem("retailer_id"))
        );
        assert!(matches!(
            old_item(Some(&item("a")), a),
            Ok(OldItem::Owned(c)) if c.version == 3
        ));
    }

    #[test]
    fn every_required_member_must_be_stored() {
        for member in Member::ALL {
            let mut i = item("a");
            i.remove(member.attribute());
            let read = connection_from_item(&i);
            if member.removable() {
                assert!(read.is_ok(), "{member:?}");
            } else {
                assert_eq!(read, Err(StoreError::MalformedItem(member.attribute())));
            }
        }
    }

    #[test]
    fn any_stored_expiry_reads() {
        let mut i = item("a");
        for n in [
            "1e20",
            "100000000000000000000",
            "-5",
            "1764619180.3",
            "9.9E+125",
        ] {
            i.insert("token_expires_at".into(), AttributeValue::N(n.into()));
            assert!(
                connection_from_item(&i).unwrap().token_expires_at.is_some(),
                "{n}"
            );
        }
    }

    #[test]
    fn bookkeeping_reads_in_both_forms_legacy_first() {
        use aws_sdk_dynamodb::primitives::Blob;
        let d = |t: &str| Digest::of(t.as_bytes());
        let b = |t: &str| AttributeValue::B(Blob::new(d(t).as_bytes().to_vec()));
        let fp = "0123456789abcdef0123456789abcdef";
        let mut i = item("a");
        i.insert("r0".into(), b("compact-1"));
        i.insert("r1".into(), b("compact-0"));
        i.insert("r2".into(), AttributeValue::B(Blob::new(vec![1, 2, 3])));
        i.insert("k0".into(), b("key-c"));
        i.insert("f0".into(), b("fp-c"));
        i.insert("k1".into(), b("key-no-fingerprint"));
        let c = connection_from_item(&i).unwrap();
        assert!(!c.legacy_bookkeeping);
        assert_eq!(c.recent_requests, [d("compact-1"), d("compact-0")]);
        let compact = KeyRecord {
            key: d("key-c"),
            fingerprint: d("fp-c"),
        };
        // A key without a readable fingerprint still counts as used, by another request.
        let orphan = KeyRecord {
            key: d("key-no-fingerprint"),
            fingerprint: KeyRecord::fingerprint(None, &[]),
        };
        assert_eq!(c.idempotency_records, [compact, orphan]);

        i.insert("last_request_id".into(), s("legacy-2"));
        i.insert("previous_request_id_1".into(), s("legacy-1"));
        i.insert("last_idempotency_key".into(), s(&format!("key-l {fp}")));
        i.insert("previous_idempotency_key_1".into(), s("malformed"));
        let c = connection_from_item(&i).unwrap();
        assert!(c.legacy_bookkeeping);
        assert_eq!(
            c.recent_requests,
            [d("legacy-2"), d("legacy-1"), d("compact-1"), d("compact-0")]
        );
        let legacy = KeyRecord::from_legacy(&format!("key-l {fp}")).unwrap();
        assert_eq!(c.idempotency_records, [legacy, compact, orphan]);
    }

    #[test]
    fn only_a_string_set_holds_scopes() {
        let mut i = item("a");
        for scopes in [
            s("connections:write"),
            s("connections:write-limited"),
            AttributeValue::L(vec![s("connections:write")]),
        ] {
            i.insert("token_scopes".into(), scopes);
            assert!(connection_from_item(&i).unwrap().token_scopes.is_empty());
        }
        i.insert(
            "token_scopes".into(),
            AttributeValue::Ss(vec!["connections:write".into()]),
        );
        assert_eq!(
            connection_from_item(&i).unwrap().token_scopes,
            ["connections:write"]
        );
    }
}
