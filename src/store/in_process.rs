//! DynamoDB answered in process (feature `test-util`), for the criterion benches and the
//! fuzzers: the SDK's whole pipeline still runs (serialisation, SigV4 signing, retries,
//! response parsing); a closure stands in for the service. Never in the Lambda binary.

use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::test_util::infallible_client_fn;

/// A client whose every call is answered by `answer(operation, request body)`, which
/// returns the HTTP status and the JSON body DynamoDB would send (`operation` is the name
/// after `DynamoDB_20120810.`, such as `GetItem` or `UpdateItem`).
pub async fn in_process_client<F>(answer: F) -> Client
where
    F: Fn(&str, &[u8]) -> (u16, String) + Send + Sync + 'static,
{
    let base = super::dynamodb_client_at("http://dynamodb.in-process").await;
    let http = infallible_client_fn(move |req| {
        let operation = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("");
        let (status, body) = answer(operation, req.body().bytes().unwrap_or_default());
        let mut response = http::Response::new(body);
        *response.status_mut() =
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        response
    });
    Client::from_conf(base.config().to_builder().http_client(http).build())
}
