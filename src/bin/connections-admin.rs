//! connections-admin: tables, API keys, connection tokens and demo data, against any
//! DynamoDB endpoint. Secrets are printed once and stored only as SHA-256 digests.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use update_connection::admin::{
    ApiKeySeed, ConnectionSeed, Seed, create_tables, new_secret, new_ulid, put_api_key,
    put_connection,
};
use update_connection::auth::sha256_hex;
use update_connection::clock;
use update_connection::domain::{ConnectionId, CustomerId, Email, Mobile};

const USAGE: &str = "\
connections-admin [--endpoint URL] [--connections-table NAME] [--api-keys-table NAME] COMMAND

Tables default to $CONNECTIONS_TABLE and $API_KEYS_TABLE; the endpoint to the SDK's own
settings ($AWS_ENDPOINT_URL_DYNAMODB, region, credentials, profile).

Commands:
  create-tables                  create both tables as template.yaml defines them
  seed-demo [--file PATH]        write demo keys and connections (default: the built-in demo/seed.json)
  create-key --client ID         make an API key: prints the secret once, stores its SHA-256
  revoke-key --secret S | --sha256 HEX
  delete-key --secret S | --sha256 HEX
                                 remove an API key's item (revoke it first where it was in use)
  create-connection --client ID --customer ID --retailer ULID
                    [--scopes a,b] [--expires-at EPOCH] [--email E] [--mobile M]
                                 make an active connection: prints its id and token once
  rotate-token --id ULID [--expires-at EPOCH]
                                 replace a connection's token: prints the new one once
  delete-connection --id ULID    remove a connection's item (throwaway test data)
  show --id ULID                 print a stored connection (its token only as a digest)
  dump                           print every connection, one JSON object a line (no token digests)";

struct Args {
    flags: HashMap<String, String>,
    command: String,
}

fn parse_args() -> Result<Args, String> {
    let mut flags = HashMap::new();
    let mut command = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if let Some(name) = arg.strip_prefix("--") {
            if name == "help" {
                return Err(String::new());
            }
            let value = args.next().ok_or(format!("--{name} needs a value"))?;
            flags.insert(name.to_owned(), value);
        } else if command.is_none() {
            command = Some(arg);
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        }
    }
    Ok(Args {
        flags,
        command: command.ok_or("no command given")?,
    })
}

impl Args {
    fn get(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, BoxError> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn table(&self, flag: &str, env: &str) -> Result<String, BoxError> {
        self.get(flag)
            .map(str::to_owned)
            .or_else(|| std::env::var(env).ok())
            .ok_or_else(|| format!("--{flag} or ${env} is required").into())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("error: {problem}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&*e));
            ExitCode::FAILURE
        }
    }
}

fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

async fn client(args: &Args) -> Client {
    match args.get("endpoint") {
        Some(endpoint) => update_connection::store::dynamodb_client_at(endpoint).await,
        None => Client::new(&aws_config::load_defaults(BehaviorVersion::latest()).await),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The SHA-256 of an API key, from `--secret` or `--sha256` (exactly one).
fn key_digest(args: &Args) -> Result<String, BoxError> {
    match (args.get("secret"), args.get("sha256")) {
        (Some(secret), None) => Ok(sha256_hex(secret)),
        (None, Some(digest)) => Ok(digest.to_ascii_lowercase()),
        _ => Err("give exactly one of --secret or --sha256".into()),
    }
}

async fn run(args: &Args) -> Result<(), BoxError> {
    let client = client(args).await;
    let connections = || args.table("connections-table", "CONNECTIONS_TABLE");
    let api_keys = || args.table("api-keys-table", "API_KEYS_TABLE");
    match args.command.as_str() {
        "create-tables" => {
            create_tables(&client, &connections()?, &api_keys()?).await?;
            println!("created {} and {}", connections()?, api_keys()?);
        }
        "seed-demo" => {
            let seed = match args.get("file") {
                Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
                None => Seed::demo()?,
            };
            seed.write(&client, &connections()?, &api_keys()?).await?;
            println!(
                "wrote {} API keys and {} connections",
                seed.api_keys.len(),
                seed.connections.len()
            );
        }
        "create-key" => {
            let key = ApiKeySeed {
                secret: new_secret("uc_key_")?,
                client_id: args.required("client")?.to_owned(),
                status: "active".into(),
            };
            put_api_key(&client, &api_keys()?, &key).await?;
            println!("client_id:  {}", key.client_id);
            println!("key_sha256: {}", sha256_hex(&key.secret));
            println!("API key (shown once, not stored): {}", key.secret);
        }
        "revoke-key" => {
            let digest = key_digest(args)?;
            client
                .update_item()
                .table_name(api_keys()?)
                .key("key_sha256", AttributeValue::S(digest.clone()))
                .update_expression("SET #status = :revoked")
                .condition_expression("attribute_exists(key_sha256)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":revoked", AttributeValue::S("revoked".into()))
                .send()
                .await?;
            println!("revoked {digest} (instances may accept it for up to the key cache TTL)");
        }
        "delete-key" => {
            let digest = key_digest(args)?;
            let old = client
                .delete_item()
                .table_name(api_keys()?)
                .key("key_sha256", AttributeValue::S(digest.clone()))
                .return_values(ReturnValue::AllOld)
                .send()
                .await?;
            match old.attributes {
                Some(_) => println!("deleted key {digest}"),
                None => println!("no key {digest} (nothing to delete)"),
            }
        }
        "delete-connection" => {
            let id = ConnectionId::parse(args.required("id")?).ok_or("--id must be a ULID")?;
            let old = client
                .delete_item()
                .table_name(connections()?)
                .key("connection_id", AttributeValue::S(id.to_string()))
                .return_values(ReturnValue::AllOld)
                .send()
                .await?;
            match old.attributes {
                Some(_) => println!("deleted connection {id}"),
                None => println!("no connection {id} (nothing to delete)"),
            }
        }
        "create-connection" => {
            let customer = CustomerId::parse(args.required("customer")?)
                .map_err(|m| format!("--customer {m}"))?;
            let retailer = ConnectionId::parse(args.required("retailer")?)
                .ok_or("--retailer must be a ULID")?;
            let connection = ConnectionSeed {
                connection_id: new_ulid(now_ms())?,
                client_id: args.required("client")?.to_owned(),
                customer_id: customer.as_str().to_owned(),
                retailer_id: retailer.as_str().to_owned(),
                status: "active".into(),
                email: args
                    .get("email")
                    .map(|e| Email::parse(e).map(|e| e.as_str().to_owned()))
                    .transpose()
                    .map_err(|m| format!("--email {m}"))?,
                mobile: args
                    .get("mobile")
                    .map(|m| Mobile::parse(m).map(|m| m.as_str().to_owned()))
                    .transpose()
                    .map_err(|m| format!("--mobile {m}"))?,
                token: new_secret("uc_tok_")?,
                token_scopes: args
                    .get("scopes")
                    .unwrap_or("connections:write")
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
                token_expires_at: args.get("expires-at").map(str::parse).transpose()?,
            };
            put_connection(&client, &connections()?, &connection).await?;
            println!("connection_id: {}", connection.connection_id);
            println!("token (shown once, not stored): {}", connection.token);
        }
        "rotate-token" => {
            let id = ConnectionId::parse(args.required("id")?).ok_or("--id must be a ULID")?;
            let token = new_secret("uc_tok_")?;
            let now = clock::now();
            let mut update = client
                .update_item()
                .table_name(connections()?)
                .key("connection_id", AttributeValue::S(id.to_string()))
                .condition_expression("attribute_exists(connection_id)")
                .expression_attribute_values(":h", AttributeValue::S(sha256_hex(&token)))
                .expression_attribute_values(":now", AttributeValue::S(now.rfc3339))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":zero", AttributeValue::N("0".into()));
            update = match args.get("expires-at") {
                Some(at) => update
                    .update_expression(
                        "SET token_sha256 = :h, updated_at = :now, version = if_not_exists(version, :zero) + :one, token_expires_at = :exp",
                    )
                    .expression_attribute_values(":exp", AttributeValue::N(at.parse::<u64>()?.to_string())),
                None => update.update_expression(
                    "SET token_sha256 = :h, updated_at = :now, version = if_not_exists(version, :zero) + :one REMOVE token_expires_at",
                ),
            };
            update.send().await?;
            println!("connection_id: {id}");
            println!("token (shown once, not stored): {token}");
        }
        "show" => {
            let id = ConnectionId::parse(args.required("id")?).ok_or("--id must be a ULID")?;
            let item = client
                .get_item()
                .table_name(connections()?)
                .key("connection_id", AttributeValue::S(id.to_string()))
                .consistent_read(true)
                .send()
                .await?
                .item
                .ok_or_else(|| format!("no connection {id}"))?;
            let mut names: Vec<&String> = item.keys().collect();
            names.sort();
            for name in names {
                let value = match &item[name] {
                    AttributeValue::S(s) => s.clone(),
                    AttributeValue::N(n) => n.clone(),
                    AttributeValue::Ss(ss) => ss.join(","),
                    other => format!("{other:?}"),
                };
                println!("{name:<18} {value}");
            }
        }
        "dump" => {
            let mut pages = client
                .scan()
                .table_name(connections()?)
                .consistent_read(true)
                .into_paginator()
                .items()
                .send();
            while let Some(item) = pages.next().await {
                let item = item?;
                let mut out = serde_json::Map::new();
                for (name, value) in &item {
                    let value = match value {
                        _ if name == "token_sha256" => continue,
                        AttributeValue::S(s) => serde_json::Value::from(s.clone()),
                        AttributeValue::N(n) => n
                            .parse::<u64>()
                            .map(serde_json::Value::from)
                            .unwrap_or_else(|_| serde_json::Value::from(n.clone())),
                        AttributeValue::Ss(ss) => serde_json::Value::from(ss.clone()),
                        other => serde_json::Value::from(format!("{other:?}")),
                    };
                    out.insert(name.clone(), value);
                }
                println!("{}", serde_json::Value::Object(out));
            }
        }
        other => return Err(format!("unknown command {other:?}; see --help").into()),
    }
    Ok(())
}
