//! Operator tasks, outside the request path: tables from the template, API keys,
//! connection tokens, the pre-traffic canary and demo data. Its own crate: the Lambda
//! binary compiles none of it (nor clap or the YAML reader).

mod endpoint;
pub mod operations;
mod secrets;
mod seed;
mod tables;
mod unreachable;

pub use endpoint::{Endpoint, dynamodb_endpoint, is_loopback};
pub use secrets::{api_key_from, new_secret, new_ulid};
pub use seed::{ApiKeySeed, ConnectionSeed, Seed, put_api_key, put_connection};
pub use tables::{TEMPLATE, TableDefinition, create_tables, tables_in_template};
pub use unreachable::unreachable_reason;
