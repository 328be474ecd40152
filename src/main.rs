//! Wiring only: configuration, the DynamoDB client, the runtime loop.

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use update_connection::{App, Config, Event, config, telemetry};

// mimalloc: the SDK allocates a lot per call; less CPU on the request path
// than glibc's malloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Init may spend this long on the warm-up read; Lambda allows 10 s of init.
const WARM_UP_BUDGET: std::time::Duration = std::time::Duration::from_millis(1_000);

// One thread: invocations wait on DynamoDB, not on the CPU, and a second thread cost more
// CPU per invocation than it gained (BENCHMARKS.md, "Concurrency").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = |name: &str| std::env::var(name).ok();
    telemetry::init(config::log_level(env));
    let config = Config::from_lookup(env)
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let app = App::from_config(&config).await;
    if config.warm_up {
        app.warm_up(WARM_UP_BUDGET).await;
    }
    let app = Arc::new(app);
    // AWS_LAMBDA_MAX_CONCURRENCY > 1 (Managed Instances): that many polling tasks share
    // `app`; unset (classic Lambda): one invocation at a time, as `run` does.
    // The runtime only checks that the event is JSON; `Event::from_json` reads it, so no
    // event shape becomes an invocation error.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let app = Arc::clone(&app);
        async move {
            let payload = Event::from_json(event.payload.get());
            let context = &event.context;
            // The context's trace id, not _X_AMZN_TRACE_ID: in concurrent mode the
            // runtime does not set that variable, and it is one per process.
            let trace = context.xray_trace_id.as_deref();
            Ok::<_, lambda_runtime::Error>(
                app.handle_traced(&payload, &context.request_id, trace)
                    .await,
            )
        }
    }))
    .await
}
