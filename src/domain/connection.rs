use serde::ser::{Serialize, SerializeMap, Serializer};

use super::member::{Member, Members};
use super::{ClientId, DISCONNECTED, Digest, Expiry, KeyRecord};
use crate::schema::connection as attr;

/// A connection as stored, read back from the table. Only what this endpoint needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_id: String,
    pub client_id: ClientId,
    pub retailer_id: String,
    /// The members a PATCH may change, as stored: a required member is always `Some`.
    pub members: Members<Option<String>>,
    pub token_sha256: String,
    pub token_scopes: Vec<String>,
    pub token_expires_at: Option<Expiry>,
    pub version: u64,
    /// The digests of the Lambda request ids of the latest writes, newest first: a
    /// retried attempt of the same request finds its own here and is answered instead of
    /// writing again.
    pub recent_requests: Vec<Digest>,
    /// The `Idempotency-Key` records of the latest writes that carried one, newest first.
    pub idempotency_records: Vec<KeyRecord>,
    /// The item still holds bookkeeping in the legacy form (read into the two lists above,
    /// ahead of the compact entries: a compact write removes it, so it is always newer).
    pub legacy_bookkeeping: bool,
}

impl Connection {
    pub fn status(&self) -> &str {
        self.members[Member::Status].as_deref().unwrap_or_default()
    }

    pub fn is_disconnected(&self) -> bool {
        self.status() == DISCONNECTED
    }

    pub fn view(&self) -> ConnectionView<'_> {
        ConnectionView(self)
    }
}

/// What a caller sees: the id, the retailer and every member, `null` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionView<'a>(&'a Connection);

impl Serialize for ConnectionView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut map = s.serialize_map(Some(2 + Member::COUNT))?;
        map.serialize_entry(attr::CONNECTION_ID, &c.connection_id)?;
        map.serialize_entry(attr::RETAILER_ID, &c.retailer_id)?;
        for (member, value) in c.members.iter() {
            map.serialize_entry(member.name(), value)?;
        }
        map.end()
    }
}
