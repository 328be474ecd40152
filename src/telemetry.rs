//! Logs: JSON lines on stdout, one per request.
//!
//! Only this crate logs below WARN, whatever level is asked for: the SDK and HTTP stack
//! can print request details at DEBUG/TRACE, and those carry the API key and token.

use std::time::Duration;

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Level from Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by the function's LoggingConfig), else
/// `RUST_LOG` when it is a bare level, else INFO.
pub fn init() {
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find_map(|v| v.trim().parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    let filter = Targets::new()
        .with_default(LevelFilter::WARN)
        .with_target(env!("CARGO_CRATE_NAME"), level);
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(std::io::stdout);
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}

/// What one request leaves in the log. Identifiers only: no credential, email or mobile.
#[derive(Debug, Default, Clone)]
pub struct RequestLog {
    pub connection_id: Option<String>,
    pub client_id: Option<String>,
    pub dynamodb: Duration,
    pub dynamodb_calls: u32,
}

impl RequestLog {
    pub fn emit(&self, request_id: &str, status: u16, problem: Option<&str>, latency: Duration) {
        tracing::info!(
            request_id,
            connection_id = self.connection_id.as_deref().unwrap_or(""),
            client_id = self.client_id.as_deref().unwrap_or(""),
            status,
            problem = problem.unwrap_or(""),
            latency_ms = latency.as_secs_f64() * 1e3,
            dynamodb_ms = self.dynamodb.as_secs_f64() * 1e3,
            dynamodb_calls = self.dynamodb_calls,
            "request"
        );
    }
}
