//! The DynamoDB client: built once at init, with a time budget per call.

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use super::trace_header::InvocationTraceHeader;
use super::user_agent::StaticUserAgent;
use crate::config::DynamoDbSettings;

/// Each call gets at most this long, retries included; a request makes at most two calls
/// (key lookup on a cache miss, then the update), so a dead database is a 503 in < 5 s.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(2_000);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(800);
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
pub const MAX_ATTEMPTS: u32 = 3;

/// Credentials come from the environment only, as Lambda provides them: the default chain
/// would also try profile files and the instance metadata service, which a Lambda function
/// never needs. Against an endpoint override without credentials (DynamoDB Local), a
/// placeholder is used: DynamoDB Local does not check signatures.
pub async fn dynamodb_client(settings: DynamoDbSettings) -> Client {
    let loader = if !settings.env_credentials && settings.endpoint_override {
        tracing::warn!(
            "no AWS credentials in the environment: using placeholder credentials for the endpoint override"
        );
        loader(settings.custom_roots).credentials_provider(placeholder_credentials())
    } else {
        loader(settings.custom_roots)
            .credentials_provider(EnvironmentVariableCredentialsProvider::new())
    };
    client(&loader.load().await)
}

/// The SDK's client with the user agent built once (`user_agent.rs`) and each
/// invocation's own trace header (`trace_header.rs`).
fn client(config: &aws_config::SdkConfig) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(StaticUserAgent::new())
        .interceptor(InvocationTraceHeader)
        .build();
    Client::from_conf(config)
}

/// The same client settings against an explicit endpoint (tests, local tools).
pub async fn dynamodb_client_at(endpoint: &str) -> Client {
    let loader = loader(false)
        .endpoint_url(endpoint)
        .credentials_provider(placeholder_credentials());
    client(&loader.load().await)
}

fn placeholder_credentials() -> Credentials {
    Credentials::new("local", "local", None, None, "placeholder")
}

/// Amazon Root CA 1-4 and Starfield Services Root CA G2: the roots of every AWS endpoint
/// (Amazon Trust Services). Copied from Debian's ca-certificates.
const AWS_ROOTS: &[u8] = include_bytes!("roots/aws-roots.pem");

/// rustls with aws-lc, trusting AWS's roots only. Reading the system store costs 2-3 ms of
/// every cold start and trusts ~150 authorities this function never needs. When
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set (a local TLS proxy, a corporate CA), the
/// system store is read too, and honours them.
fn https_client(custom_roots: bool) -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(custom_roots)
        .with_pem_certificate(AWS_ROOTS);
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Cannot happen with the roots above; the SDK's defaults are a safe fallback.
        Err(_) => builder.build_https(),
    }
}

fn loader(custom_roots: bool) -> aws_config::ConfigLoader {
    let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(Region::from_static("us-east-1"));
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client(custom_roots))
        // The timeouts above already bound a stalled call; the SDK's throughput monitor
        // would add per-request work to bodies of a few hundred bytes.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .region(region)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(50))
                .with_max_backoff(Duration::from_millis(400)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
}
