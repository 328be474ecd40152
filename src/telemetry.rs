//! Logs and metrics, as JSON lines on stdout: one line per request (`RequestLine`, the
//! request log and its EMF metrics in one object), and `tracing` for warnings and errors.
//!
//! Only this crate logs below WARN, whatever level is asked for: the SDK and HTTP stack
//! can print request details at DEBUG/TRACE, and those carry the API key and token.

use std::time::Duration;

use serde::Serialize;

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Logs this crate's events at `level` and above, other crates' at WARN and above, as JSON
/// lines that carry the invocation's request id and trace id (`Invocation`).
pub fn init(level: Level) {
    let filter = Targets::new()
        .with_default(LevelFilter::WARN)
        // Its WARN prints an earlier error with `{:?}`, and a refused write's error holds
        // the whole old item (contact details included).
        .with_target(
            "aws_smithy_runtime_api::client::interceptors",
            LevelFilter::OFF,
        )
        .with_target(env!("CARGO_CRATE_NAME"), level);
    let layer = tracing_subscriber::fmt::layer()
        .event_format(InvocationJson)
        .with_writer(std::io::stdout);
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
}

/// The invocation being served: every line written while it runs names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    pub request_id: String,
    /// X-Ray's trace header for this invocation, when Lambda gives one.
    pub trace_id: Option<String>,
}

tokio::task_local! {
    static CURRENT: Invocation;
}

/// The trace id of the invocation this task runs, if Lambda gave it one.
pub fn current_trace_id() -> Option<String> {
    CURRENT
        .try_with(|invocation| invocation.trace_id.clone())
        .ok()
        .flatten()
}

impl Invocation {
    /// Runs `f` with this invocation current for every `tracing` line it writes.
    pub async fn scope<F: std::future::Future>(self, f: F) -> F::Output {
        CURRENT.scope(self, f).await
    }
}

/// `tracing`'s events as one JSON object per line: time, level, the event's fields
/// (`message` among them) and the current invocation's ids.
struct InvocationJson;

impl<S, N> FormatEvent<S, N> for InvocationJson
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = serde_json::Map::new();
        line.insert("timestamp".into(), crate::clock::now().rfc3339().into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        event.record(&mut JsonFields(&mut line));
        let _ = CURRENT.try_with(|invocation| {
            line.insert("request_id".into(), invocation.request_id.clone().into());
            if let Some(trace) = &invocation.trace_id {
                line.insert("trace_id".into(), trace.clone().into());
            }
        });
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        // NaN and the infinities are not JSON numbers: they become null.
        self.0.insert(field.name().into(), value.into());
    }
}

/// What one request leaves behind, gathered while it is decided. Identifiers only: no
/// credential, email or mobile.
#[derive(Debug, Default, Clone)]
pub struct RequestLog {
    pub connection_id: Option<String>,
    pub client_id: Option<String>,
    pub dynamodb: Duration,
    pub dynamodb_calls: u32,
    /// The write units DynamoDB reported for the request's writes (`None`: none reported).
    pub write_units: Option<f64>,
}

impl RequestLog {
    pub fn add_write_units(&mut self, units: Option<f64>) {
        if let Some(units) = units {
            *self.write_units.get_or_insert(0.0) += units;
        }
    }

    /// Awaits one DynamoDB call, adding its time and count to the request's line.
    pub async fn time_dynamodb<T>(&mut self, call: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = call.await;
        self.dynamodb += started.elapsed();
        self.dynamodb_calls += 1;
        out
    }
}

/// The one JSON line per request: the request log (request id, connection id, client id,
/// status, problem code, latency, DynamoDB latency) and, in the same object, a CloudWatch
/// Embedded Metric Format record (`DIRECTIVES`). No service call: CloudWatch reads the
/// metrics from the log stream. Its `level` is INFO: Lambda files a line without a valid
/// level as INFO anyway, and drops INFO lines when the function's log level is WARN or
/// above, which is why template.yaml's LogLevel allows nothing above INFO.
#[derive(Debug, Clone)]
pub struct RequestLine {
    function_name: String,
    function_version: String,
    sink: LineWriter,
}

/// Where finished lines go, newline included: stdout in the function; tests pass their own.
pub type LineWriter = fn(&[u8]);

/// One write per line, so lines from one process never interleave; a lost log line must
/// not fail the request.
pub fn stdout(line: &[u8]) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(line);
}

pub const METRICS_NAMESPACE: &str = "UpdateConnection";

/// One request's facts, for its line.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    /// The instance's first invocation.
    pub cold_start: bool,
    pub status: u16,
    pub problem: Option<&'a str>,
    pub latency: Duration,
}

/// The line as written. Member names are the log's (snake case) and the metrics' (EMF's
/// names, capitalised as CloudWatch shows them).
#[derive(Serialize)]
struct Line<'a> {
    timestamp: &'a str,
    level: &'static str,
    message: &'static str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    cold_start: bool,
    connection_id: Option<&'a str>,
    client_id: Option<&'a str>,
    status: u16,
    problem_code: Option<&'a str>,
    latency_ms: f64,
    dynamodb_latency_ms: f64,
    dynamodb_calls: u32,
    /// As DynamoDB billed them (`ReturnConsumedCapacity`); null when it said nothing (no
    /// write, or a refused one: billed too, but its error carries no figure).
    write_units: Option<f64>,
    #[serde(rename = "Outcome")]
    outcome: &'a str,
    #[serde(rename = "Latency")]
    latency: f64,
    #[serde(rename = "DynamoDBLatency")]
    dynamodb_latency: f64,
    #[serde(rename = "FunctionName")]
    function_name: &'a str,
    #[serde(rename = "Version")]
    version: &'a str,
    #[serde(rename = "Requests")]
    requests: u8,
    #[serde(rename = "ColdStarts")]
    cold_starts: u8,
    /// 1 for a 4xx answer, else 0.
    #[serde(rename = "Refusals")]
    refusals: u8,
    /// 1 for a 5xx answer, else 0.
    #[serde(rename = "ServerErrors")]
    server_errors: u8,
    /// `write_units`, 0 when none were reported.
    #[serde(rename = "WriteUnits")]
    write_units_metric: f64,
    _aws: Aws,
}

#[derive(Serialize)]
struct Aws {
    #[serde(rename = "CloudWatchMetrics")]
    cloudwatch_metrics: &'static [Directive; 3],
    #[serde(rename = "Timestamp")]
    timestamp: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: &'static str,
    dimensions: &'static [&'static [&'static str]],
    metrics: &'static [Metric],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    name: &'static str,
    unit: &'static str,
}

const fn metric(name: &'static str, unit: &'static str) -> Metric {
    Metric { name, unit }
}

/// The metrics and dimensions every line declares, each metric once per dimension set:
/// the dashboard's (by function, and by `Outcome`: `ok` or the problem code), the share of
/// refusals and 5xx answers function-wide, and by `Version` what the rollback alarms
/// watch in the version being deployed.
static DIRECTIVES: [Directive; 3] = [
    Directive {
        namespace: METRICS_NAMESPACE,
        dimensions: &[&["FunctionName"], &["FunctionName", "Outcome"]],
        metrics: &[
            metric("Requests", "Count"),
            metric("Latency", "Milliseconds"),
            metric("DynamoDBLatency", "Milliseconds"),
            metric("ColdStarts", "Count"),
        ],
    },
    Directive {
        namespace: METRICS_NAMESPACE,
        dimensions: &[&["FunctionName"]],
        metrics: &[
            metric("Refusals", "Count"),
            metric("ServerErrors", "Count"),
            metric("WriteUnits", "Count"),
        ],
    },
    Directive {
        namespace: METRICS_NAMESPACE,
        dimensions: &[&["FunctionName", "Version"]],
        metrics: &[
            metric("Requests", "Count"),
            metric("Refusals", "Count"),
            metric("ServerErrors", "Count"),
            metric("Latency", "Milliseconds"),
        ],
    },
];

/// Milliseconds, to the microsecond.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl RequestLine {
    pub fn new(function_name: &str, function_version: &str, sink: LineWriter) -> Self {
        Self {
            function_name: function_name.to_owned(),
            function_version: function_version.to_owned(),
            sink,
        }
    }

    fn write(
        &self,
        out: impl std::io::Write,
        log: &RequestLog,
        outcome: Outcome<'_>,
        now: &crate::clock::Now,
    ) -> serde_json::Result<()> {
        let latency = millis(outcome.latency);
        let dynamodb_latency = millis(log.dynamodb);
        let line = Line {
            timestamp: now.rfc3339(),
            level: "INFO",
            message: "request",
            request_id: outcome.request_id,
            trace_id: outcome.trace_id,
            cold_start: outcome.cold_start,
            connection_id: log.connection_id.as_deref(),
            client_id: log.client_id.as_deref(),
            status: outcome.status,
            problem_code: outcome.problem,
            latency_ms: latency,
            dynamodb_latency_ms: dynamodb_latency,
            dynamodb_calls: log.dynamodb_calls,
            write_units: log.write_units,
            outcome: outcome.problem.unwrap_or("ok"),
            latency,
            dynamodb_latency,
            function_name: &self.function_name,
            version: &self.function_version,
            requests: 1,
            cold_starts: u8::from(outcome.cold_start),
            refusals: u8::from((400..500).contains(&outcome.status)),
            server_errors: u8::from(outcome.status >= 500),
            write_units_metric: log.write_units.unwrap_or(0.0),
            _aws: Aws {
                cloudwatch_metrics: &DIRECTIVES,
                timestamp: now.epoch_ms(),
            },
        };
        serde_json::to_writer(out, &line)
    }

    /// The line, without its newline.
    pub fn line(&self, log: &RequestLog, outcome: Outcome<'_>, now: &crate::clock::Now) -> String {
        let mut out = Vec::with_capacity(640);
        // Writing to a Vec cannot fail, and every member serialises.
        let _ = self.write(&mut out, log, outcome, now);
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn emit(&self, log: &RequestLog, outcome: Outcome<'_>) {
        let mut line = Vec::with_capacity(640);
        if self
            .write(&mut line, log, outcome, &crate::clock::now())
            .is_ok()
        {
            line.push(b'\n');
            (self.sink)(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captures what the formatter writes.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `run` logs through the function's line format, on a current-thread runtime.
    fn logged<F: std::future::Future>(run: F) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(InvocationJson)
            .with_writer(move || writer.clone())
            .finish();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || runtime.block_on(run));
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    /// The one JSON line `log` writes while `invocation` is current.
    fn line_of(invocation: Invocation, log: impl FnOnce()) -> serde_json::Value {
        let text = logged(invocation.scope(async { log() }));
        serde_json::from_str(text.trim_end()).unwrap()
    }

    #[test]
    fn a_tracing_line_keeps_numbers_and_booleans_as_json_and_names_the_invocation() {
        let invocation = Invocation {
            request_id: "r-7".into(),
            trace_id: Some("Root=1-abc".into()),
        };
        let v = line_of(invocation, || {
            tracing::warn!(
                call = "UpdateItem",
                attempt = -1i64,
                calls = 2u64,
                retried = true,
                seconds = 0.25f64,
                shape = ?("a", 1),
                "dynamodb unavailable"
            );
        });
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["message"], "dynamodb unavailable");
        assert_eq!(v["call"], "UpdateItem");
        assert_eq!(v["attempt"], -1);
        assert_eq!(v["calls"], 2);
        assert_eq!(v["retried"], true);
        assert_eq!(v["seconds"], 0.25);
        assert_eq!(v["shape"], "(\"a\", 1)");
        assert_eq!(v["request_id"], "r-7");
        assert_eq!(v["trace_id"], "Root=1-abc");
        assert!(
            v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{v}"
        );
    }

    /// Managed Instances interleave invocations on one thread: each line names the
    /// invocation that wrote it, not the one that last started or last wrote.
    #[test]
    fn interleaved_invocations_each_name_their_own_ids() {
        let invocation = |n: u32| {
            let ids = Invocation {
                request_id: format!("r-{n}"),
                trace_id: Some(format!("Root=1-{n}")),
            };
            ids.scope(async move {
                for step in 0..3 {
                    tracing::warn!(writer = n, step, "step");
                    tokio::task::yield_now().await;
                }
            })
        };
        let text = logged(async { tokio::join!(invocation(1), invocation(2), invocation(3)) });
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 9, "{text}");
        let writers: Vec<u64> = lines
            .iter()
            .map(|l| l["writer"].as_u64().unwrap())
            .collect();
        assert_ne!(
            writers,
            [1, 1, 1, 2, 2, 2, 3, 3, 3],
            "they interleaved: {text}"
        );
        for l in &lines {
            let n = &l["writer"];
            assert_eq!(l["request_id"], format!("r-{n}"), "{l}");
            assert_eq!(l["trace_id"], format!("Root=1-{n}"), "{l}");
        }
    }

    #[test]
    fn an_untraced_invocation_still_names_its_request_id() {
        let invocation = Invocation {
            request_id: "r-untraced".into(),
            trace_id: None,
        };
        let v = line_of(invocation, || tracing::warn!("dynamodb unavailable"));
        assert_eq!(v["request_id"], "r-untraced", "{v}");
        assert!(v.get("trace_id").is_none(), "{v}");
    }

    #[test]
    fn one_line_is_the_request_log_and_its_metrics() {
        let line = RequestLine::new("fn \"quoted\"", "7", |_| {});
        let log = RequestLog {
            connection_id: Some("01J51S0JYV6N7K1030CV1ZKSCA".into()),
            client_id: Some("client \"a\"".into()),
            dynamodb: Duration::from_millis(2),
            dynamodb_calls: 1,
            write_units: Some(1.0),
        };
        let outcome = Outcome {
            request_id: "r-1",
            trace_id: Some("Root=1-abc"),
            cold_start: true,
            status: 422,
            problem: Some("validation-failed"),
            latency: Duration::from_millis(3),
        };
        let now = crate::clock::at(Duration::new(1_700_000_000, 250_000_000));
        let v: serde_json::Value = serde_json::from_str(&line.line(&log, outcome, &now)).unwrap();
        assert_eq!(v["message"], "request");
        assert_eq!(v["request_id"], "r-1");
        assert_eq!(v["trace_id"], "Root=1-abc");
        assert_eq!(
            (v["cold_start"].clone(), v["ColdStarts"].clone()),
            (true.into(), 1.into())
        );
        assert_eq!(v["client_id"], "client \"a\"");
        assert_eq!(v["status"], 422);
        assert_eq!(v["problem_code"], "validation-failed");
        assert_eq!(v["latency_ms"], 3.0);
        assert_eq!(v["dynamodb_latency_ms"], 2.0);
        assert_eq!(
            (v["write_units"].clone(), v["WriteUnits"].clone()),
            (1.0.into(), 1.0.into())
        );
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.250Z");
        // The EMF part: every declared metric and dimension is a member of the line, and
        // no metric is declared twice for one dimension set (it would be counted twice).
        let mut declared = std::collections::BTreeSet::new();
        for spec in v["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            assert_eq!(spec["Namespace"], METRICS_NAMESPACE);
            for metric in spec["Metrics"].as_array().unwrap() {
                assert!(v[metric["Name"].as_str().unwrap()].is_number(), "{metric}");
                for dims in spec["Dimensions"].as_array().unwrap() {
                    let pair = (metric["Name"].to_string(), dims.to_string());
                    assert!(declared.insert(pair.clone()), "declared twice: {pair:?}");
                }
            }
            for dims in spec["Dimensions"].as_array().unwrap() {
                for d in dims.as_array().unwrap() {
                    assert!(v[d.as_str().unwrap()].is_string());
                }
            }
        }
        assert_eq!(v["FunctionName"], "fn \"quoted\"");
        assert_eq!(v["Version"], "7");
        assert_eq!(v["Outcome"], "validation-failed");
        assert_eq!(
            (v["Refusals"].clone(), v["ServerErrors"].clone()),
            (1.into(), 0.into())
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_250u64);
        assert_eq!(
            v["level"], "INFO",
            "a level Lambda keeps at every allowed LogLevel"
        );

        let ok = Outcome {
            problem: None,
            status: 200,
            cold_start: false,
            ..outcome
        };
        let v: serde_json::Value =
            serde_json::from_str(&line.line(&RequestLog::default(), ok, &now)).unwrap();
        assert_eq!(
            (v["problem_code"].clone(), v["Outcome"].clone()),
            (serde_json::Value::Null, "ok".into())
        );
        assert_eq!(v["connection_id"], serde_json::Value::Null);
        assert_eq!(v["ColdStarts"], 0);
        assert_eq!(
            (v["Refusals"].clone(), v["ServerErrors"].clone()),
            (0.into(), 0.into())
        );
        let failed = Outcome {
            problem: Some("unavailable"),
            status: 503,
            ..outcome
        };
        let v: serde_json::Value =
            serde_json::from_str(&line.line(&RequestLog::default(), failed, &now)).unwrap();
        assert_eq!(
            (v["Refusals"].clone(), v["ServerErrors"].clone()),
            (0.into(), 1.into())
        );
    }
}
