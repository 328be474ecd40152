//! The `connections-admin` binary against DynamoDB Local: as scripts/smoke uses it against a
//! deployed stack (a throwaway key and connection that the function accepts, then revoke,
//! delete-connection and delete-key leave nothing behind, and run again, find nothing and
//! still succeed), and the guards around its demo data, secrets and token expiry.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;
use connections_admin::create_tables;
use update_connection::auth::sha256_hex;
use update_connection::store::dynamodb_client_at;

#[path = "../../tests/support/mod.rs"]
mod support;

use crate::support::*;

/// Variables to set (`Some`) or remove (`None`).
type Env<'a> = Vec<(&'a str, Option<&'a str>)>;

/// Runs connections-admin on `tables` (connections, API keys) with DynamoDB Local as
/// `AWS_ENDPOINT_URL_DYNAMODB` unless `env` sets (`Some`) or removes (`None`) it, and
/// `stdin` as its input. No AWS setting of this machine reaches it: no profile, no config
/// file, no metadata service.
fn run(tables: (&str, &str), env: &[(&str, Option<&str>)], args: &[&str], stdin: &str) -> Output {
    let mut command = isolated();
    command.env("AWS_ENDPOINT_URL_DYNAMODB", endpoint());
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let mut child = command
        .args(["--connections-table", tables.0])
        .args(["--api-keys-table", tables.1])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run connections-admin");
    // The binary may exit before reading it; a broken pipe is not the test's failure.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("connections-admin output")
}

/// connections-admin with no AWS setting of this machine: no profile, no config file, no
/// metadata service, no endpoint; a region and placeholder credentials.
fn isolated() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_connections-admin"));
    for name in [
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "CONNECTIONS_TABLE",
        "API_KEYS_TABLE",
    ] {
        command.env_remove(name);
    }
    command
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret");
    command
}

/// Against DynamoDB Local on loopback, no credentials are needed: the README's
/// `AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 connections-admin create-tables` works
/// on a machine with no AWS settings at all.
#[tokio::test]
async fn a_loopback_endpoint_needs_no_credentials() {
    let n = TABLES.fetch_add(1, Ordering::SeqCst);
    let connections = format!("admin-nocreds-connections-{}-{n}", std::process::id());
    let api_keys = format!("admin-nocreds-api-keys-{}-{n}", std::process::id());
    let out = isolated()
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_REGION")
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint())
        .env("CONNECTIONS_TABLE", &connections)
        .env("API_KEYS_TABLE", &api_keys)
        .arg("create-tables")
        .stdin(Stdio::null())
        .output()
        .expect("run connections-admin");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(count(&connections).await, 0);
    assert_eq!(count(&api_keys).await, 0);
}

/// A refused connection (a closed loopback port) is said in plain words with the endpoint
/// tried, not as the SDK's "dispatch failure", whichever way the endpoint was given. Needs
/// no DynamoDB Local.
#[test]
fn a_refused_connection_is_said_in_plain_words_with_the_endpoint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    // The listener is gone: nothing listens there now.
    let url = format!("http://127.0.0.1:{port}");
    let show = ["show", "--id", ACTIVE];
    for (how, env, args) in [
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            Some(url.as_str()),
            vec!["create-tables"],
        ),
        (
            "--endpoint",
            None,
            vec!["--endpoint", url.as_str(), "create-tables"],
        ),
        (
            "--endpoint, show",
            None,
            [&["--endpoint", url.as_str()][..], &show].concat(),
        ),
    ] {
        let mut command = isolated();
        if let Some(url) = env {
            command.env("AWS_ENDPOINT_URL_DYNAMODB", url);
        }
        let out = command
            .args(["--connections-table", "c", "--api-keys-table", "k"])
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run connections-admin");
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{how}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!("error: cannot reach DynamoDB at {url}: connection refused"),
            "{how}: {stderr}"
        );
        assert!(
            stderr.contains("scripts/dynamodb-local") && !stderr.contains("dispatch failure"),
            "{how}: {stderr}"
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs connections-admin on the fixture's tables; it must succeed. Returns its stdout.
fn admin(f: &Fixture, args: &[&str]) -> String {
    admin_with_stdin(f, args, "")
}

fn admin_with_stdin(f: &Fixture, args: &[&str], stdin: &str) -> String {
    let out = run((&f.connections, &f.api_keys), &[], args, stdin);
    assert!(
        out.status.success(),
        "connections-admin {args:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs connections-admin on the fixture's tables; it must fail. Returns its stderr.
fn admin_fails(f: &Fixture, args: &[&str], stdin: &str) -> String {
    let out = run((&f.connections, &f.api_keys), &[], args, stdin);
    assert!(
        !out.status.success(),
        "connections-admin {args:?} succeeded: {}",
        text(&out.stdout)
    );
    text(&out.stderr)
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
    let Created { id, token, .. } = create_connection(
        &f,
        "smoke-client",
        "smoke-customer",
        &["--email", "smoke@example.org"],
    );

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
    let deleted = admin_with_stdin(&f, &["delete-key", "--secret-stdin"], &secret);
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

/// What `create-connection` is given is what the table holds, field by field: the function
/// answers with these values, and the mutation run of 2026-12-02 found that storing `""` or
/// another value for the customer, email or mobile passed every other test.
#[tokio::test]
async fn create_connection_stores_exactly_what_it_was_given() {
    let f = Fixture::new().await;
    let Created { id, token, .. } = create_connection(
        &f,
        "exact-client",
        "exact-customer-7",
        &["--email", "exact@example.org", "--mobile", "+14155550188"],
    );
    let item = f.item(&id).await.expect("the created connection is stored");
    for (name, want) in [
        ("client_id", "exact-client"),
        ("customer_id", "exact-customer-7"),
        ("retailer_id", RETAILER),
        ("email", "exact@example.org"),
        ("mobile", "+14155550188"),
        ("status", "active"),
        ("token_sha256", sha256_hex(&token).as_str()),
    ] {
        assert_eq!(s(&item, name), want, "{name}");
    }
    admin(&f, &["delete-connection", "--id", &id]);
}

/// The demo retailer every connection made here belongs to.
const RETAILER: &str = "01J7SC0NN73R6F5VVSP3ZKPDA3";

/// What `create-connection` printed, and the id and token read from it.
struct Created {
    out: String,
    id: String,
    token: String,
}

/// `create-connection` for `client` and `customer` at [`RETAILER`], its details' JSON on
/// standard input; `extra` holds other flags, and `--email`/`--mobile` pairs, which go into
/// the JSON (never the command line).
fn create_connection(f: &Fixture, client: &str, customer: &str, extra: &[&str]) -> Created {
    let mut args = vec![
        "create-connection",
        "--client",
        client,
        "--retailer",
        RETAILER,
        "--details-stdin",
    ];
    let mut details = serde_json::json!({ "customer_id": customer });
    let mut rest = extra.iter();
    while let Some(flag) = rest.next() {
        match *flag {
            "--email" | "--mobile" => {
                details[&flag[2..]] = serde_json::json!(rest.next().unwrap());
            }
            other => args.push(other),
        }
    }
    let out = admin_with_stdin(f, &args, &details.to_string());
    Created {
        id: field(&out, "connection_id:"),
        token: field(&out, "token (shown once, not stored):"),
        out,
    }
}

/// Personal data never goes on the command line, and a refused value is not echoed.
#[tokio::test]
async fn create_connection_takes_personal_data_only_on_stdin_or_a_file_and_never_echoes_it() {
    let f = Fixture::new().await;
    let base = ["create-connection", "--client", "c", "--retailer", RETAILER];
    // The old flags are gone: clap refuses them before reading anything.
    for flag in ["--email", "--mobile", "--customer"] {
        let mut args = base.to_vec();
        args.extend([flag, "someone@example.org", "--details-stdin"]);
        let err = admin_fails(&f, &args, r#"{"customer_id":"c"}"#);
        assert!(err.contains("unexpected argument"), "{flag}: {err}");
        assert!(!err.contains("someone@example.org"), "{flag} echoed: {err}");
    }
    let mut args = base.to_vec();
    args.push("--details-stdin");
    for (input, names) in [
        (
            r#"{"customer_id":"c","email":"secret-person@example"}"#,
            "email",
        ),
        (
            r#"{"customer_id":"c","mobile":"0799 secret 123"}"#,
            "mobile",
        ),
        (r#"{"customer_id":"c","mobile":4155550777}"#, "wrong type"),
        (
            r#"{"customer_id":"c","email":"a@b.co","phone":"+14155550123"}"#,
            "unknown",
        ),
        ("not json secret-person", "not valid JSON"),
    ] {
        let err = admin_fails(&f, &args, input);
        assert!(err.contains(names), "{input}: {err}");
        for secret in ["secret-person", "0799 secret", "4155550777"] {
            assert!(!err.contains(secret), "echoed {secret}: {err}");
        }
    }
    // From a file, too.
    let dir =
        std::env::temp_dir().join(format!("details-{}-{}", std::process::id(), f.connections));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("details.json");
    std::fs::write(
        &file,
        r#"{"customer_id":"file-customer","email":"file@example.org"}"#,
    )
    .unwrap();
    let mut args = base.to_vec();
    args.extend(["--details-file", file.to_str().unwrap()]);
    let out = admin_with_stdin(&f, &args, "");
    let id = field(&out, "connection_id:");
    let item = f.item(&id).await.unwrap();
    assert_eq!(s(&item, "customer_id"), "file-customer");
    assert_eq!(s(&item, "email"), "file@example.org");
    std::fs::remove_file(&file).unwrap();
}

/// A malformed seed file is refused without quoting what is in it.
#[tokio::test]
async fn a_malformed_seed_file_is_refused_without_quoting_its_values() {
    let f = Fixture::new().await;
    let dir = std::env::temp_dir().join(format!("seed-{}-{}", std::process::id(), f.connections));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        (
            "token.json",
            r#"{"api_keys":[],"connections":[{"connection_id":"01J51S0JYV6N7K1030CV1ZKSCA","client_id":"c","customer_id":"c","retailer_id":"r","status":"active","token":"t","token_scopes":[],"token_expires_at":"uc_tok_secret_value"}]}"#,
        ),
        (
            "mobile.json",
            r#"{"api_keys":[],"connections":[{"connection_id":"01J51S0JYV6N7K1030CV1ZKSCA","client_id":"c","customer_id":"c","retailer_id":"r","status":"active","mobile":4155550999,"token":"t","token_scopes":[]}]}"#,
        ),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let err = admin_fails(&f, &["seed-demo", "--file", file.to_str().unwrap()], "");
        assert!(err.contains("line 1"), "{name}: {err}");
        for secret in ["uc_tok_secret_value", "4155550999"] {
            assert!(!err.contains(secret), "{name} echoed {secret}: {err}");
        }
        std::fs::remove_file(&file).unwrap();
    }
}

static TABLES: AtomicUsize = AtomicUsize::new(0);

/// A fresh pair of empty tables (the fixture's come seeded): connections, API keys.
async fn empty_tables() -> (String, String) {
    let client = dynamodb_client_at(endpoint()).await;
    let n = TABLES.fetch_add(1, Ordering::SeqCst);
    let connections = format!("admin-connections-{}-{n}", std::process::id());
    let api_keys = format!("admin-api-keys-{}-{n}", std::process::id());
    create_tables(&client, &connections, &api_keys)
        .await
        .expect("tables created in DynamoDB Local");
    (connections, api_keys)
}

async fn count(table: &str) -> i32 {
    dynamodb_client_at(endpoint())
        .await
        .scan()
        .table_name(table)
        .consistent_read(true)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .expect("scan")
        .count
}

#[tokio::test]
async fn seed_demo_writes_the_public_demo_credentials_only_to_a_loopback_endpoint() {
    let (connections, api_keys) = empty_tables().await;
    let tables = (connections.as_str(), api_keys.as_str());
    let port = endpoint()
        .rsplit(':')
        .next()
        .expect("DynamoDB Local's port");
    // TEST-NET-1: refused before any call, so never contacted.
    let far = "http://192.0.2.1:8000";
    // Not loopback, yet it reaches DynamoDB Local (Linux connects 0.0.0.0 to this host):
    // tables still empty after it prove a refusal, not a connection that failed.
    let any = format!("http://0.0.0.0:{port}");
    let seed_file = root().join("demo/seed.json");
    let seed_file = seed_file.to_str().unwrap();
    let default = "the default AWS endpoint for region eu-west-1";
    let no_service_env = ("AWS_ENDPOINT_URL_DYNAMODB", None);
    let refused: [(Env, Vec<&str>, &str); 7] = [
        (vec![], vec!["--endpoint", far], far),
        (vec![("AWS_ENDPOINT_URL_DYNAMODB", Some(far))], vec![], far),
        (
            vec![no_service_env, ("AWS_ENDPOINT_URL", Some(far))],
            vec![],
            far,
        ),
        (vec![], vec!["--endpoint", &any], &any),
        (
            vec![("AWS_ENDPOINT_URL_DYNAMODB", Some(&any))],
            vec![],
            &any,
        ),
        (vec![], vec!["--endpoint", &any, "--file", seed_file], &any),
        (vec![no_service_env], vec![], default),
    ];
    for (env, flags, named) in refused {
        let args = [&["seed-demo"][..], &flags].concat();
        let out = run(tables, &env, &args, "");
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{env:?} {args:?} was not refused");
        for name in [named, &connections, &api_keys] {
            assert!(
                stderr.contains(name),
                "{env:?} {args:?}: {name} not named in {stderr}"
            );
        }
        assert!(
            stderr.contains("--write-public-demo-credentials"),
            "{stderr}"
        );
        assert_eq!(text(&out.stdout), "", "{env:?} {args:?}");
        assert_eq!(
            count(&connections).await,
            0,
            "{env:?} {args:?} wrote connections"
        );
        assert_eq!(count(&api_keys).await, 0, "{env:?} {args:?} wrote API keys");
    }

    let wrote = format!(
        "wrote {} API keys and {} connections",
        seed().api_keys.len(),
        seed().connections.len()
    );
    // Any address of 127.0.0.0/8 is this machine.
    let local = format!("http://127.0.0.2:{port}");
    for (env, flags) in [
        (vec![], vec!["--endpoint", local.as_str()]),
        (vec![], vec!["--endpoint", endpoint()]),
        (
            vec![
                ("AWS_ENDPOINT_URL_DYNAMODB", None),
                ("AWS_ENDPOINT_URL", Some(endpoint())),
            ],
            vec![],
        ),
        (vec![], vec![]),
        // Told so in words, it writes anywhere.
        (
            vec![("AWS_ENDPOINT_URL_DYNAMODB", Some(any.as_str()))],
            vec!["--write-public-demo-credentials"],
        ),
    ] {
        let (connections, api_keys) = empty_tables().await;
        let args = [&["seed-demo"][..], &flags].concat();
        let out = run((&connections, &api_keys), &env, &args, "");
        assert!(
            out.status.success(),
            "{env:?} {args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout).trim(), wrote);
        assert_eq!(count(&connections).await as usize, seed().connections.len());
        assert_eq!(count(&api_keys).await as usize, seed().api_keys.len());
    }
}

async fn key_status(f: &Fixture, digest: &str) -> Option<String> {
    key_item(f, digest).await.map(|i| s(&i, "status"))
}

#[tokio::test]
async fn revoke_and_delete_key_read_the_secret_from_stdin_or_a_file_never_an_argument() {
    let f = Fixture::new().await;
    let mut keys = Vec::new();
    for client in ["cli-a", "cli-b"] {
        let out = run(
            (&f.connections, &f.api_keys),
            &[],
            &["create-key", "--client", client],
            "",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let secret = field(&stdout, "API key (shown once, not stored):");
        assert_eq!(stdout.matches(&secret).count(), 1, "printed once: {stdout}");
        assert!(!stderr.contains(&secret));
        keys.push((secret, field(&stdout, "key_sha256:")));
    }
    let [(a, a_digest), (b, b_digest)] = [keys[0].clone(), keys[1].clone()];
    let active = Some("active".to_owned());

    // No flag takes a secret as its value: clap refuses them (exit 2) and echoes no secret.
    for command in ["revoke-key", "delete-key"] {
        let with_value = format!("--secret={a}");
        for args in [vec![command, "--secret", &a], vec![command, &with_value]] {
            let out = run((&f.connections, &f.api_keys), &[], &args, "");
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains("--secret"), "{stderr}");
            assert!(
                !stderr.contains(&a) && !text(&out.stdout).contains(&a),
                "{stderr}"
            );
        }
    }
    // One source only, and input that cannot be a key is refused without echoing it.
    let both = admin_fails(
        &f,
        &["revoke-key", "--secret-stdin", "--sha256", &a_digest],
        &a,
    );
    assert!(both.contains("cannot be used with"), "{both}");
    for input in [
        String::new(),
        "\n".into(),
        format!("{a}\n{b}\n"),
        format!("{a} {b}"),
    ] {
        let refused = admin_fails(&f, &["delete-key", "--secret-stdin"], &input);
        assert!(refused.contains("standard input"), "{input:?}: {refused}");
        assert!(!refused.contains(&a) && !refused.contains(&b), "{refused}");
    }
    assert_eq!(key_status(&f, &a_digest).await, active);
    assert_eq!(key_status(&f, &b_digest).await, active);

    // From standard input, with the newline that echo or a here-string adds.
    let revoked = admin_with_stdin(&f, &["revoke-key", "--secret-stdin"], &format!("{a}\n"));
    assert!(
        revoked.starts_with(&format!("revoked {a_digest} ")),
        "{revoked}"
    );
    assert!(!revoked.contains(&a));
    assert_eq!(key_status(&f, &a_digest).await, Some("revoked".to_owned()));
    assert_eq!(key_status(&f, &b_digest).await, active);

    // From a file only its owner can read.
    let file = std::env::temp_dir().join(format!("admin-cli-{}-secret", std::process::id()));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&file)
            .expect("secret file");
        writeln!(out, "{a}").expect("secret written");
    }
    let path = file.to_str().expect("a UTF-8 temp path");
    let deleted = admin(&f, &["delete-key", "--secret-file", path]);
    std::fs::remove_file(&file).expect("secret file removed");
    assert_eq!(deleted.trim(), format!("deleted key {a_digest}"));
    assert_eq!(key_status(&f, &a_digest).await, None);
    assert_eq!(key_status(&f, &b_digest).await, active);
    let missing = admin_fails(&f, &["delete-key", "--secret-file", path], "");
    assert!(missing.contains(path), "{missing}");

    let deleted = admin_with_stdin(&f, &["delete-key", "--secret-stdin"], &b);
    assert_eq!(deleted.trim(), format!("deleted key {b_digest}"));
    assert_eq!(key_status(&f, &b_digest).await, None);
}

#[tokio::test]
async fn rotate_token_keeps_the_expiry_unless_told_to_set_or_remove_it() {
    let f = Fixture::new().await;
    let Created {
        out: created,
        id,
        mut token,
    } = create_connection(
        &f,
        "client-demo",
        "rotate-customer",
        &["--expires-at", "1893456000"],
    );
    assert_eq!(
        created.matches(&token).count(),
        1,
        "printed once: {created}"
    );
    let expiry = |item: &Item| item.get("token_expires_at").cloned();
    let number = |v: &str| Some(AttributeValue::N(v.into()));
    assert_eq!(expiry(&f.item(&id).await.unwrap()), number("1893456000"));

    for (flags, said, stored) in [
        (vec![], "kept 1893456000", number("1893456000")),
        (
            vec!["--expires-at", "1900000000"],
            "set 1900000000",
            number("1900000000"),
        ),
        (vec![], "kept 1900000000", number("1900000000")),
        (
            vec!["--no-expiry"],
            "removed (the token never expires)",
            None,
        ),
        (vec![], "kept none (the token never expires)", None),
        (
            vec!["--expires-at", "1893456000"],
            "set 1893456000",
            number("1893456000"),
        ),
    ] {
        let before = f.item(&id).await.unwrap();
        let args = [&["rotate-token", "--id", &id][..], &flags].concat();
        let out = admin(&f, &args);
        let new = field(&out, "token (shown once, not stored):");
        assert_eq!(out.matches(&new).count(), 1, "printed once: {out}");
        assert_ne!(new, token, "{args:?}");
        assert_eq!(field(&out, "token_expires_at:"), said, "{args:?}");
        let after = f.item(&id).await.unwrap();
        assert_eq!(expiry(&after), stored, "{args:?}");
        assert_eq!(s(&after, "token_sha256"), sha256_hex(&new), "{args:?}");
        assert_eq!(n(&after, "version"), n(&before, "version") + 1, "{args:?}");
        // Nothing else moves: not the scopes, not the contact details, not the status.
        let rest = |item: &Item| {
            let mut item = item.clone();
            for name in ["token_sha256", "token_expires_at", "updated_at", "version"] {
                item.remove(name);
            }
            item
        };
        assert_eq!(rest(&after), rest(&before), "{args:?}");
        token = new;
    }

    let before = f.item(&id).await.unwrap();
    let both = [
        "rotate-token",
        "--id",
        &id,
        "--expires-at",
        "1",
        "--no-expiry",
    ];
    let refused = admin_fails(&f, &both, "");
    assert!(refused.contains("cannot be used with"), "{refused}");
    let unknown = admin_fails(&f, &["rotate-token", "--id", UNKNOWN], "");
    assert!(!unknown.contains("uc_tok_"), "{unknown}");
    assert_eq!(f.item(&id).await.unwrap(), before);
    assert!(f.item(UNKNOWN).await.is_none());
}

/// A proxy in the environment never sees the demo items: to a loopback endpoint the tool
/// writes directly (the SDK's default client would have sent them through the proxy).
#[tokio::test]
async fn seed_demo_to_loopback_ignores_http_proxies() {
    let (connections, api_keys) = empty_tables().await;
    // A proxy that would refuse every connection: a write through it fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://127.0.0.1:{}", dead.local_addr().unwrap().port());
    drop(dead);
    let env: Vec<(&str, Option<&str>)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, Some(proxy.as_str())))
    .chain([("NO_PROXY", None), ("no_proxy", None)])
    .collect();
    let out = run((&connections, &api_keys), &env, &["seed-demo"], "");
    assert!(
        out.status.success(),
        "seed-demo through {proxy}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(count(&api_keys).await as usize, seed().api_keys.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_canary_writes_its_secret_to_a_private_new_file_and_prints_none_of_it() {
    let f = Fixture::new().await;
    let dir = std::env::temp_dir().join(format!(
        "create-canary-{}-{}",
        std::process::id(),
        f.connections
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("canary.json");
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().unwrap();
    let out = run(
        (&f.connections, &f.api_keys),
        &[],
        &["create-canary", "--out", path],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let secret: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).expect("JSON");
    for name in ["api_key", "connected_token", "disconnected_token"] {
        let value = secret[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} in {secret}"));
        assert!(!printed.contains(value), "create-canary printed its {name}");
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the secret's file is the owner's alone"
        );
    }
    // The key works for the canary's own connection, as the hook will use it.
    let reply = f
        .send(with_header(
            with_header(
                patch(
                    update_connection::schema::canary::CONNECTED,
                    r#"{"email":"c@example.com"}"#,
                ),
                "x-api-key",
                secret["api_key"].as_str(),
            ),
            "authorization",
            Some(&format!(
                "Bearer {}",
                secret["connected_token"].as_str().unwrap()
            )),
        ))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // An existing file is refused, not overwritten, and nothing is created then.
    let before = std::fs::read_to_string(&file).unwrap();
    let again = run(
        (&f.connections, &f.api_keys),
        &[],
        &["create-canary", "--out", path],
        "",
    );
    assert!(!again.status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    std::fs::remove_file(&file).unwrap();
}

/// The canary's client is create-canary's alone, and a failed create-canary leaves no file.
#[tokio::test]
async fn the_canary_client_is_reserved_and_a_failed_create_canary_leaves_no_file() {
    let f = Fixture::new().await;
    let err = admin_fails(&f, &["create-key", "--client", "pre-traffic-canary"], "");
    assert!(err.contains("create-canary"), "{err}");
    let dir = std::env::temp_dir().join(format!(
        "canary-fail-{}-{}",
        std::process::id(),
        f.connections
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("canary.json");
    let _ = std::fs::remove_file(&file);
    let out = run(
        ("no-such-connections-table", &f.api_keys),
        &[],
        &["create-canary", "--out", file.to_str().unwrap()],
        "",
    );
    assert!(!out.status.success());
    assert!(!file.exists(), "an empty secret file was left behind");
}

/// `dump` prints every stored connection, one JSON object a line, as the table holds it:
/// strings as strings, numbers as numbers, string sets as arrays; every attribute but the
/// token's digest. The mutation run of 2026-12-06: `dump` printing nothing, quoting a type
/// as Rust's debug text, or printing the digest passed every test (nothing ran `dump`).
#[tokio::test]
async fn dump_prints_every_connection_as_stored_without_its_token_digest() {
    let f = Fixture::new().await;
    let mut expected: Vec<serde_json::Value> = Vec::new();
    for item in f.snapshot().await {
        assert!(item.contains_key("token_sha256"), "{item:?}");
        let mut object = serde_json::Map::new();
        for (name, value) in item {
            let value = match value {
                _ if name == "token_sha256" => continue,
                AttributeValue::S(s) => serde_json::json!(s),
                AttributeValue::N(n) => serde_json::json!(n.parse::<u64>().unwrap()),
                AttributeValue::Ss(mut ss) => {
                    ss.sort();
                    serde_json::json!(ss)
                }
                other => panic!("the demo data holds {name}: {other:?}"),
            };
            object.insert(name, value);
        }
        expected.push(object.into());
    }
    let kinds = |objects: &[serde_json::Value]| {
        let all: Vec<&serde_json::Value> = objects
            .iter()
            .flat_map(|o| o.as_object().unwrap().values())
            .collect();
        (
            all.iter().any(|v| v.is_string()),
            all.iter().any(|v| v.is_u64()),
            all.iter().any(|v| v.is_array()),
        )
    };
    assert_eq!(
        kinds(&expected),
        (true, true, true),
        "the demo data holds every kind dump prints"
    );

    let out = admin(&f, &["dump"]);
    let mut dumped: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for object in &mut dumped {
        for value in object.as_object_mut().unwrap().values_mut() {
            if let Some(array) = value.as_array_mut() {
                array.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
    let id = |o: &serde_json::Value| o["connection_id"].as_str().map(str::to_owned);
    dumped.sort_by_key(id);
    expected.sort_by_key(id);
    assert_eq!(dumped, expected, "{out}");
}

/// `create-connection --scopes` stores the scopes it was given, each trimmed; without it,
/// `connections:write`. The mutation run of 2026-12-06: keeping only the empty entries
/// (`filter(|s| s.is_empty())`), which stored `connections:write` whatever was asked,
/// passed every test.
#[tokio::test]
async fn create_connection_stores_the_scopes_it_was_given() {
    let f = Fixture::new().await;
    let scopes = |id: &str, item: &Option<Item>| {
        let mut scopes = item
            .as_ref()
            .and_then(|i| i.get("token_scopes"))
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_else(|| panic!("{id}: no string set token_scopes in {item:?}"));
        scopes.sort();
        scopes
    };
    for (extra, want) in [
        (
            &["--scopes", "connections:read, connections:write"][..],
            &["connections:read", "connections:write"][..],
        ),
        (
            &["--scopes", "connections:read"][..],
            &["connections:read"][..],
        ),
        (&[][..], &["connections:write"][..]),
    ] {
        let Created { id, .. } = create_connection(&f, "scoped-client", "scoped-customer", extra);
        assert_eq!(scopes(&id, &f.item(&id).await), want, "{extra:?}");
        admin(&f, &["delete-connection", "--id", &id]);
    }
}
