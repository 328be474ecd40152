//! `PATCH /connections/{connection_id}` as an AWS Lambda function over DynamoDB.
//!
//! The contract is `docs/contract.md`; [`handler::App::handle`] walks
//! its decision path. Layout: `http` (events, responses, problems), `domain` (validated
//! values and the rules), `auth` (credentials), `store` (DynamoDB), `telemetry` (logs).

pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod handler;
pub mod http;
pub mod schema;
pub mod single_flight;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use handler::App;
pub use http::Event;
