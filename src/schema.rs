//! The two tables as stored: attribute names and stored values, in one place for the
//! function (`store`), the operator tooling (`admin`) and the tests. `template.yaml`
//! defines the keys; `docs/contract.md` describes every attribute.

pub use crate::domain::{DISCONNECTED, WRITE_SCOPE};

/// Crockford's base32, the alphabet of ULIDs (no I, L, O, U).
pub const ULID_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The connections table: one item per connection, key `connection_id`.
pub mod connection {
    pub const CONNECTION_ID: &str = "connection_id";
    pub const CLIENT_ID: &str = "client_id";
    pub const CUSTOMER_ID: &str = "customer_id";
    pub const RETAILER_ID: &str = "retailer_id";
    pub const STATUS: &str = "status";
    pub const EMAIL: &str = "email";
    pub const MOBILE: &str = "mobile";
    pub const TOKEN_SHA256: &str = "token_sha256";
    /// A string set; nothing else counts as scopes.
    pub const TOKEN_SCOPES: &str = "token_scopes";
    /// Epoch seconds; absent means the token does not expire.
    pub const TOKEN_EXPIRES_AT: &str = "token_expires_at";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const DISCONNECTED_AT: &str = "disconnected_at";
    /// +1 on every write; the ETag.
    pub const VERSION: &str = "version";
    // Bookkeeping (`domain::bookkeeping`), newest first, each a 16-byte binary digest
    // under a two-letter name so that it all fits a quarter of a write unit. Each write
    // shifts a list down by one within the same UpdateItem, so a retried attempt finds
    // its own request even when a few other writes came between.
    /// How many writes each list remembers.
    pub const SLOTS: usize = 4;
    /// The request ids of the latest writes.
    pub const REQUEST_DIGESTS: [&str; SLOTS] = ["r0", "r1", "r2", "r3"];
    /// The keys of the latest writes that carried an `Idempotency-Key` ...
    pub const KEY_DIGESTS: [&str; SLOTS] = ["k0", "k1", "k2", "k3"];
    /// ... and their requests' fingerprints, slot by slot.
    pub const FINGERPRINTS: [&str; SLOTS] = ["f0", "f1", "f2", "f3"];
    /// The same bookkeeping as written before the compact form, as text: read, and
    /// written only with `BOOKKEEPING_FORMAT=legacy`; a compact write removes it.
    pub const LEGACY_REQUEST_IDS: [&str; SLOTS] = [
        "last_request_id",
        "previous_request_id_1",
        "previous_request_id_2",
        "previous_request_id_3",
    ];
    /// `<key> <fingerprint hex>` records.
    pub const LEGACY_IDEMPOTENCY_RECORDS: [&str; SLOTS] = [
        "last_idempotency_key",
        "previous_idempotency_key_1",
        "previous_idempotency_key_2",
        "previous_idempotency_key_3",
    ];
    /// An item holds the legacy form when it has either: a legacy write always sets the
    /// first slot of its lists. The compact write's condition and the read agree on this.
    pub const LEGACY_MARKERS: [&str; 2] = [LEGACY_REQUEST_IDS[0], LEGACY_IDEMPOTENCY_RECORDS[0]];
    pub const STATUSES: [&str; 4] = ["initialized", "unauthenticated", "active", "disconnected"];
}

/// The API keys table: one item per key, key `key_sha256`.
pub mod api_key {
    pub const KEY_SHA256: &str = "key_sha256";
    pub const CLIENT_ID: &str = "client_id";
    pub const STATUS: &str = "status";
    pub const CREATED_AT: &str = "created_at";
    pub const ACTIVE: &str = "active";
    pub const REVOKED: &str = "revoked";
}

/// The pre-traffic canary (template.yaml's PreTrafficHook, `connections-admin
/// create-canary`): a client that owns these two connections and nothing else, so that its
/// key can change nothing but them.
pub mod canary {
    pub const CLIENT_ID: &str = "pre-traffic-canary";
    /// Active: the hook writes its email through each new version.
    pub const CONNECTED: &str = "0000000000000CANARYC0NNECT";
    /// Disconnected: the hook expects 409 for it.
    pub const DISCONNECTED: &str = "0000000000000CANARYD1SC0NN";
    pub const RETAILER_ID: &str = "0000000000000CANARYRETA1ER";
}
