//! The contract, proven against Amazon DynamoDB Local: every numbered step and every row
//! of the error table, each checking the response and the table afterwards.

mod accepted_writes;
mod admin_cli;
mod api_conventions;
mod binary;
mod canary;
mod contract_auth;
mod contract_body;
mod contract_edges;
mod contract_order;
mod contract_write;
mod docs;
mod dynamodb_errors;
mod event_sources;
mod events_replay;
mod faults;
mod gateway_responses;
mod members;
mod openapi;
mod round_trips;
mod samconfig;
mod support;
mod template;
