//! Validated values. Once a value has one of these types it is valid: parse, don't validate.

pub mod bookkeeping;
mod client_id;
mod connection;
mod connection_id;
mod contact;
mod customer_id;
mod expiry;
mod idempotency;
pub mod member;
pub mod patch;
mod precondition;
mod request;
pub mod rules;

pub use bookkeeping::{BookkeepingFormat, Digest, KeyRecord};
pub use client_id::ClientId;
pub use connection::{Connection, ConnectionView};
pub use connection_id::ConnectionId;
pub use contact::{Email, Mobile};
pub use customer_id::CustomerId;
pub use expiry::{Expiry, NotANumber};
pub use idempotency::{BadIdempotencyKey, Idempotency, IdempotencyKey, Recorded};
pub use member::{MEMBERS, Member, Members};
pub use patch::{Change, FieldError, Patch, PatchError, PatchFormat};
pub use precondition::{Precondition, TooManyTags};
pub use request::{Caller, UpdateRequest};

/// The only status this endpoint ever writes; it is terminal.
pub const DISCONNECTED: &str = "disconnected";

/// The scope a connection token needs for this endpoint.
pub const WRITE_SCOPE: &str = "connections:write";
