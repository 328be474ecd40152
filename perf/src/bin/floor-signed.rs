//! The signed floor: `floor-tls.rs` with each request signed with SigV4 by the `aws-sigv4`
//! crate (the SDK's signer), as DynamoDB requires: what any function calling DynamoDB must
//! at least do per call.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "floor_tls/common.rs"]
mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    common::main(true).await
}
