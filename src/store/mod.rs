//! DynamoDB: the API-key lookup and the one conditional write.

mod api_keys;
mod client;
mod error;
mod item;
mod trace_header;
mod update;
mod user_agent;

use aws_sdk_dynamodb::Client;

#[cfg(feature = "test-util")]
pub mod in_process;

pub use client::{OPERATION_TIMEOUT, dynamodb_client, dynamodb_client_at};
pub use error::StoreError;
pub use item::{OldItem, connection_from_item, old_item};
pub use update::{UpdateOutcome, Written};

/// Both tables, behind one client built at init.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    connections_table: String,
    api_keys_table: String,
}

impl Store {
    pub fn new(client: Client, connections_table: String, api_keys_table: String) -> Self {
        Self {
            client,
            connections_table,
            api_keys_table,
        }
    }
}
