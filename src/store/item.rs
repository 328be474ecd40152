use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use crate::domain::Connection;
use crate::schema::connection as attr;

pub type Item = HashMap<String, AttributeValue>;

pub use crate::schema::connection::RECENT_REQUEST_IDS;

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
pub fn old_item(item: Option<&Item>, client_id: &str) -> Result<OldItem, StoreError> {
    let Some(item) = item else {
        return Ok(OldItem::NotFound);
    };
    let owner = item.get(attr::CLIENT_ID).and_then(|v| v.as_s().ok());
    if owner.map(String::as_str) != Some(client_id) {
        return Ok(OldItem::NotFound);
    }
    connection_from_item(item).map(OldItem::Owned)
}

/// Reads a connection item. Missing optional attributes get their neutral value; a
/// missing required one is an error (the item was not written by this system's rules).
pub fn connection_from_item(item: &Item) -> Result<Connection, StoreError> {
    Ok(Connection {
        connection_id: string(item, attr::CONNECTION_ID)?,
        client_id: string(item, attr::CLIENT_ID)?,
        customer_id: string(item, attr::CUSTOMER_ID)?,
        retailer_id: string(item, attr::RETAILER_ID)?,
        status: string(item, attr::STATUS)?,
        email: optional_string(item, attr::EMAIL),
        mobile: optional_string(item, attr::MOBILE),
        token_sha256: string(item, attr::TOKEN_SHA256)?,
        // Only a string set holds scopes, exactly as the write's condition demands
        // (`attribute_type SS`): a string or list of the same words grants nothing.
        token_scopes: match item.get(attr::TOKEN_SCOPES) {
            Some(AttributeValue::Ss(scopes)) => scopes.clone(),
            _ => Vec::new(),
        },
        token_expires_at: match item.get(attr::TOKEN_EXPIRES_AT) {
            Some(AttributeValue::N(n)) => Some(epoch(n)?),
            _ => None,
        },
        recent_request_ids: RECENT_REQUEST_IDS
            .iter()
            .filter_map(|name| optional_string(item, name))
            .collect(),
        version: match item.get(attr::VERSION) {
            Some(AttributeValue::N(n)) => n
                .parse()
                .map_err(|_| StoreError::MalformedItem("version"))?,
            _ => 0,
        },
    })
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

/// Epoch seconds; a fractional value is cut to whole seconds.
fn epoch(n: &str) -> Result<u64, StoreError> {
    let whole = n.split('.').next().unwrap_or(n);
    if whole.starts_with('-') {
        return Ok(0);
    }
    whole
        .parse()
        .map_err(|_| StoreError::MalformedItem("token_expires_at"))
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
        assert_eq!(old_item(None, "a"), Ok(OldItem::NotFound));
        let mut foreign = item("b");
        foreign.remove("retailer_id");
        foreign.insert("version".into(), AttributeValue::N("x".into()));
        assert_eq!(old_item(Some(&foreign), "a"), Ok(OldItem::NotFound));
        let mut ownerless = item("a");
        ownerless.insert("client_id".into(), AttributeValue::N("1".into()));
        assert_eq!(old_item(Some(&ownerless), "a"), Ok(OldItem::NotFound));
        ownerless.remove("client_id");
        assert_eq!(old_item(Some(&ownerless), "a"), Ok(OldItem::NotFound));

        let mut own = item("a");
        own.remove("retailer_id");
        assert_eq!(
            old_item(Some(&own), "a"),
            Err(StoreError::MalformedItem("retailer_id"))
        );
        assert!(matches!(
            old_item(Some(&item("a")), "a"),
            Ok(OldItem::Owned(c)) if c.version == 3
        ));
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
