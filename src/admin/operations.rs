//! What `connections-admin` does, one function per command; the binary only parses its
//! arguments and prints. Secrets are returned once, to be shown once, and stored only as
//! SHA-256 digests.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::Value;

use super::{ApiKeySeed, ConnectionSeed, new_secret, new_ulid, put_api_key, put_connection};
use crate::auth::sha256_hex;
use crate::clock;
use crate::domain::{ConnectionId, CustomerId, Email, Mobile, WRITE_SCOPE};
use crate::schema::{api_key, connection as attr};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// Makes an active API key for `client_id`; the returned seed holds the secret.
pub async fn create_key(
    client: &Client,
    table: &str,
    client_id: &str,
) -> Result<ApiKeySeed, BoxError> {
    let key = ApiKeySeed {
        secret: new_secret("uc_key_")?,
        client_id: client_id.to_owned(),
        status: api_key::ACTIVE.into(),
    };
    put_api_key(client, table, &key).await?;
    Ok(key)
}

/// Marks a key revoked; an error when there is no such key.
pub async fn revoke_key(client: &Client, table: &str, key_sha256: &str) -> Result<(), BoxError> {
    client
        .update_item()
        .table_name(table)
        .key(api_key::KEY_SHA256, s(key_sha256))
        .update_expression("SET #status = :revoked")
        .condition_expression("attribute_exists(#key)")
        .expression_attribute_names("#status", api_key::STATUS)
        .expression_attribute_names("#key", api_key::KEY_SHA256)
        .expression_attribute_values(":revoked", s(api_key::REVOKED))
        .send()
        .await?;
    Ok(())
}

/// Removes a key's item; `false` when there was none.
pub async fn delete_key(client: &Client, table: &str, key_sha256: &str) -> Result<bool, BoxError> {
    let old = client
        .delete_item()
        .table_name(table)
        .key(api_key::KEY_SHA256, s(key_sha256))
        .return_values(ReturnValue::AllOld)
        .send()
        .await?;
    Ok(old.attributes.is_some())
}

/// Removes a connection's item; `false` when there was none.
pub async fn delete_connection(
    client: &Client,
    table: &str,
    id: &ConnectionId,
) -> Result<bool, BoxError> {
    let old = client
        .delete_item()
        .table_name(table)
        .key(attr::CONNECTION_ID, s(id.as_str()))
        .return_values(ReturnValue::AllOld)
        .send()
        .await?;
    Ok(old.attributes.is_some())
}

/// A connection to create: validated values only.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub client_id: String,
    pub customer_id: CustomerId,
    pub retailer_id: ConnectionId,
    pub email: Option<Email>,
    pub mobile: Option<Mobile>,
    /// Empty means `connections:write`.
    pub scopes: Vec<String>,
    pub token_expires_at: Option<u64>,
}

/// Makes an active connection with a fresh id and token; the returned seed holds both.
pub async fn create_connection(
    client: &Client,
    table: &str,
    new: NewConnection,
) -> Result<ConnectionSeed, BoxError> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let connection = ConnectionSeed {
        connection_id: new_ulid(now_ms)?,
        client_id: new.client_id,
        customer_id: new.customer_id.as_str().to_owned(),
        retailer_id: new.retailer_id.as_str().to_owned(),
        status: "active".into(),
        email: new.email.map(|e| e.as_str().to_owned()),
        mobile: new.mobile.map(|m| m.as_str().to_owned()),
        token: new_secret("uc_tok_")?,
        token_scopes: if new.scopes.is_empty() {
            vec![WRITE_SCOPE.to_owned()]
        } else {
            new.scopes
        },
        token_expires_at: new.token_expires_at,
    };
    put_connection(client, table, &connection).await?;
    Ok(connection)
}

/// Replaces a connection's token (and its expiry: none unless given); returns the new
/// token. The write moves the version, so callers' ETags stop matching.
pub async fn rotate_token(
    client: &Client,
    table: &str,
    id: &ConnectionId,
    expires_at: Option<u64>,
) -> Result<String, BoxError> {
    let token = new_secret("uc_tok_")?;
    let now = clock::now();
    let set = "SET #token = :h, #updated = :now, #version = if_not_exists(#version, :zero) + :one";
    let mut update = client
        .update_item()
        .table_name(table)
        .key(attr::CONNECTION_ID, s(id.as_str()))
        .condition_expression("attribute_exists(#id)")
        .expression_attribute_names("#id", attr::CONNECTION_ID)
        .expression_attribute_names("#token", attr::TOKEN_SHA256)
        .expression_attribute_names("#updated", attr::UPDATED_AT)
        .expression_attribute_names("#version", attr::VERSION)
        .expression_attribute_names("#expires", attr::TOKEN_EXPIRES_AT)
        .expression_attribute_values(":h", s(&sha256_hex(&token)))
        .expression_attribute_values(":now", s(now.rfc3339()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":zero", AttributeValue::N("0".into()));
    update = match expires_at {
        Some(at) => update
            .update_expression(format!("{set}, #expires = :exp"))
            .expression_attribute_values(":exp", AttributeValue::N(at.to_string())),
        None => update.update_expression(format!("{set} REMOVE #expires")),
    };
    update.send().await?;
    Ok(token)
}

/// A stored connection as `(attribute, value)` lines, sorted by name; the token appears
/// only as its digest. An error when there is no such connection.
pub async fn show(
    client: &Client,
    table: &str,
    id: &ConnectionId,
) -> Result<Vec<(String, String)>, BoxError> {
    let item = client
        .get_item()
        .table_name(table)
        .key(attr::CONNECTION_ID, s(id.as_str()))
        .consistent_read(true)
        .send()
        .await?
        .item
        .ok_or_else(|| format!("no connection {id}"))?;
    let mut lines: Vec<(String, String)> = item
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                AttributeValue::S(s) => s,
                AttributeValue::N(n) => n,
                AttributeValue::Ss(ss) => ss.join(","),
                other => format!("{other:?}"),
            };
            (name, text)
        })
        .collect();
    lines.sort();
    Ok(lines)
}

/// Every connection as a JSON object, without its token digest, handed to `each` page by
/// page (a table may be large).
pub async fn dump(
    client: &Client,
    table: &str,
    mut each: impl FnMut(Value),
) -> Result<(), BoxError> {
    let mut pages = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = pages.next().await {
        let mut out = serde_json::Map::new();
        for (name, value) in item? {
            let value = match value {
                _ if name == attr::TOKEN_SHA256 => continue,
                AttributeValue::S(s) => Value::from(s),
                AttributeValue::N(n) => n.parse::<u64>().map(Value::from).unwrap_or(Value::from(n)),
                AttributeValue::Ss(ss) => Value::from(ss),
                other => Value::from(format!("{other:?}")),
            };
            out.insert(name, value);
        }
        each(Value::Object(out));
    }
    Ok(())
}
