//! The one write a request asks for, with everything the condition and its explanation
//! need.

use super::{BookkeepingFormat, ClientId, ConnectionId, Digest, Idempotency, Patch, Precondition};
use crate::clock::Now;

/// Who asks: the API key's client and the digest of the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: ClientId,
    pub token_sha256: String,
}

#[derive(Debug, Clone)]
pub struct UpdateRequest<'a> {
    pub id: ConnectionId,
    /// The Lambda request id: the SDK may retry an attempt whose answer was lost, and the
    /// condition makes sure the same request never writes twice.
    pub request_id: &'a str,
    /// What the item remembers of `request_id`.
    pub request_digest: Digest,
    /// The form this write leaves the item's bookkeeping in.
    pub bookkeeping: BookkeepingFormat,
    pub caller: Caller,
    pub patch: Patch,
    pub precondition: Precondition,
    /// The client's `Idempotency-Key`, with this request's fingerprint.
    pub idempotency: Option<Idempotency>,
    pub now: Now,
}
