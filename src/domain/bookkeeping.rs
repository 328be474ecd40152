//! What an item remembers of its latest writes so that a retry is answered, not written
//! again: the request ids and the `Idempotency-Key` records, as fixed-size digests, so
//! that the bookkeeping fits a quarter of a write unit whatever the keys' length.

use sha2::{Digest as _, Sha256};

/// The first 16 bytes of a SHA-256: what the item stores for a request id, a key or a
/// fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest([u8; Digest::LEN]);

impl Digest {
    pub const LEN: usize = 16;

    pub fn of(bytes: &[u8]) -> Self {
        let full = Sha256::digest(bytes);
        let mut out = [0; Self::LEN];
        out.copy_from_slice(&full[..Self::LEN]);
        Self(out)
    }

    /// As stored (a DynamoDB binary value); `None` for any other length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// As the pre-compact records wrote a fingerprint: 32 lower-case hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut out = [0; Self::LEN];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Self(out))
    }

    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

/// An `Idempotency-Key` write as remembered: its key's digest and its request's
/// fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRecord {
    pub key: Digest,
    pub fingerprint: Digest,
}

impl KeyRecord {
    /// A record in the form written before the compact one: `<key> <fingerprint hex>`.
    pub fn from_legacy(record: &str) -> Option<Self> {
        let (key, fingerprint) = record.split_once(' ')?;
        Some(Self {
            key: Digest::of(key.as_bytes()),
            fingerprint: Self::fingerprint(Digest::from_hex(fingerprint), fingerprint.as_bytes()),
        })
    }

    /// A fingerprint as read, or, when it cannot be read, one that no request has: the key
    /// still counts as used (422 to another request, as the condition refuses it anyway),
    /// and a migration carries it over as such.
    pub fn fingerprint(read: Option<Digest>, stored: &[u8]) -> Digest {
        read.unwrap_or_else(|| Digest::of(&[b"unreadable fingerprint ", stored].concat()))
    }
}

/// Which form a write leaves its bookkeeping in (`BOOKKEEPING_FORMAT`). Every release
/// since the compact form reads and conditions on both; only the form it writes differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BookkeepingFormat {
    /// Digests under short names: every accepted write of a typical connection is one
    /// write unit. An item still holding the legacy form is moved to this one.
    #[default]
    Compact,
    /// The form written before: request ids and `<key> <fingerprint>` records as text.
    /// The bridge while a release that knows only this form still serves the table.
    Legacy,
}

impl BookkeepingFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "compact" => Some(Self::Compact),
            "legacy" => Some(Self::Legacy),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_the_first_half_of_sha256() {
        // Pinned: items written by one release are read by the next.
        let d = Digest::of(b"8e03978e-40d5-43e8-bc93-6894a57f9324");
        assert_eq!(
            hex::encode(d.as_bytes()),
            "238c5b6ddb487a6d063ce774c2f42b20"
        );
        assert_eq!(Digest::from_bytes(d.as_bytes()), Some(d));
        assert_eq!(Digest::from_bytes(&[0; 15]), None);
        assert_eq!(Digest::from_bytes(&[0; 17]), None);
    }

    #[test]
    fn a_legacy_record_reads_as_its_digests() {
        let fp = "0123456789abcdef0123456789abcdef";
        let r = KeyRecord::from_legacy(&format!("k-1 {fp}")).unwrap();
        assert_eq!(r.key, Digest::of(b"k-1"));
        assert_eq!(hex::encode(r.fingerprint.as_bytes()), fp);
        assert_eq!(KeyRecord::from_legacy("k-1"), None);
        // A key with an unreadable fingerprint is still the key, of another request.
        for bad in ["k-1 0123", "k-1 zz23456789abcdef0123456789abcdef"] {
            let r = KeyRecord::from_legacy(bad).unwrap();
            assert_eq!(r.key, Digest::of(b"k-1"));
            assert_ne!(r.fingerprint, Digest::of(b"k-1"));
        }
    }

    #[test]
    fn formats_by_name() {
        assert_eq!(
            BookkeepingFormat::parse("compact"),
            Some(BookkeepingFormat::Compact)
        );
        assert_eq!(
            BookkeepingFormat::parse("legacy"),
            Some(BookkeepingFormat::Legacy)
        );
        assert_eq!(BookkeepingFormat::parse("Compact"), None);
    }
}
