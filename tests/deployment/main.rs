//! What gets deployed, read as AWS will run it: template.yaml through SAM's own translator
//! for each samconfig.toml environment, samconfig.toml, openapi.yaml and the docs held to the
//! code, the edge's gateway responses.
//!
//! Needs: `.venv` (SAM's translator and cfn-lint: `scripts/test quick` makes it); no
//! database. `cargo test --test deployment`.

#[path = "../support/venv.rs"]
mod venv;

mod docs;
mod gateway_responses;
mod members;
mod openapi;
mod samconfig;
mod scripts;
mod template;
