use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use crate::domain::Connection;

pub type Item = HashMap<String, AttributeValue>;

/// Reads a connection item. Missing optional attributes get their neutral value; a
/// missing required one is an error (the item was not written by this system's rules).
pub fn connection_from_item(item: &Item) -> Result<Connection, StoreError> {
    Ok(Connection {
        connection_id: string(item, "connection_id")?,
        client_id: string(item, "client_id")?,
        customer_id: string(item, "customer_id")?,
        retailer_id: string(item, "retailer_id")?,
        status: string(item, "status")?,
        email: optional_string(item, "email"),
        mobile: optional_string(item, "mobile"),
        token_sha256: string(item, "token_sha256")?,
        token_scopes: match item.get("token_scopes") {
            Some(AttributeValue::Ss(scopes)) => scopes.clone(),
            Some(AttributeValue::L(list)) => {
                list.iter().filter_map(|v| v.as_s().ok().cloned()).collect()
            }
            _ => Vec::new(),
        },
        token_expires_at: match item.get("token_expires_at") {
            Some(AttributeValue::N(n)) => Some(epoch(n)?),
            _ => None,
        },
        last_request_id: optional_string(item, "last_request_id"),
        version: match item.get("version") {
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
