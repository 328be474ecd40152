//! connections-admin: tables, API keys, connection tokens and demo data, against any
//! DynamoDB endpoint. It parses arguments and prints; `connections_admin` (its library) does the
//! work. Secrets are printed once and stored only as SHA-256 digests; the public demo ones
//! go only to a loopback endpoint unless the operator says otherwise.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::error::BoxError;
use clap::{Args, Parser, Subcommand};
use connections_admin::operations::{self, Expiry, NewConnection};
use connections_admin::{
    Endpoint, Seed, api_key_from, create_tables, dynamodb_endpoint, unreachable_reason,
};
use update_connection::auth::sha256_hex;
use update_connection::domain::{ConnectionId, CustomerId, Email, Mobile};

/// Tables default to $CONNECTIONS_TABLE and $API_KEYS_TABLE; the endpoint to the SDK's own
/// settings ($AWS_ENDPOINT_URL_DYNAMODB, region, credentials, profile). On a loopback
/// endpoint (DynamoDB Local) no credentials or region are needed.
#[derive(Parser)]
#[command(name = "connections-admin", version)]
struct Cli {
    /// A DynamoDB endpoint, such as DynamoDB Local's http://127.0.0.1:8000.
    #[arg(long, global = true)]
    endpoint: Option<String>,
    /// The connections table's name.
    #[arg(long, global = true, env = "CONNECTIONS_TABLE")]
    connections_table: Option<String>,
    /// The API keys table's name.
    #[arg(long, global = true, env = "API_KEYS_TABLE")]
    api_keys_table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create both tables as template.yaml defines them.
    CreateTables,
    /// Write demo keys and connections (default: the built-in demo/seed.json). Their
    /// secrets are public, so only to a loopback endpoint unless told otherwise.
    SeedDemo {
        /// A seed file in demo/seed.json's format, instead of the built-in one.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Write them even where the endpoint is not a loopback address (127.0.0.0/8, ::1).
        #[arg(long)]
        write_public_demo_credentials: bool,
    },
    /// Make an API key: prints the secret once, stores its SHA-256.
    CreateKey {
        /// The client id the key authenticates as.
        #[arg(long)]
        client: String,
    },
    /// Make the pre-traffic canary's API key and (re)write its two connections with new
    /// tokens; the credentials go to a new file (mode 0600) for the stack's CanarySecret.
    CreateCanary {
        /// The file to create for the secret's JSON (never printed: it holds the key).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
    /// Mark an API key revoked.
    RevokeKey(KeyRef),
    /// Remove an API key's item (revoke it first where it was in use).
    DeleteKey(KeyRef),
    /// Make an active connection: prints its id and token once. The customer's details
    /// (personal data) come as JSON on standard input or in a file, never as arguments,
    /// which the process list, shell history and CI logs would keep:
    /// {"customer_id": "...", "email": "...", "mobile": "+14155550123"} (email, mobile
    /// optional).
    CreateConnection {
        /// The client id that owns the connection.
        #[arg(long)]
        client: String,
        /// The retailer's id (a ULID).
        #[arg(long, value_parser = ulid)]
        retailer: ConnectionId,
        /// Comma-separated; default connections:write.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// When the token expires, in epoch seconds (default: never).
        #[arg(long, value_name = "EPOCH")]
        expires_at: Option<u64>,
        #[command(flatten)]
        details: DetailsSource,
    },
    /// Replace a connection's token: prints the new one once. Its expiry stays as it was
    /// unless --expires-at or --no-expiry says otherwise.
    RotateToken {
        /// The connection's id (a ULID).
        #[arg(long, value_parser = ulid)]
        id: ConnectionId,
        /// A new expiry for the token, in epoch seconds.
        #[arg(long, value_name = "EPOCH", conflicts_with = "no_expiry")]
        expires_at: Option<u64>,
        /// Remove the expiry: the new token never expires.
        #[arg(long)]
        no_expiry: bool,
    },
    /// Remove a connection's item (throwaway test data).
    DeleteConnection {
        /// The connection's id (a ULID).
        #[arg(long, value_parser = ulid)]
        id: ConnectionId,
    },
    /// Print a stored connection (its token only as a digest).
    Show {
        /// The connection's id (a ULID).
        #[arg(long, value_parser = ulid)]
        id: ConnectionId,
        /// Only what a caller sees in a PATCH response (connection_id, retailer_id and the
        /// members, null when absent), then version: no tokens, timestamps or retry guards.
        #[arg(long)]
        caller_view: bool,
    },
    /// Print every connection, one JSON object a line (no token digests).
    Dump,
}

/// An API key, by its secret or by its digest. The secret never comes as an argument:
/// arguments show in the process list and shell history.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct KeyRef {
    /// Read the key's secret from standard input (one line).
    #[arg(long)]
    secret_stdin: bool,
    /// Read the key's secret from this file (one line).
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
    /// The key's SHA-256 digest in hex, as create-key printed it.
    #[arg(long, value_name = "DIGEST")]
    sha256: Option<String>,
}

impl KeyRef {
    fn digest(&self) -> Result<String, BoxError> {
        if let Some(digest) = &self.sha256 {
            return Ok(digest.to_ascii_lowercase());
        }
        let (input, source) = file_or_stdin("--secret-file", self.secret_file.as_deref())?;
        let secret = api_key_from(&input).map_err(|e| format!("{source}: {e}"))?;
        Ok(sha256_hex(secret))
    }
}

/// What secrets and personal data come in by: the file `flag` names, else standard input;
/// with the source's name for errors.
fn file_or_stdin(flag: &str, path: Option<&std::path::Path>) -> Result<(String, String), BoxError> {
    match path {
        Some(path) => Ok((
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))?,
            format!("{flag} {}", path.display()),
        )),
        None => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok((input, "standard input".to_owned()))
        }
    }
}

/// A new file only the owner can read; an existing file is refused, not overwritten.
fn new_private_file(path: &std::path::Path) -> Result<std::fs::File, BoxError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()).into())
}

/// Where a new connection's customer details come from: one of the two is required.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct DetailsSource {
    /// Read the details' JSON from standard input.
    #[arg(long)]
    details_stdin: bool,
    /// Read the details' JSON from this file.
    #[arg(long, value_name = "PATH")]
    details_file: Option<PathBuf>,
}

/// A new connection's customer details, each checked as the function checks it.
struct Details {
    customer_id: CustomerId,
    email: Option<Email>,
    mobile: Option<Mobile>,
}

impl DetailsSource {
    fn read(&self) -> Result<Details, BoxError> {
        let (input, source) = file_or_stdin("--details-file", self.details_file.as_deref())?;
        Ok(parse_details(&input).map_err(|e| format!("{source}: {e}"))?)
    }
}

/// The details' JSON; an error names the field and the rule, never the value.
fn parse_details(input: &str) -> Result<Details, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        customer_id: String,
        email: Option<String>,
        mobile: Option<String>,
    }
    let raw: Raw = serde_json::from_str(input).map_err(|e| redacted(&e))?;
    let field = |name: &str, rule: &str| format!("{name} {rule}");
    Ok(Details {
        customer_id: CustomerId::parse(&raw.customer_id).map_err(|r| field("customer_id", r))?,
        email: raw
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|r| field("email", r))?,
        mobile: raw
            .mobile
            .as_deref()
            .map(Mobile::parse)
            .transpose()
            .map_err(|r| field("mobile", r))?,
    })
}

/// A JSON error without serde's quotation of the input (which may be personal data or a
/// secret): what kind of error, and where.
fn redacted(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Data => "a member is missing, unknown or of the wrong type",
        Category::Syntax => "not valid JSON",
        Category::Eof => "the JSON ends early",
        Category::Io => "cannot be read",
    };
    format!(
        "{what} (line {}, column {}; values are not shown)",
        e.line(),
        e.column()
    )
}

fn ulid(v: &str) -> Result<ConnectionId, String> {
    ConnectionId::parse(v).ok_or_else(|| "must be a ULID".to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (client, endpoint) = connect(cli.endpoint.as_deref()).await;
    match run(cli, &client, &endpoint).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match unreachable_reason(&*e) {
                Some(reason) => {
                    eprintln!("error: cannot reach DynamoDB at {endpoint}: {reason}");
                    if endpoint.is_loopback() {
                        eprintln!(
                            "hint: is DynamoDB Local running there? scripts/dynamodb-local PORT \
                             starts it (scripts/run also makes the tables and the demo data)"
                        );
                    }
                }
                None => eprintln!("error: {}", describe(&*e)),
            }
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
    without_service_messages(&text)
}

/// DynamoDB's error messages can quote what was sent ("Input collection [a@b.c, …]
/// contains duplicates"): the code and request id stay, the message does not.
fn without_service_messages(text: &str) -> String {
    const START: &str = "message: \"";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(START) {
        out.push_str(&rest[..at]);
        out.push_str("message: <not shown: it may quote the values sent>");
        let after = &rest[at + START.len()..];
        // The message ends at the first unescaped quote.
        let mut end = after.len();
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = i + 1;
                    break;
                }
                (false, _) => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The client, and the endpoint it calls.
async fn connect(endpoint: Option<&str>) -> (Client, Endpoint) {
    if let Some(url) = endpoint {
        let client = update_connection::store::dynamodb_client_at(url).await;
        let region = client.config().region().map(ToString::to_string);
        let url = Some(url.to_owned());
        return (client, Endpoint { url, region });
    }
    let sdk = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let url = dynamodb_endpoint(&sdk);
    // Set explicitly, so that the endpoint checked is the endpoint called.
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    config.set_endpoint_url(url.clone());
    let region = sdk.region().map(ToString::to_string);
    let mut endpoint = Endpoint { url, region };
    // To this machine, the project's own HTTP client: the SDK's default one follows
    // HTTP(S)_PROXY, which would carry the public demo items to the proxy. DynamoDB Local
    // checks no signature, so its placeholder credentials do.
    if let (true, Some(url)) = (endpoint.is_loopback(), endpoint.url.clone()) {
        let client = update_connection::store::dynamodb_client_at(&url).await;
        if endpoint.region.is_none() {
            endpoint.region = client.config().region().map(ToString::to_string);
        }
        return (client, endpoint);
    }
    if endpoint.is_loopback() {
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            config.set_credentials_provider(Some(SharedCredentialsProvider::new(
                Credentials::new("local", "local", None, None, "placeholder"),
            )));
        }
        if endpoint.region.is_none() {
            config.set_region(Some(Region::from_static("us-east-1")));
            endpoint.region = Some("us-east-1".to_owned());
        }
    }
    (Client::from_conf(config.build()), endpoint)
}

async fn run(cli: Cli, client: &Client, endpoint: &Endpoint) -> Result<(), BoxError> {
    let connections = || {
        cli.connections_table
            .clone()
            .ok_or("--connections-table or $CONNECTIONS_TABLE is required")
    };
    let api_keys = || {
        cli.api_keys_table
            .clone()
            .ok_or("--api-keys-table or $API_KEYS_TABLE is required")
    };
    match cli.command {
        Command::CreateTables => {
            create_tables(client, &connections()?, &api_keys()?).await?;
            println!("created {} and {}", connections()?, api_keys()?);
        }
        Command::SeedDemo {
            file,
            write_public_demo_credentials,
        } => {
            let (connections, api_keys) = (connections()?, api_keys()?);
            if !write_public_demo_credentials && !endpoint.is_loopback() {
                return Err(format!(
                    "seed-demo writes API keys and tokens whose secrets are public, so only to a \
                     loopback endpoint (127.0.0.0/8, ::1; no names); refused to write tables \
                     {connections} and {api_keys} at {endpoint}. To write them there anyway, \
                     pass --write-public-demo-credentials"
                )
                .into());
            }
            let seed = match file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("cannot read --file {}: {e}", path.display()))?;
                    serde_json::from_str(&text)
                        .map_err(|e| format!("--file {}: {}", path.display(), redacted(&e)))?
                }
                None => Seed::demo()?,
            };
            seed.write(client, &connections, &api_keys).await?;
            println!(
                "wrote {} API keys and {} connections",
                seed.api_keys.len(),
                seed.connections.len()
            );
        }
        Command::CreateKey { client: owner } => {
            if owner == update_connection::schema::canary::CLIENT_ID {
                return Err(format!(
                    "{owner} is the pre-traffic canary's client: its key comes from create-canary, \
                     and it owns nothing but the two canary connections"
                )
                .into());
            }
            let key = operations::create_key(client, &api_keys()?, &owner).await?;
            println!("client_id:  {}", key.client_id);
            println!("key_sha256: {}", sha256_hex(&key.secret));
            println!("API key (shown once, not stored): {}", key.secret);
        }
        Command::CreateCanary { out } => {
            let mut file = new_private_file(&out)?;
            let made = match (connections(), api_keys()) {
                (Ok(c), Ok(k)) => operations::create_canary(client, &c, &k).await,
                (Err(e), _) | (_, Err(e)) => Err(e.into()),
            };
            // On failure nothing was written to the file: an empty one would block the next run.
            let canary = made.inspect_err(|_| {
                let _ = std::fs::remove_file(&out);
            })?;
            std::io::Write::write_all(&mut file, canary.secret_json().as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!("key_sha256: {}", sha256_hex(&canary.api_key));
            println!(
                "wrote the canary's credentials to {0}: store them with\n  aws \
                 secretsmanager put-secret-value --secret-id <the stack's CanarySecret \
                 output> --secret-string file://{0}\nthen delete the file, and revoke the \
                 previous canary key (revoke-key --sha256 <its key_sha256>)",
                out.display()
            );
        }
        Command::RevokeKey(key) => {
            let digest = key.digest()?;
            operations::revoke_key(client, &api_keys()?, &digest).await?;
            println!("revoked {digest} (instances may accept it for up to the key cache TTL)");
        }
        Command::DeleteKey(key) => {
            let digest = key.digest()?;
            if operations::delete_key(client, &api_keys()?, &digest).await? {
                println!("deleted key {digest}");
            } else {
                println!("no key {digest} (nothing to delete)");
            }
        }
        Command::CreateConnection {
            client: owner,
            retailer,
            scopes,
            expires_at,
            details,
        } => {
            let details = details.read()?;
            let new = NewConnection {
                client_id: owner,
                customer_id: details.customer_id,
                retailer_id: retailer,
                email: details.email,
                mobile: details.mobile,
                scopes: scopes
                    .into_iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect(),
                token_expires_at: expires_at,
            };
            let connection = operations::create_connection(client, &connections()?, new).await?;
            println!("connection_id: {}", connection.connection_id);
            println!("token (shown once, not stored): {}", connection.token);
        }
        Command::RotateToken {
            id,
            expires_at,
            no_expiry,
        } => {
            let expiry = match (expires_at, no_expiry) {
                (Some(at), _) => Expiry::Set(at),
                (None, true) => Expiry::Remove,
                (None, false) => Expiry::Keep,
            };
            let rotated = operations::rotate_token(client, &connections()?, &id, expiry).await?;
            println!("connection_id: {id}");
            println!("token (shown once, not stored): {}", rotated.token);
            let never = "(the token never expires)";
            let said = match (expiry, rotated.token_expires_at) {
                (Expiry::Remove, _) => format!("removed {never}"),
                (Expiry::Set(at), stored) => format!("set {}", stored.unwrap_or(at.to_string())),
                (Expiry::Keep, Some(at)) => format!("kept {at}"),
                (Expiry::Keep, None) => format!("kept none {never}"),
            };
            println!("token_expires_at: {said}");
        }
        Command::DeleteConnection { id } => {
            if operations::delete_connection(client, &connections()?, &id).await? {
                println!("deleted connection {id}");
            } else {
                println!("no connection {id} (nothing to delete)");
            }
        }
        Command::Show { id, caller_view } => {
            let mut lines = operations::show(client, &connections()?, &id).await?;
            if caller_view {
                lines = operations::caller_view(lines);
            }
            for (name, value) in lines {
                println!("{name:<18} {value}");
            }
        }
        Command::Dump => {
            operations::dump(client, &connections()?, |item| println!("{item}")).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn dynamodb_messages_are_not_shown_but_codes_are() {
        let text = r#"service error: unhandled error (ValidationException): Error { code: "ValidationException", message: "Input collection [jane@private.example, \"x\"] contains duplicates", aws_request_id: "r-1" }"#;
        let shown = without_service_messages(text);
        assert!(!shown.contains("jane@private.example"), "{shown}");
        assert!(
            shown.contains("ValidationException") && shown.contains("r-1"),
            "{shown}"
        );
    }

    #[test]
    fn every_flag_has_help() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        let mut missing = Vec::new();
        for command in std::iter::once(&cli).chain(cli.get_subcommands()) {
            for arg in command.get_arguments() {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                if help.trim().is_empty() {
                    let flag = arg.get_long().unwrap_or(arg.get_id().as_str());
                    missing.push(format!("{} --{flag}", command.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "flags without help: {missing:?}");
    }

    /// What the CLI prints on stderr around a DynamoDB message: everything but the message,
    /// up to the character, the message's closing quote included in what is cut. Catches
    /// ending the cut one character early (which showed the message's last character) or
    /// at the quote.
    #[test]
    fn a_service_message_is_cut_from_its_opening_to_its_closing_quote() {
        let cut = "message: <not shown: it may quote the values sent>";
        for message in [
            r#""Input collection [jane@private.example, \"x\"] contains duplicates""#,
            r#""ends with a backslash \\""#,
            r#""""#,
        ] {
            let text = format!(
                r#"unhandled error (ValidationException): Error {{ code: "ValidationException", message: {message}, aws_request_id: "r-1" }}"#
            );
            assert_eq!(
                without_service_messages(&text),
                format!(
                    r#"unhandled error (ValidationException): Error {{ code: "ValidationException", {cut}, aws_request_id: "r-1" }}"#
                ),
                "message {message}"
            );
        }
        // Every message in the text, each cut alike.
        assert_eq!(
            without_service_messages(r#"a message: "x" b message: "y\"" c"#),
            format!("a {cut} b {cut} c")
        );
    }
}
