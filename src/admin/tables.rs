use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

/// Creates both tables (on-demand, string partition key), as the SAM template defines them.
pub async fn create_tables(
    client: &Client,
    connections: &str,
    api_keys: &str,
) -> Result<(), BoxError> {
    for (table, key) in [(connections, "connection_id"), (api_keys, "key_sha256")] {
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}
