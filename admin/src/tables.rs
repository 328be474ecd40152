//! The tables, as `template.yaml` defines them: the one definition the deployed stack,
//! the local run and the tests all use.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde_norway::Value;

/// The SAM template, compiled in so that tools and tests cannot drift from it.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// One table's key, read from an `AWS::DynamoDB::Table` resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    pub logical_id: String,
    pub partition_key: String,
    pub key_type: String,
}

/// The DynamoDB tables of a template, by logical id.
pub fn tables_in_template(template: &str) -> Result<Vec<TableDefinition>, BoxError> {
    let doc: Value = serde_norway::from_str(template)?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or("the template has no Resources")?;
    let mut tables = Vec::new();
    for (id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let logical_id = id
            .as_str()
            .ok_or("a resource id is not a string")?
            .to_owned();
        let props = resource
            .get("Properties")
            .ok_or("a table without Properties")?;
        let hash = props
            .get("KeySchema")
            .and_then(Value::as_sequence)
            .and_then(|keys| {
                keys.iter()
                    .find(|k| k.get("KeyType").and_then(Value::as_str) == Some("HASH"))
            })
            .and_then(|k| k.get("AttributeName").and_then(Value::as_str))
            .ok_or_else(|| format!("{logical_id} has no HASH key"))?;
        let key_type = props
            .get("AttributeDefinitions")
            .and_then(Value::as_sequence)
            .and_then(|defs| {
                defs.iter()
                    .find(|d| d.get("AttributeName").and_then(Value::as_str) == Some(hash))
            })
            .and_then(|d| d.get("AttributeType").and_then(Value::as_str))
            .ok_or_else(|| format!("{logical_id} does not define {hash}"))?;
        tables.push(TableDefinition {
            logical_id,
            partition_key: hash.to_owned(),
            key_type: key_type.to_owned(),
        });
    }
    Ok(tables)
}

/// Creates the template's `ConnectionsTable` and `ApiKeysTable` under the given names
/// (on-demand, as deployed).
pub async fn create_tables(
    client: &Client,
    connections: &str,
    api_keys: &str,
) -> Result<(), BoxError> {
    let tables = tables_in_template(TEMPLATE)?;
    for (logical_id, name) in [
        ("ConnectionsTable", connections),
        ("ApiKeysTable", api_keys),
    ] {
        let table = tables
            .iter()
            .find(|t| t.logical_id == logical_id)
            .ok_or_else(|| format!("template.yaml has no {logical_id}"))?;
        let created = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&table.partition_key)
                    .attribute_type(ScalarAttributeType::from(table.key_type.as_str()))
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(&table.partition_key)
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Already there: a second run, or the SDK retried an attempt whose answer was
            // slow (a loaded machine) after the first one had created it.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_defines_both_tables_as_the_contract_names_them() {
        let tables = tables_in_template(TEMPLATE).unwrap();
        let key = |id: &str| {
            tables
                .iter()
                .find(|t| t.logical_id == id)
                .map(|t| (t.partition_key.as_str(), t.key_type.as_str()))
        };
        assert_eq!(key("ConnectionsTable"), Some(("connection_id", "S")));
        assert_eq!(key("ApiKeysTable"), Some(("key_sha256", "S")));
        assert_eq!(tables.len(), 2);
    }

    #[test]
    fn the_function_is_configured_as_the_code_expects() {
        let doc: Value = serde_norway::from_str(TEMPLATE).unwrap();
        // Both forms of the function (classic, Managed Instances) share these: Globals.
        let function = &doc["Globals"]["Function"];
        let vars = &function["Environment"]["Variables"];
        for name in ["CONNECTIONS_TABLE", "API_KEYS_TABLE"] {
            assert!(vars.get(name).is_some(), "{name} missing");
        }
        assert_eq!(vars["MIMALLOC_ARENA_EAGER_COMMIT"], "0");
        assert_eq!(vars["API_KEY_CACHE_TTL_SECONDS"], "60");
        assert_eq!(function["Handler"], "bootstrap");
        assert_eq!(function["Runtime"], "provided.al2023");
        // The architecture is a parameter so that local runs can build for the machine;
        // a deployment that sets nothing gets arm64.
        match &function["Architectures"][0] {
            Value::Tagged(tagged) => {
                assert_eq!(tagged.tag.to_string(), "!Ref");
                assert_eq!(tagged.value, "Architecture");
            }
            other => panic!("Architectures must be !Ref Architecture, not {other:?}"),
        }
        let parameter = &doc["Parameters"]["Architecture"];
        assert_eq!(parameter["Default"], "arm64");
        assert_eq!(
            parameter["AllowedValues"],
            serde_norway::from_str::<Value>("[arm64, x86_64]").unwrap()
        );
        // Two DynamoDB calls of at most 2 s each fit well inside the timeout.
        let timeout = function["Timeout"].as_u64().unwrap();
        let budget = 2 * update_connection::store::OPERATION_TIMEOUT.as_secs();
        assert!(
            timeout >= budget + 4,
            "timeout {timeout}s vs DynamoDB budget {budget}s"
        );
    }

    #[test]
    fn the_function_may_update_connections_and_read_keys_and_nothing_else() {
        let doc: Value = serde_norway::from_str(TEMPLATE).unwrap();
        let resources = doc["Resources"].as_mapping().unwrap();
        let functions: Vec<&Value> = resources
            .values()
            .filter(|r| r["Type"] == "AWS::Serverless::Function")
            .collect();
        // Classic and Managed Instances: each with the same one policy.
        assert_eq!(functions.len(), 2);
        for function in &functions {
            assert_eq!(grants_of(function), grants_of(functions[0]));
        }
        assert_eq!(
            grants_of(functions[0]),
            [
                ("dynamodb:GetItem".to_owned(), "ApiKeysTable.Arn".to_owned()),
                (
                    "dynamodb:UpdateItem".to_owned(),
                    "ConnectionsTable.Arn".to_owned()
                ),
            ]
        );
    }

    fn grants_of(function: &Value) -> Vec<(String, String)> {
        use serde_norway::value::TaggedValue;
        let policies = function["Properties"]["Policies"].as_sequence().unwrap();
        assert_eq!(
            policies.len(),
            1,
            "one inline policy, no policy templates or managed policies"
        );
        let mut grants: Vec<(String, String)> = Vec::new();
        for statement in policies[0]["Statement"].as_sequence().unwrap() {
            assert_eq!(statement["Effect"], "Allow");
            let action = statement["Action"]
                .as_str()
                .expect("one action per statement");
            let resource = match &statement["Resource"] {
                Value::Tagged(tagged) => {
                    let TaggedValue { tag, value } = tagged.as_ref();
                    assert_eq!(tag.to_string(), "!GetAtt");
                    value.as_str().unwrap().to_owned()
                }
                other => panic!("resource must be a table's ARN, not {other:?}"),
            };
            assert!(!action.contains('*') && !resource.contains('*'));
            grants.push((action.to_owned(), resource));
        }
        grants.sort();
        grants
    }
}
