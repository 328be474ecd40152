//! The loopback Lambda Runtime API of the tools crate (the one the bench and the soak use),
//! for async tests: the built binary talks to it as it talks to Lambda.

use std::time::Duration;

use serde_json::Value;

#[derive(Clone)]
pub struct RuntimeApi {
    pub address: String,
    inner: update_connection_testkit::RuntimeApi,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let inner = update_connection_testkit::RuntimeApi::start();
        Self {
            address: inner.address.clone(),
            inner,
        }
    }

    /// The most invocations the function held at once (see the tools crate's).
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight()
    }

    /// Queues an event and waits (at most 15 s) for the function's answer; `Err` when the
    /// function reported an error or said nothing.
    pub async fn invoke(&self, request_id: &str, event: Value) -> Result<Value, String> {
        let api = self.inner.clone();
        let id = request_id.to_owned();
        let bytes = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
        // The wait blocks a thread; the fault proxy and the test go on in the runtime.
        tokio::task::spawn_blocking(move || api.try_call(&id, &bytes, Duration::from_secs(15)))
            .await
            .map_err(|e| e.to_string())?
    }
}
