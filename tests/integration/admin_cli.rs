//! The `connections-admin` binary as scripts/smoke uses it against a deployed stack: a
//! throwaway key and connection that the function accepts, then revoke, delete-connection
//! and delete-key leave nothing behind (and run again, find nothing and still succeed).

use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::support::*;

fn admin(f: &Fixture, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_connections-admin"))
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(["--connections-table", &f.connections])
        .args(["--api-keys-table", &f.api_keys])
        .args(args)
        .output()
        .expect("run connections-admin");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "connections-admin {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The value after `label` on the line that starts with it.
fn field(output: &str, label: &str) -> String {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label:?} in {output}"))
        .trim()
        .to_owned()
}

async fn key_item(f: &Fixture, digest: &str) -> Option<Item> {
    f.client
        .get_item()
        .table_name(&f.api_keys)
        .key("key_sha256", AttributeValue::S(digest.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get_item")
        .item
}

#[tokio::test]
async fn a_throwaway_key_and_connection_work_and_then_leave_nothing_behind() {
    let f = Fixture::new().await;
    let before = f.snapshot().await;

    let key_out = admin(&f, &["create-key", "--client", "smoke-client"]);
    let secret = field(&key_out, "API key (shown once, not stored):");
    let digest = field(&key_out, "key_sha256:");
    let conn_out = admin(
        &f,
        &[
            "create-connection",
            "--client",
            "smoke-client",
            "--customer",
            "smoke-customer",
            "--retailer",
            "01J7SC0NN73R6F5VVSP3ZKPDA3",
            "--email",
            "smoke@example.org",
        ],
    );
    let id = field(&conn_out, "connection_id:");
    let token = field(&conn_out, "token (shown once, not stored):");

    let event = rest(
        "PATCH",
        &id,
        &[
            ("x-api-key", &secret),
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        Some(r#"{"status":"disconnected"}"#),
    );
    let reply = f.send(event).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    admin(&f, &["revoke-key", "--sha256", &digest]);
    assert_eq!(
        key_item(&f, &digest).await.map(|i| s(&i, "status")),
        Some("revoked".to_owned())
    );

    let deleted = admin(&f, &["delete-connection", "--id", &id]);
    assert_eq!(deleted.trim(), format!("deleted connection {id}"));
    let deleted = admin(&f, &["delete-key", "--secret", &secret]);
    assert_eq!(deleted.trim(), format!("deleted key {digest}"));
    assert!(f.item(&id).await.is_none());
    assert!(key_item(&f, &digest).await.is_none());
    assert_eq!(f.snapshot().await, before, "the demo data is untouched");

    // Cleanup that runs twice (a trap after a partial run) still succeeds.
    let again = admin(&f, &["delete-connection", "--id", &id]);
    assert!(again.contains("nothing to delete"), "{again}");
    let again = admin(&f, &["delete-key", "--sha256", &digest]);
    assert!(again.contains("nothing to delete"), "{again}");
}
