use aws_sdk_dynamodb::types::AttributeValue;

use super::{Store, StoreError};
use crate::auth::KeyLookup;
use crate::domain::ClientId;
use crate::schema::api_key as attr;

impl Store {
    /// The client that owns an active API key, by the key's SHA-256. A strongly consistent read, so that a revocation or a new key is
    /// seen at once by every cache miss (it costs 1 RCU instead of 0.5; only misses pay).
    pub async fn client_for_key(&self, key_sha256: &str) -> Result<KeyLookup, StoreError> {
        // Boxed, as in update.rs: a small handler future is cheap for lambda_runtime to move.
        let output = Box::pin(
            self.client
                .get_item()
                .table_name(&self.api_keys_table)
                .key(attr::KEY_SHA256, AttributeValue::S(key_sha256.to_owned()))
                .consistent_read(true)
                .projection_expression("client_id, #status")
                .expression_attribute_names("#status", attr::STATUS)
                .send(),
        )
        .await
        .map_err(|e| StoreError::from_sdk(&e))?;
        let Some(item) = output.item else {
            return Ok(KeyLookup::UnknownOrRevoked);
        };
        let active = item
            .get(attr::STATUS)
            .and_then(|s| s.as_s().ok())
            .is_some_and(|s| s == attr::ACTIVE);
        let client_id = item
            .get(attr::CLIENT_ID)
            .and_then(|c| c.as_s().ok())
            .and_then(|c| ClientId::new(c.as_str()));
        Ok(match client_id {
            Some(client) if active => KeyLookup::Active(client),
            _ => KeyLookup::UnknownOrRevoked,
        })
    }
}
