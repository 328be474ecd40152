//! X-Ray's trace header on every DynamoDB call, from the invocation that makes it. The
//! SDK reads `_X_AMZN_TRACE_ID`, which the runtime sets per invocation only when it runs
//! one at a time; with several invocations at once (Managed Instances) each call must
//! carry its own invocation's id, which `telemetry` keeps per task.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

use crate::telemetry;

const HEADER: &str = "x-amzn-trace-id";

#[derive(Debug, Default)]
pub struct InvocationTraceHeader;

impl Intercept for InvocationTraceHeader {
    fn name(&self) -> &'static str {
        "InvocationTraceHeader"
    }

    // After the SDK's own (from the environment): the invocation's id wins, as the
    // environment's may name another invocation running beside it.
    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(trace) = telemetry::current_trace_id() {
            context.request_mut().headers_mut().insert(HEADER, trace);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::capture_request;

    use super::*;
    use crate::telemetry::Invocation;

    async fn header_sent(invocation: Option<Invocation>) -> Option<String> {
        let (http, requests) = capture_request(None);
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::for_tests())
            .http_client(http)
            .interceptor(InvocationTraceHeader)
            .build();
        let client = Client::from_conf(config);
        let call = async {
            let _ = client.get_item().table_name("t").send().await;
        };
        match invocation {
            Some(invocation) => invocation.scope(call).await,
            None => call.await,
        }
        let request = requests.expect_request();
        request.headers().get(HEADER).map(str::to_owned)
    }

    #[tokio::test]
    async fn each_call_carries_its_own_invocations_trace_id() {
        for trace in ["Root=1-aaaaaaaa-1;Sampled=1", "Root=1-bbbbbbbb-2;Sampled=0"] {
            let invocation = Invocation {
                request_id: "r".into(),
                trace_id: Some(trace.into()),
            };
            assert_eq!(header_sent(Some(invocation)).await.as_deref(), Some(trace));
        }
        let untraced = Invocation {
            request_id: "r".into(),
            trace_id: None,
        };
        assert_eq!(header_sent(Some(untraced)).await, None);
    }
}
