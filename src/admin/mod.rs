//! Operator tasks, outside the request path: tables and demo data for local runs and
//! tests. Not linked into the Lambda binary's hot path.

mod seed;
mod tables;

pub use seed::{ApiKeySeed, ConnectionSeed, Seed, put_api_key, put_connection};
pub use tables::create_tables;
