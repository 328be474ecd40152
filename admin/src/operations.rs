//! What `connections-admin` does, one function per command; the binary only parses its
//! arguments and prints. Secrets are returned once, to be shown once, and stored only as
//! SHA-256 digests.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::Value;

use crate::{ApiKeySeed, ConnectionSeed, new_secret, new_ulid, put_api_key, put_connection};
use update_connection::auth::sha256_hex;
use update_connection::clock;
use update_connection::domain::member::Member;
use update_connection::domain::{ConnectionId, CustomerId, Email, Mobile, WRITE_SCOPE};
use update_connection::schema::{api_key, connection as attr};

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

/// The pre-traffic canary's credentials, shown once: its API key and the two tokens.
#[derive(Debug, Clone)]
pub struct Canary {
    pub api_key: String,
    pub connected_token: String,
    pub disconnected_token: String,
}

impl Canary {
    /// What the stack's CanarySecret holds (hooks/pre-traffic/index.py reads it).
    pub fn secret_json(&self) -> String {
        serde_json::json!({
            "api_key": self.api_key,
            "connected_token": self.connected_token,
            "disconnected_token": self.disconnected_token,
        })
        .to_string()
    }
}

/// (Re)writes both canary connections with new tokens, so that earlier canary tokens stop
/// working at once, then makes a new canary API key. The earlier canary key stays active
/// until revoked (docs/deploy.md: rotation).
pub async fn create_canary(
    client: &Client,
    connections_table: &str,
    api_keys_table: &str,
) -> Result<Canary, BoxError> {
    use update_connection::schema::canary;
    let connection = |id: &str, status: &str| -> Result<ConnectionSeed, BoxError> {
        Ok(ConnectionSeed {
            connection_id: id.to_owned(),
            client_id: canary::CLIENT_ID.to_owned(),
            customer_id: canary::CLIENT_ID.to_owned(),
            retailer_id: canary::RETAILER_ID.to_owned(),
            status: status.to_owned(),
            email: Some("canary@example.com".to_owned()),
            mobile: None,
            token: new_secret("uc_tok_")?,
            token_scopes: vec![WRITE_SCOPE.to_owned()],
            token_expires_at: None,
        })
    };
    let connected = connection(canary::CONNECTED, "active")?;
    let disconnected = connection(
        canary::DISCONNECTED,
        update_connection::domain::DISCONNECTED,
    )?;
    put_connection(client, connections_table, &connected).await?;
    put_connection(client, connections_table, &disconnected).await?;
    // The key last: a run that fails before it leaves no key that nothing uses.
    let key = create_key(client, api_keys_table, canary::CLIENT_ID).await?;
    Ok(Canary {
        api_key: key.secret,
        connected_token: connected.token,
        disconnected_token: disconnected.token,
    })
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

/// What a rotation does to the token's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Leave `token_expires_at` as it is, or absent.
    Keep,
    /// Epoch seconds.
    Set(u64),
    /// The new token never expires.
    Remove,
}

/// A rotated token, shown once, and its expiry as that same write left it.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub token: String,
    /// As stored: epoch seconds, or `None` when the token never expires.
    pub token_expires_at: Option<String>,
}

/// Replaces a connection's token in one conditional write that touches the expiry only as
/// `expiry` says (no read first, so nothing can change between a read and the write). The
/// write moves the version, so callers' ETags stop matching.
pub async fn rotate_token(
    client: &Client,
    table: &str,
    id: &ConnectionId,
    expiry: Expiry,
) -> Result<Rotated, BoxError> {
    let token = new_secret("uc_tok_")?;
    let now = clock::now();
    let set = "SET #token = :h, #updated = :now, #version = if_not_exists(#version, :zero) + :one";
    let update = client
        .update_item()
        .table_name(table)
        .key(attr::CONNECTION_ID, s(id.as_str()))
        .condition_expression("attribute_exists(#id)")
        .expression_attribute_names("#id", attr::CONNECTION_ID)
        .expression_attribute_names("#token", attr::TOKEN_SHA256)
        .expression_attribute_names("#updated", attr::UPDATED_AT)
        .expression_attribute_names("#version", attr::VERSION)
        .expression_attribute_values(":h", s(&sha256_hex(&token)))
        .expression_attribute_values(":now", s(now.rfc3339()))
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":zero", AttributeValue::N("0".into()))
        // The whole item, to report the expiry this write left; only that is read from it.
        .return_values(ReturnValue::AllNew);
    let update = match expiry {
        Expiry::Keep => update.update_expression(set),
        Expiry::Set(at) => update
            .update_expression(format!("{set}, #expires = :exp"))
            .expression_attribute_names("#expires", attr::TOKEN_EXPIRES_AT)
            .expression_attribute_values(":exp", AttributeValue::N(at.to_string())),
        Expiry::Remove => update
            .update_expression(format!("{set} REMOVE #expires"))
            .expression_attribute_names("#expires", attr::TOKEN_EXPIRES_AT),
    };
    let new = update.send().await?;
    let token_expires_at = new
        .attributes
        .and_then(|mut item| item.remove(attr::TOKEN_EXPIRES_AT))
        .map(|value| match value {
            AttributeValue::N(n) => n,
            other => format!("{other:?}"),
        });
    Ok(Rotated {
        token,
        token_expires_at,
    })
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
                AttributeValue::B(b) => hex::encode(b.as_ref()),
                other => format!("{other:?}"),
            };
            (name, text)
        })
        .collect();
    lines.sort();
    Ok(lines)
}

/// What a caller sees of `show`'s lines, in a PATCH response's order: connection_id,
/// retailer_id and every member (`null` when absent), then version. The rest (token digest
/// and scopes, timestamps, the retry guards' request ids) stays out: the guards' empty
/// slots hold the current request id, which reads like a write made four times.
pub fn caller_view(lines: Vec<(String, String)>) -> Vec<(String, String)> {
    let wanted = [
        (attr::CONNECTION_ID, attr::CONNECTION_ID),
        (attr::RETAILER_ID, attr::RETAILER_ID),
    ]
    .into_iter()
    .chain(Member::ALL.iter().map(|m| (m.name(), m.attribute())))
    .chain([(attr::VERSION, attr::VERSION)]);
    wanted
        .map(|(name, attribute)| {
            let value = lines
                .iter()
                .find(|(stored, _)| stored == attribute)
                .map_or_else(|| "null".to_owned(), |(_, value)| value.clone());
            (name.to_owned(), value)
        })
        .collect()
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
                // The bookkeeping's digests, as hex.
                AttributeValue::B(b) => Value::from(hex::encode(b.as_ref())),
                other => Value::from(format!("{other:?}")),
            };
            out.insert(name, value);
        }
        each(Value::Object(out));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::infallible_client_fn;

    use super::*;

    /// Every request sent: operation, JSON body.
    type Requests = Arc<Mutex<Vec<(String, Value)>>>;

    /// A client that records every request and answers an UpdateItem with `attributes`.
    fn recording(attributes: Value) -> (Client, Requests) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = infallible_client_fn(move |req| {
            let target = req.headers()["x-amz-target"].to_str().unwrap().to_owned();
            let body = serde_json::from_slice(req.body().bytes().unwrap()).unwrap();
            log.lock().unwrap().push((target, body));
            http::Response::new(serde_json::json!({ "Attributes": attributes }).to_string())
        });
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("eu-west-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .endpoint_url("http://dynamodb.test")
            .http_client(http)
            .build();
        (Client::from_conf(config), seen)
    }

    #[test]
    fn the_caller_view_is_the_response_members_and_the_version() {
        let stored = [
            ("connection_id", "01J51S0JYV6N7K1030CV1ZKSCA"),
            ("customer_id", "c-1"),
            ("disconnected_at", "2025-01-01T00:00:00.000Z"),
            ("last_request_id", "r-1"),
            ("previous_request_id_1", "r-1"),
            ("retailer_id", "01J7SC0NN73R6F5VVSP3ZKPDA3"),
            ("status", "disconnected"),
            ("token_sha256", "ab"),
            ("version", "2"),
            ("email", "a@example.com"),
        ];
        let lines = stored
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let view: Vec<(String, String)> = caller_view(lines);
        let names: Vec<&str> = view.iter().map(|(n, _)| n.as_str()).collect();
        // The response's members, whatever they are, between the ids and the version.
        let mut expected = vec!["connection_id", "retailer_id"];
        expected.extend(Member::ALL.iter().map(|m| m.name()));
        expected.push("version");
        assert_eq!(names, expected);
        let value = |name: &str| view.iter().find(|(n, _)| n == name).unwrap().1.as_str();
        assert_eq!(
            value("mobile"),
            "null",
            "an absent member reads null: {view:?}"
        );
        assert_eq!(value("status"), "disconnected");
        assert_eq!(value("email"), "a@example.com");
        assert_eq!(value("version"), "2");
    }

    #[tokio::test]
    async fn a_rotation_is_one_write_that_touches_the_expiry_only_when_told() {
        let id = ConnectionId::parse("01J51S0JYV6N7K1030CV1ZKSCA").unwrap();
        let stored = serde_json::json!({ "token_expires_at": { "N": "1893456000" } });
        for (expiry, expression, answer) in [
            (
                Expiry::Keep,
                "SET #token = :h, #updated = :now, #version = if_not_exists(#version, :zero) + :one",
                &stored,
            ),
            (
                Expiry::Set(7),
                "SET #token = :h, #updated = :now, #version = if_not_exists(#version, :zero) + :one, #expires = :exp",
                &stored,
            ),
            (
                Expiry::Remove,
                "SET #token = :h, #updated = :now, #version = if_not_exists(#version, :zero) + :one REMOVE #expires",
                &serde_json::json!({}),
            ),
        ] {
            let (client, seen) = recording(answer.clone());
            let rotated = rotate_token(&client, "connections", &id, expiry)
                .await
                .unwrap();
            let calls = seen.lock().unwrap().clone();
            assert_eq!(calls.len(), 1, "{expiry:?}: {calls:?}");
            let (target, body) = &calls[0];
            assert_eq!(target, "DynamoDB_20120810.UpdateItem");
            assert_eq!(body["UpdateExpression"], expression, "{expiry:?}");
            assert_eq!(body["ConditionExpression"], "attribute_exists(#id)");
            assert_eq!(body["ReturnValues"], "ALL_NEW");
            let names = body["ExpressionAttributeNames"].to_string();
            assert_eq!(
                names.contains(attr::TOKEN_EXPIRES_AT),
                expiry != Expiry::Keep,
                "{names}"
            );
            assert_eq!(
                body["ExpressionAttributeValues"].get(":exp").is_some(),
                expiry == Expiry::Set(7)
            );
            assert_eq!(
                body["ExpressionAttributeValues"][":h"]["S"],
                sha256_hex(&rotated.token)
            );
            let expected = (expiry != Expiry::Remove).then(|| "1893456000".to_owned());
            assert_eq!(rotated.token_expires_at, expected, "{expiry:?}");
        }
    }
}
