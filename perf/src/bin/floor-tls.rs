//! The TLS floor: `lambda_http` plus one raw GetItem per invocation through the SDK's own
//! HTTP client (`aws-smithy-http-client`, rustls + aws-lc, the function's trust store and
//! connect timeout), over one kept-alive connection. Unsigned: see `floor-signed.rs`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "floor_tls/common.rs"]
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    common::main(false).await
}
