//! The API's edge keeps the contract: every answer API Gateway gives by itself
//! (template.yaml's `GatewayResponses`) renders as the contract's problem+json, and every
//! method on the connection's path reaches the function, which answers 405 itself.

use std::collections::BTreeSet;

use serde_json::Value as Json;
use serde_norway::Value;
use update_connection::http::ProblemCode;
use update_connection::http::problem::{EDGE_PROBLEMS, TYPE_BASE};

const REQUEST_ID: &str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("template.yaml"))
        .expect("valid YAML")
}

fn gateway_responses(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]["ConnectionsApi"]["Properties"]["GatewayResponses"]
        .as_mapping()
        .expect("ConnectionsApi has GatewayResponses")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v))
        .collect()
}

/// A header's value as API Gateway sends it: a static value is written in single quotes.
fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    let value = response["ResponseParameters"]["Headers"][name].as_str()?;
    value.strip_prefix('\'')?.strip_suffix('\'')
}

/// Renders a response template as API Gateway does for the variables it uses; any other
/// `$` is a variable this test does not know, so the test fails on it.
fn render(template: &str) -> String {
    let rendered = template.replace("$context.requestId", REQUEST_ID);
    assert!(!rendered.contains('$'), "unrendered variable in {template}");
    rendered
}

/// A code's status and title, wherever it is answered: the function's catalogue or the edge's.
fn catalogue(code: &str) -> Option<(u16, &'static str)> {
    ProblemCode::ALL
        .iter()
        .find(|c| c.as_str() == code)
        .map(|c| (c.status(), c.title()))
        .or_else(|| {
            EDGE_PROBLEMS
                .iter()
                .find(|p| p.code == code)
                .map(|p| (p.status, p.title))
        })
}

fn openapi_codes() -> BTreeSet<String> {
    crate::openapi::spec()["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_gateway_response_is_a_problem_of_the_contract() {
    let template = template();
    let codes = openapi_codes();
    let responses = gateway_responses(&template);
    assert!(!responses.is_empty());
    for (kind, response) in responses {
        let status = response["StatusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("{kind}: a fixed StatusCode, so the body can state it"));
        assert_eq!(
            header(response, "Content-Type"),
            Some("application/problem+json"),
            "{kind}"
        );
        assert_eq!(
            header(response, "Cache-Control"),
            Some("no-store"),
            "{kind}"
        );
        let templates = response["ResponseTemplates"].as_mapping().unwrap();
        assert_eq!(
            templates.len(),
            1,
            "{kind}: one template, used for every Accept"
        );
        let body = render(
            response["ResponseTemplates"]["application/json"]
                .as_str()
                .unwrap(),
        );
        let problem: Json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{kind}: the rendered body is not JSON ({e}): {body}"));
        let members: BTreeSet<&str> = problem
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            members,
            BTreeSet::from(["type", "title", "status", "detail", "code", "request_id"]),
            "{kind}"
        );
        let code = problem["code"].as_str().unwrap();
        assert!(
            codes.contains(code),
            "{kind}: {code} is not in openapi.yaml"
        );
        assert_eq!(problem["status"].as_u64(), Some(status), "{kind}");
        assert_eq!(
            problem["type"].as_str(),
            Some(format!("{TYPE_BASE}{code}").as_str())
        );
        // A code has one status and title wherever it is answered.
        let (expected_status, title) = catalogue(code).expect("a known code");
        assert_eq!(u64::from(expected_status), status, "{kind}: {code}");
        assert_eq!(problem["title"].as_str(), Some(title), "{kind}");
        assert!(!problem["detail"].as_str().unwrap().is_empty(), "{kind}");
        assert_eq!(problem["request_id"].as_str(), Some(REQUEST_ID), "{kind}");
        if status == 429 {
            let wait = header(response, "Retry-After").expect("429 carries Retry-After");
            assert!(wait.parse::<u32>().is_ok(), "{kind}: Retry-After {wait}");
        }
    }
}

#[test]
fn the_edge_answers_each_of_its_own_cases() {
    let template = template();
    let responses = gateway_responses(&template);
    let status_of = |kind: &str| {
        responses
            .iter()
            .find(|(k, _)| k == kind)
            .and_then(|(_, r)| r["StatusCode"].as_u64())
    };
    // An unknown path is "Missing Authentication Token" to API Gateway.
    for (kind, status) in [
        ("MISSING_AUTHENTICATION_TOKEN", 404),
        ("RESOURCE_NOT_FOUND", 404),
        ("THROTTLED", 429),
        ("WAF_FILTERED", 429),
        ("REQUEST_TOO_LARGE", 413),
        ("INTEGRATION_FAILURE", 502),
        ("INTEGRATION_TIMEOUT", 504),
        ("DEFAULT_4XX", 400),
        ("DEFAULT_5XX", 500),
    ] {
        assert_eq!(status_of(kind), Some(status), "{kind}");
    }
}

#[test]
fn every_method_on_the_connection_path_reaches_the_function() {
    let template = template();
    let paths = template["Resources"]["ConnectionsApi"]["Properties"]["DefinitionBody"]["paths"]
        .as_mapping()
        .expect("the API's one route is in its DefinitionBody");
    let routes: Vec<(&str, Vec<&str>)> = paths
        .iter()
        .map(|(path, methods)| {
            (
                path.as_str().unwrap(),
                methods
                    .as_mapping()
                    .unwrap()
                    .keys()
                    .map(|k| k.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    // The function answers anything but PATCH with 405 and `Allow: PATCH`.
    assert_eq!(
        routes,
        [(
            "/connections/{connection_id}",
            vec!["x-amazon-apigateway-any-method"]
        )]
    );
}
