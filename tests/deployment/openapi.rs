//! openapi.yaml says what the code does: these tests fail when one changes without the other.

use std::collections::BTreeSet;

use serde_norway::Value;
use update_connection::domain::{CustomerId, DISCONNECTED, Email, Mobile};
use update_connection::http::ProblemCode;
use update_connection::http::problem::EDGE_PROBLEMS;

pub fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("openapi.yaml"))
        .expect("valid YAML")
}

/// A YAML mapping's keys, as strings.
fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_mapping()
        .unwrap_or_else(|| panic!("not a mapping: {v:?}"))
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect()
}

fn operation(spec: &Value) -> &Value {
    &spec["paths"]["/connections/{connection_id}"]["patch"]
}

#[test]
fn problem_codes_and_statuses_match_the_code() {
    let spec = spec();
    let codes: BTreeSet<String> =
        spec["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
    let ours: BTreeSet<String> = ProblemCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .chain(EDGE_PROBLEMS.iter().map(|p| p.code.to_owned()))
        .collect();
    assert_eq!(codes, ours);

    let statuses: BTreeSet<u16> = operation(&spec)["responses"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().parse().unwrap())
        .collect();
    let mut expected: BTreeSet<u16> = ProblemCode::ALL
        .iter()
        .map(|c| c.status())
        .chain(EDGE_PROBLEMS.iter().map(|p| p.status))
        .collect();
    expected.insert(200);
    assert_eq!(statuses, expected);
}

#[test]
fn the_request_schema_is_the_patch_parser() {
    let spec = spec();
    let schema = &spec["components"]["schemas"]["UpdateConnection"];
    assert_eq!(schema["additionalProperties"], Value::Bool(false));
    let props = &schema["properties"];
    let names: BTreeSet<&str> = keys(props);
    let members = BTreeSet::from(update_connection::domain::MEMBERS);
    assert_eq!(
        names,
        members,
        "UpdateConnection.properties: missing {:?}, extra {:?}",
        members.difference(&names).collect::<Vec<_>>(),
        names.difference(&members).collect::<Vec<_>>()
    );
    // Every member can make a body worth sending on its own: each has its `anyOf` branch,
    // in both request schemas.
    for schema_name in ["UpdateConnection", "MergePatch"] {
        let alone: BTreeSet<&str> = spec["components"]["schemas"][schema_name]["anyOf"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{schema_name} has no anyOf"))
            .iter()
            .map(|branch| branch["required"][0].as_str().unwrap())
            .collect();
        assert_eq!(
            alone,
            names,
            "{schema_name}.anyOf: no branch for {:?}",
            names.difference(&alone).collect::<Vec<_>>()
        );
    }
    // The merge-patch schema names the same members; only what `null` means differs.
    let merge = &spec["components"]["schemas"]["MergePatch"]["properties"];
    let merge_names: BTreeSet<&str> = keys(merge);
    assert_eq!(
        merge_names,
        names,
        "MergePatch.properties: missing {:?}",
        names.difference(&merge_names).collect::<Vec<_>>()
    );
    for m in update_connection::domain::Member::ALL {
        assert_eq!(
            merge[m.name()]["nullable"].as_bool().unwrap_or(false),
            m.removable(),
            "MergePatch.{}: nullable exactly when null removes it",
            m.name()
        );
        // The length limit is the validator's, in both request schemas.
        for (schema_name, schema) in [("UpdateConnection", props), ("MergePatch", merge)] {
            assert_eq!(
                schema[m.name()]["maxLength"].as_u64(),
                m.max_len().map(|n| n as u64),
                "{schema_name}.{}.maxLength against the parser's limit",
                m.name()
            );
        }
    }
    assert_eq!(
        props["email"]["maxLength"].as_u64(),
        Some(Email::MAX_LEN as u64)
    );
    assert_eq!(
        props["customer_id"]["maxLength"].as_u64(),
        Some(CustomerId::MAX_CHARS as u64)
    );
    assert_eq!(props["customer_id"]["minLength"].as_u64(), Some(1));
    assert_eq!(props["status"]["enum"][0].as_str(), Some(DISCONNECTED));
    for member in names {
        assert_eq!(props[member]["nullable"], Value::Bool(true), "{member}");
    }
    // The mobile pattern says what Mobile::parse accepts.
    let pattern = props["mobile"]["pattern"].as_str().unwrap();
    assert_eq!(pattern, "^\\+[1-9][0-9]{1,14}$");
    for (sample, ok) in [
        ("+14155550123", true),
        ("+12", true),
        ("+1", false),
        ("+0123", false),
        ("+1234567890123456", false),
    ] {
        assert_eq!(Mobile::parse(sample).is_ok(), ok, "{sample}");
    }
    let media: BTreeSet<&str> = keys(&operation(&spec)["requestBody"]["content"]);
    assert_eq!(
        media,
        BTreeSet::from(["application/json", "application/merge-patch+json"])
    );
}

#[test]
fn the_response_schema_is_the_connection_view() {
    let spec = spec();
    let schema = &spec["components"]["schemas"]["Connection"];
    let required: BTreeSet<&str> = schema["required"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let connection = update_connection::domain::Connection {
        connection_id: "c".into(),
        client_id: update_connection::domain::ClientId::new("client").unwrap(),
        retailer_id: "r".into(),
        members: Default::default(),
        token_sha256: String::new(),
        token_scopes: Vec::new(),
        token_expires_at: None,
        version: 1,
        recent_requests: Vec::new(),
        idempotency_records: Vec::new(),
        legacy_bookkeeping: false,
    };
    let json = serde_json::to_value(connection.view()).unwrap();
    let members: BTreeSet<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        required,
        members,
        "Connection.required: missing {:?}, extra {:?}",
        members.difference(&required).collect::<Vec<_>>(),
        required.difference(&members).collect::<Vec<_>>()
    );
    // Each required member is described too.
    let described: BTreeSet<&str> = keys(&schema["properties"]);
    assert_eq!(
        described,
        members,
        "Connection.properties: missing {:?}",
        members.difference(&described).collect::<Vec<_>>()
    );
}

#[test]
fn both_credentials_are_required() {
    let spec = spec();
    let schemes = &spec["components"]["securitySchemes"];
    assert_eq!(schemes["apiKey"]["in"].as_str(), Some("header"));
    assert_eq!(schemes["apiKey"]["name"].as_str(), Some("x-api-key"));
    assert_eq!(schemes["bearer"]["scheme"].as_str(), Some("bearer"));
    let requirement = spec["security"][0].as_mapping().unwrap();
    assert_eq!(
        requirement.len(),
        2,
        "one requirement holding both schemes (AND, not OR)"
    );
}
