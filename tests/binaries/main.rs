//! The built binaries as they run: the function under a loopback Lambda Runtime API (its
//! logs, its answers, Lambda's log-level filter over its output) and the PreTraffic hook's
//! real code against it.
//!
//! Needs: DynamoDB Local (`npm ci`, Java 17) and, for the hook, `.venv` (boto3).
//! `cargo test --test binaries`.

#[path = "../support/mod.rs"]
mod support;
#[path = "../support/venv.rs"]
mod venv;

mod binary;
mod canary;
