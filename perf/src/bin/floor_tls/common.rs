//! The one-round-trip floor of `floor-roundtrip.rs`, sent through the SDK's own HTTP client
//! stack: `aws-smithy-http-client`'s connector with rustls and aws-lc, built with the same
//! trust store and connect timeout as `src/store/client.rs` (AWS's roots compiled in, the
//! system store too only when `SSL_CERT_FILE` or `SSL_CERT_DIR` is set). Plain HTTP and
//! HTTPS alike (`AWS_ENDPOINT_URL_DYNAMODB`). With `signed`, each request is signed with
//! SigV4 by the `aws-sigv4` crate, as the SDK signs it. No SDK orchestration, no retries.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::BodyExt;
use lambda_http::{Body, Error, Request, Response, run, service_fn};

/// The function's roots (`src/store/client.rs`).
const AWS_ROOTS: &[u8] = include_bytes!("../../../../src/store/roots/aws-roots.pem");
/// The function's connect timeout (`src/store/client.rs`).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

struct Floor {
    connector: Connector,
    endpoint: String,
    body: Bytes,
    /// Credentials and region, when the floor signs.
    signer: Option<(Identity, String)>,
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

impl Floor {
    fn from_env(signed: bool) -> Self {
        let endpoint = env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000");
        let table = env("CONNECTIONS_TABLE", "connections");
        let key = env("DYNAMODB_FLOOR_KEY", "01J51S0JYV6N7K1030CV1ZKSCB");
        let body = Bytes::from(format!(
            r#"{{"TableName":"{table}","Key":{{"connection_id":{{"S":"{key}"}}}},"ConsistentRead":true}}"#
        ));
        let custom_roots = std::env::var_os("SSL_CERT_FILE").is_some()
            || std::env::var_os("SSL_CERT_DIR").is_some();
        let trust = TrustStore::empty()
            .with_native_roots(custom_roots)
            .with_pem_certificate(AWS_ROOTS);
        let context = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .unwrap_or_default();
        let connector = Connector::builder()
            .connector_settings(
                HttpConnectorSettings::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .build(),
            )
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build();
        let signer = signed.then(|| {
            let credentials = Credentials::new(
                env("AWS_ACCESS_KEY_ID", "bench"),
                env("AWS_SECRET_ACCESS_KEY", "bench"),
                std::env::var("AWS_SESSION_TOKEN").ok(),
                None,
                "environment",
            );
            (credentials.into(), env("AWS_REGION", "us-east-1"))
        });
        Self {
            connector,
            endpoint,
            body,
            signer,
        }
    }

    fn request(&self) -> Result<http::Request<SdkBody>, Error> {
        let mut request = http::Request::post(self.endpoint.as_str())
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .header("content-length", self.body.len())
            .body(SdkBody::from(self.body.clone()))?;
        match &self.signer {
            None => {
                // DynamoDB Local reads the access key and region from here; it checks no
                // signature.
                request.headers_mut().insert(
                    "authorization",
                    http::HeaderValue::from_static(
                        "AWS4-HMAC-SHA256 Credential=bench/20260101/eu-west-1/dynamodb/aws4_request, \
                         SignedHeaders=host, Signature=00",
                    ),
                );
            }
            Some((identity, region)) => {
                let params = v4::SigningParams::builder()
                    .identity(identity)
                    .region(region)
                    .name("dynamodb")
                    .time(SystemTime::now())
                    .settings(SigningSettings::default())
                    .build()?
                    .into();
                let headers = request
                    .headers()
                    .iter()
                    .map(|(k, v)| Ok((k.as_str(), v.to_str()?)))
                    .collect::<Result<Vec<_>, http::header::ToStrError>>()?;
                let signable = SignableRequest::new(
                    "POST",
                    self.endpoint.as_str(),
                    headers.into_iter(),
                    SignableBody::Bytes(&self.body),
                )?;
                let (instructions, _) = sign(signable, &params)?.into_parts();
                instructions.apply_to_request_http1x(&mut request);
            }
        }
        Ok(request)
    }

    async fn call(&self) -> Result<Response<Body>, Error> {
        let request = HttpRequest::try_from(self.request()?)?;
        let response = self.connector.call(request).await?;
        let status = response.status().as_u16();
        let item = response.into_body().collect().await?.to_bytes();
        Response::builder()
            .status(if status == 200 { 200 } else { 502 })
            .header("content-type", "application/json")
            .body(Body::from(item.to_vec()))
            .map_err(Error::from)
    }
}

pub async fn main(signed: bool) -> Result<(), Error> {
    let floor = Floor::from_env(signed);
    let floor = &floor;
    run(service_fn(move |_: Request| floor.call())).await
}
