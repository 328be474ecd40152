//! Logs and metrics: JSON lines on stdout. Per request, one log line (filtered by level) and
//! one CloudWatch Embedded Metric Format line (no level, so never filtered away).
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

/// CloudWatch Embedded Metric Format: per request, `Requests` (count) and the latencies,
/// by function name, and by function name and outcome (`ok` or the problem code, so at
/// most 15 values). No service call: CloudWatch reads the line from the log stream.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Everything before the per-request values, formatted once at init.
    head: String,
}

pub const METRICS_NAMESPACE: &str = "UpdateConnection";

impl Metrics {
    pub fn from_env() -> Self {
        Self::for_function(
            &std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "update-connection".into()),
        )
    }

    pub fn for_function(name: &str) -> Self {
        let name = serde_json::to_string(name).unwrap_or_else(|_| "\"update-connection\"".into());
        Self {
            head: format!(
                r#"{{"FunctionName":{name},"Requests":1,"_aws":{{"CloudWatchMetrics":[{{"Namespace":"{METRICS_NAMESPACE}","Dimensions":[["FunctionName"],["FunctionName","Outcome"]],"Metrics":[{{"Name":"Requests","Unit":"Count"}},{{"Name":"Latency","Unit":"Milliseconds"}},{{"Name":"DynamoDBLatency","Unit":"Milliseconds"}}]}}],"Timestamp":"#
            ),
        }
    }

    /// `outcome` is `ok` or a problem code: plain ASCII, no escaping needed.
    pub fn line(
        &self,
        outcome: &str,
        latency: Duration,
        dynamodb: Duration,
        now_ms: u128,
    ) -> String {
        format!(
            r#"{}{now_ms}}},"Outcome":"{outcome}","Latency":{:.3},"DynamoDBLatency":{:.3}}}"#,
            self.head,
            latency.as_secs_f64() * 1e3,
            dynamodb.as_secs_f64() * 1e3,
        )
    }

    pub fn emit(&self, outcome: &str, latency: Duration, dynamodb: Duration) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let line = self.line(outcome, latency, dynamodb, now_ms);
        use std::io::Write;
        // A lost metric line must not fail the request.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_line_declares_its_metrics() {
        let m = Metrics::for_function("fn \"quoted\"");
        let v: serde_json::Value = serde_json::from_str(&m.line(
            "validation-failed",
            Duration::from_millis(3),
            Duration::ZERO,
            1_700_000_000_000,
        ))
        .unwrap();
        let spec = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(spec["Namespace"], METRICS_NAMESPACE);
        for metric in spec["Metrics"].as_array().unwrap() {
            assert!(
                v.get(metric["Name"].as_str().unwrap()).is_some(),
                "{metric}"
            );
        }
        for dims in spec["Dimensions"].as_array().unwrap() {
            for d in dims.as_array().unwrap() {
                assert!(v[d.as_str().unwrap()].is_string());
            }
        }
        assert_eq!(v["Outcome"], "validation-failed");
        assert_eq!(v["FunctionName"], "fn \"quoted\"");
        assert_eq!(v["Requests"], 1);
        assert_eq!(v["FunctionName"], "fn \"quoted\"");
        assert_eq!(v["Requests"], 1);
        assert_eq!(v["Latency"], 3.0);
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }
}
