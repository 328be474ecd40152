//! The contract, proven against Amazon DynamoDB Local: every numbered step and every row
//! of the error table, each checking the response and the table afterwards.
//!
//! Needs: DynamoDB Local (`npm ci`, Java 17); nothing else. `cargo test --test contract`.

#[path = "../support/mod.rs"]
mod support;

mod accepted_writes;
mod api_conventions;
mod bookkeeping;
mod contract_auth;
mod contract_body;
mod contract_edges;
mod contract_order;
mod contract_write;
mod dynamodb_errors;
mod event_sources;
mod events_replay;
mod faults;
mod mutation_gaps;
mod own_malformed_items;
mod round_trips;
