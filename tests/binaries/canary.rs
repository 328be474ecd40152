//! The PreTraffic hook's real code (hooks/pre-traffic/index.py, real boto3) against the real
//! function binary and DynamoDB Local, with the canary `connections-admin create-canary`
//! makes (its command line: admin/tests/cli.rs): it must report Succeeded for today's build, and Failed for builds that answer
//! wrongly without crashing; it retries a denial and a failed report, and always reports
//! or fails loudly. AWS's own APIs are stood in for by hook_harness.py.

use serde_json::{Value, json};
use update_connection::schema::canary;

use crate::support::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The stack's tables with a canary in them, and the secret create-canary wrote.
struct Stack {
    f: Fixture,
    secret: String,
}

impl Stack {
    async fn new() -> Self {
        let f = Fixture::new().await;
        let canary =
            connections_admin::operations::create_canary(&f.client, &f.connections, &f.api_keys)
                .await
                .expect("create-canary on DynamoDB Local");
        // Rotation: a second run makes new credentials, and the first ones stop working.
        let rotated =
            connections_admin::operations::create_canary(&f.client, &f.connections, &f.api_keys)
                .await
                .unwrap();
        assert_ne!(rotated.connected_token, canary.connected_token);
        let secret = rotated.secret_json();
        let stale = f
            .send(with_header(
                with_header(
                    patch(canary::CONNECTED, r#"{"email":"old@example.com"}"#),
                    "x-api-key",
                    Some(&rotated.api_key),
                ),
                "authorization",
                Some(&format!("Bearer {}", canary.connected_token)),
            ))
            .await;
        stale.assert_problem(401, "invalid-token");
        Self { f, secret }
    }

    /// The hook run once against the binary given these tables.
    fn hook(&self, function_tables: (&str, &str), spec: Value) -> Value {
        let mut input = json!({
            "binary": env!("CARGO_BIN_EXE_update-connection"),
            "dynamodb": endpoint(),
            "connections": self.f.connections,
            "function_tables": {
                "CONNECTIONS_TABLE": function_tables.0,
                "API_KEYS_TABLE": function_tables.1,
            },
            "secret": self.secret,
        });
        for (k, v) in spec.as_object().unwrap() {
            input[k] = v.clone();
        }
        let result =
            crate::venv::run_json("tests/binaries/hook_harness.py", &[], &input.to_string());
        // Whatever happened, the hook's lines hold no credential.
        let logged = result["stdout"].as_str().unwrap();
        let secret: Value = serde_json::from_str(&self.secret).unwrap();
        for value in secret.as_object().unwrap().values() {
            assert!(
                !logged.contains(value.as_str().unwrap()),
                "the hook logged a credential"
            );
        }
        result
    }

    fn own_tables(&self) -> (&str, &str) {
        (&self.f.connections, &self.f.api_keys)
    }
}

fn reported(result: &Value) -> Vec<&str> {
    result["reported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn failed_checks(result: &Value) -> Vec<String> {
    result["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["passed"] == false)
        .map(|l| format!("{}: {}", l["check"], l["why"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_passes_todays_build_after_a_real_write_through_it() {
    let stack = Stack::new().await;
    let before = stack.f.item(canary::CONNECTED).await.unwrap();
    let gone_before = stack.f.item(canary::DISCONNECTED).await.unwrap();

    let result = stack.hook(stack.own_tables(), json!({}));
    assert_eq!(reported(&result), ["Succeeded"], "{result}");
    assert_eq!(result["raised"], Value::Null);
    assert_eq!(failed_checks(&result), Vec::<String>::new());
    let checks = result["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["message"] == "pre-traffic check")
        .count();
    assert_eq!(
        checks, 6,
        "the bookkeeping form, the canary write and the four refusals: {result}"
    );
    assert!(
        result["invoked"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.as_str().unwrap().ends_with(":update-connection:7")),
        "only the new version is invoked"
    );

    // The write went through the function into the stack's table: the email the hook
    // chose, one version up; the disconnected canary is untouched.
    let after = stack.f.item(canary::CONNECTED).await.unwrap();
    assert_eq!(n(&after, "version"), n(&before, "version") + 1);
    assert_ne!(s(&after, "email"), s(&before, "email"));
    assert!(s(&after, "email").starts_with("canary-"));
    assert_eq!(
        stack.f.item(canary::DISCONNECTED).await.unwrap(),
        gone_before
    );

    // Deployment after deployment: the canary is left ready for the next run.
    let again = stack.hook(stack.own_tables(), json!({}));
    assert_eq!(reported(&again), ["Succeeded"], "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_fails_a_build_that_answers_200_without_writing() {
    let stack = Stack::new().await;
    // A build that writes somewhere else: its answers look right (200, the body, the next
    // ETag), but the stack's table never changes.
    let elsewhere = Fixture::new().await;
    for id in [canary::CONNECTED, canary::DISCONNECTED] {
        elsewhere.put(stack.f.item(id).await.unwrap()).await;
    }
    let before = stack.f.item(canary::CONNECTED).await.unwrap();
    let result = stack.hook((&elsewhere.connections, &stack.f.api_keys), json!({}));
    assert_eq!(reported(&result), ["Failed"], "{result}");
    let failed = failed_checks(&result);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("stored version did not go up"),
        "{failed:?}"
    );
    assert_eq!(stack.f.item(canary::CONNECTED).await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_fails_a_build_that_refuses_every_key() {
    let stack = Stack::new().await;
    // The canary's key is not in this table: every authenticated request is a 401.
    let other_keys = Fixture::new().await;
    let result = stack.hook((&stack.f.connections, &other_keys.api_keys), json!({}));
    assert_eq!(reported(&result), ["Failed"], "{result}");
    let failed = failed_checks(&result);
    assert!(
        failed.len() == 1 && failed[0].contains("answered 401, expected 200"),
        "{failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_retries_a_denial_while_iam_catches_up() {
    let stack = Stack::new().await;
    let result = stack.hook(stack.own_tables(), json!({"deny_invokes": 3}));
    assert_eq!(reported(&result), ["Succeeded"], "{result}");
    assert_eq!(result["denied"], 3);
    assert_eq!(result["slept"], json!([1.0, 2.0, 4.0]), "{result}");

    // Denied for longer than its bound: it gives up, and reports Failed.
    let result = stack.hook(stack.own_tables(), json!({"deny_invokes": 1000}));
    assert_eq!(reported(&result), ["Failed"], "{result}");
    let slept: f64 = result["slept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_f64().unwrap())
        .sum();
    assert!(slept <= 90.0, "retried for {slept} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_always_reports_or_fails_loudly() {
    let stack = Stack::new().await;
    // CodeDeploy's API raises twice: the report is retried and lands once.
    let result = stack.hook(stack.own_tables(), json!({"report_failures": 2}));
    assert_eq!(reported(&result), ["Succeeded"], "{result}");
    assert_eq!(result["raised"], Value::Null);

    // It never stops raising: the hook raises too, so that Lambda retries it (CodeDeploy
    // invokes hooks asynchronously) rather than leaving the deployment waiting an hour.
    let result = stack.hook(stack.own_tables(), json!({"report_failures": -1}));
    assert!(reported(&result).is_empty());
    assert!(
        result["raised"]
            .as_str()
            .is_some_and(|e| e.contains("simulated failure")),
        "{result}"
    );

    // Its own code fails (no canary secret stored yet): Failed, reported.
    let result = stack.hook(stack.own_tables(), json!({"secret": null}));
    assert_eq!(reported(&result), ["Failed"], "{result}");
    let unset = stack.hook(stack.own_tables(), json!({"secret": "{}"}));
    assert_eq!(reported(&unset), ["Failed"], "{unset}");
    assert!(
        failed_checks(&unset)
            .iter()
            .any(|f| f.contains("connections-admin create-canary")),
        "{unset}"
    );
}

#[test]
fn the_template_and_the_admin_tool_name_the_same_canary() {
    let template = std::fs::read_to_string(format!("{ROOT}/template.yaml")).unwrap();
    for (name, id) in [
        ("CANARY_CONNECTED_ID", canary::CONNECTED),
        ("CANARY_DISCONNECTED_ID", canary::DISCONNECTED),
    ] {
        assert!(
            template.contains(&format!("{name}: {id}")),
            "template.yaml's PreTrafficHook names {name} {id}"
        );
        // The hook's role may read exactly these items.
        assert!(
            template.contains(&format!("                      - {id}")),
            "PreTrafficHookRole's LeadingKeys name {id}"
        );
    }
}

/// A compact writer beside a live release that reads only the legacy form is refused
/// before traffic; the legacy step before it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_refuses_a_compact_writer_beside_a_release_that_reads_only_the_legacy_form() {
    let stack = Stack::new().await;
    let before_compact = "Architecture=arm64 LogLevel=INFO RequireIfMatch=false DynamoDbEndpoint=";
    let result = stack.hook(
        stack.own_tables(),
        json!({"live_description": before_compact}),
    );
    assert_eq!(reported(&result), ["Failed"], "{result}");
    let failed = failed_checks(&result);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].contains("BookkeepingFormat=legacy first"),
        "{failed:?}"
    );

    let step_one = "Architecture=arm64 LogLevel=INFO RequireIfMatch=false \
                    BookkeepingFormat=legacy DynamoDbEndpoint=";
    let result = stack.hook(
        stack.own_tables(),
        json!({"live_description": before_compact, "new_description": step_one}),
    );
    assert_eq!(reported(&result), ["Succeeded"], "{result}");
}
