//! The one-round-trip floor: the `lambda_http` hello world of `floor.rs` plus one raw HTTP
//! POST per invocation (a consistent GetItem) to the same DynamoDB endpoint, over one
//! kept-alive connection, as the SDK keeps it. No SDK, no signing: what remains between
//! this and the function is the SDK and our own work, not the round trip.
//! Plain HTTP only (`AWS_ENDPOINT_URL_DYNAMODB=http://...`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .unwrap_or_else(|_| "http://127.0.0.1:8000".to_owned());
    let table = std::env::var("CONNECTIONS_TABLE").unwrap_or_else(|_| "connections".to_owned());
    // The connection the bench's event updates (seeded by `connections-admin seed-demo`).
    let key = std::env::var("DYNAMODB_FLOOR_KEY")
        .unwrap_or_else(|_| "01J51S0JYV6N7K1030CV1ZKSCB".to_owned());
    let body = Bytes::from(format!(
        r#"{{"TableName":"{table}","Key":{{"connection_id":{{"S":"{key}"}}}},"ConsistentRead":true}}"#
    ));
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let (client, endpoint, body) = (&client, endpoint.as_str(), &body);
    run(service_fn(move |_: Request| async move {
        let request = hyper::Request::post(endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            // DynamoDB Local reads the access key and region from here; it checks no signature.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=bench/20260101/eu-west-1/dynamodb/aws4_request, \
                 SignedHeaders=host, Signature=00",
            )
            .body(Full::new(body.clone()))?;
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        let item = response.into_body().collect().await?.to_bytes();
        Response::builder()
            .status(if status == 200 { 200 } else { 502 })
            .header("content-type", "application/json")
            .body(Body::from(item.to_vec()))
            .map_err(Error::from)
    }))
    .await
}
