use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

use update_connection::auth::sha256_hex;
use update_connection::schema::{api_key, connection as attr};

/// Demo data, as in `demo/seed.json`: secrets in clear here, hashed when written.
#[derive(Debug, Clone, Deserialize)]
pub struct Seed {
    pub api_keys: Vec<ApiKeySeed>,
    pub connections: Vec<ConnectionSeed>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ApiKeySeed {
    pub secret: String,
    pub client_id: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionSeed {
    pub connection_id: String,
    pub client_id: String,
    pub customer_id: String,
    pub retailer_id: String,
    pub status: String,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub token: String,
    pub token_scopes: Vec<String>,
    pub token_expires_at: Option<u64>,
}

impl Seed {
    pub fn demo() -> Result<Self, serde_json::Error> {
        serde_json::from_str(include_str!("../../demo/seed.json"))
    }

    pub fn connection(&self, id: &str) -> Option<&ConnectionSeed> {
        self.connections.iter().find(|c| c.connection_id == id)
    }

    pub async fn write(
        &self,
        client: &Client,
        connections: &str,
        api_keys: &str,
    ) -> Result<(), BoxError> {
        for key in &self.api_keys {
            put_api_key(client, api_keys, key).await?;
        }
        for connection in &self.connections {
            put_connection(client, connections, connection).await?;
        }
        Ok(())
    }
}

const CREATED_AT: &str = "2026-01-01T00:00:00.000Z";

pub async fn put_api_key(client: &Client, table: &str, key: &ApiKeySeed) -> Result<(), BoxError> {
    client
        .put_item()
        .table_name(table)
        .item(
            api_key::KEY_SHA256,
            AttributeValue::S(sha256_hex(&key.secret)),
        )
        .item(api_key::CLIENT_ID, AttributeValue::S(key.client_id.clone()))
        .item(api_key::STATUS, AttributeValue::S(key.status.clone()))
        .item(api_key::CREATED_AT, AttributeValue::S(CREATED_AT.into()))
        .send()
        .await?;
    Ok(())
}

/// Writes a connection at version 1, replacing any item with its id.
pub async fn put_connection(
    client: &Client,
    table: &str,
    c: &ConnectionSeed,
) -> Result<(), BoxError> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut item: HashMap<String, AttributeValue> = HashMap::from([
        (attr::CONNECTION_ID.into(), s(&c.connection_id)),
        (attr::CLIENT_ID.into(), s(&c.client_id)),
        (attr::CUSTOMER_ID.into(), s(&c.customer_id)),
        (attr::RETAILER_ID.into(), s(&c.retailer_id)),
        (attr::STATUS.into(), s(&c.status)),
        (attr::TOKEN_SHA256.into(), s(&sha256_hex(&c.token))),
        (attr::CREATED_AT.into(), s(CREATED_AT)),
        (attr::UPDATED_AT.into(), s(CREATED_AT)),
        (attr::VERSION.into(), AttributeValue::N("1".into())),
    ]);
    if !c.token_scopes.is_empty() {
        item.insert(
            attr::TOKEN_SCOPES.into(),
            AttributeValue::Ss(c.token_scopes.clone()),
        );
    }
    if let Some(email) = &c.email {
        item.insert(attr::EMAIL.into(), s(email));
    }
    if let Some(mobile) = &c.mobile {
        item.insert(attr::MOBILE.into(), s(mobile));
    }
    if let Some(at) = c.token_expires_at {
        item.insert(
            attr::TOKEN_EXPIRES_AT.into(),
            AttributeValue::N(at.to_string()),
        );
    }
    if c.status == update_connection::domain::DISCONNECTED {
        item.insert(attr::DISCONNECTED_AT.into(), s(CREATED_AT));
    }
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await?;
    Ok(())
}
