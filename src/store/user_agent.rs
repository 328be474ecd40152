//! The user agent, built once. The SDK's own interceptor rebuilds both headers from the
//! config bag on every call (about 27 k instructions per call under callgrind, more than
//! the rest of the SDK's interceptors together); this one sends a fixed identification.

use aws_runtime::user_agent::UserAgentInterceptor;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_runtime_api::client::interceptors::disable_interceptor;

#[derive(Debug)]
pub struct StaticUserAgent {
    value: String,
}

impl StaticUserAgent {
    pub fn new() -> Self {
        let sdk = aws_sdk_dynamodb::meta::PKG_VERSION;
        Self {
            value: format!(
                "aws-sdk-rust/{sdk} api/dynamodb#{sdk} os/linux lang/rust app/{}#{}",
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

impl Intercept for StaticUserAgent {
    fn name(&self) -> &'static str {
        "StaticUserAgent"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The SDK's interceptors run first; this turns its user agent off for the later stages.
        cfg.interceptor_state()
            .store_put(disable_interceptor::<UserAgentInterceptor>(
                "built once instead",
            ));
        Ok(())
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = context.request_mut().headers_mut();
        headers.insert("user-agent", self.value.clone());
        headers.insert("x-amz-user-agent", self.value.clone());
        Ok(())
    }
}
