//! `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): a client's own name for
//! one intended change, so that its retry of a write whose answer it lost is answered
//! instead of written again.

use super::bookkeeping::{Digest, KeyRecord};
use super::{Change, Patch, Precondition};

/// A key as the client sent it: an sf-string (`"…"`, as the draft writes it) or the same
/// characters bare, 1 to 128 visible ASCII characters without `"`, `\`, a space or a comma
/// (an HTTP API joins repeated headers with commas: `a, b` is two keys, never one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// Why an `Idempotency-Key` header was refused; the caller is told which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadIdempotencyKey {
    Repeated,
    Invalid,
}

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    /// Every `Idempotency-Key` line of the request: none, or exactly one valid key.
    pub fn from_lines(lines: &[&str]) -> Result<Option<Self>, BadIdempotencyKey> {
        let line = match lines {
            [] => return Ok(None),
            [line] => line.trim(),
            _ => return Err(BadIdempotencyKey::Repeated),
        };
        let key = line
            .strip_prefix('"')
            .and_then(|k| k.strip_suffix('"'))
            .unwrap_or(line);
        let valid = !key.is_empty()
            && key.len() <= Self::MAX_LEN
            && key
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\\' | b','));
        if valid {
            Ok(Some(Self(key.to_owned())))
        } else {
            Err(BadIdempotencyKey::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key with the fingerprint of the request it named: what a write records, and what a
/// retry is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: IdempotencyKey,
    /// What a record holds of the key, whatever its length.
    pub key_digest: Digest,
    /// Of the parsed patch and the If-Match list: two requests the function reads alike
    /// have the same fingerprint, whatever their bytes.
    pub fingerprint: Digest,
}

impl Idempotency {
    pub fn new(key: IdempotencyKey, patch: &Patch, precondition: &Precondition) -> Self {
        // Only the members the request changes: a member added in a later release must not
        // change the fingerprint of a retry recorded before it.
        let mut canonical = String::from("PATCH\n");
        for (m, change) in patch.changes() {
            canonical.push_str(m.name());
            match change {
                Change::Keep => canonical.push_str(" keep"),
                Change::Remove => canonical.push_str(" remove"),
                Change::Set(v) => {
                    canonical.push_str(" set ");
                    canonical.push_str(&v.len().to_string());
                    canonical.push(':');
                    canonical.push_str(v);
                }
            }
            canonical.push('\n');
        }
        match precondition {
            Precondition::None => canonical.push_str("if-match none"),
            Precondition::Any => canonical.push_str("if-match *"),
            Precondition::Versions(versions) => {
                let mut versions = versions.clone();
                versions.sort_unstable();
                canonical.push_str("if-match");
                for v in versions {
                    canonical.push_str(&format!(" {v}"));
                }
            }
        }
        Self {
            key_digest: Digest::of(key.as_str().as_bytes()),
            key,
            fingerprint: Digest::of(canonical.as_bytes()),
        }
    }

    /// The record a compact write stores.
    pub fn record(&self) -> KeyRecord {
        KeyRecord {
            key: self.key_digest,
            fingerprint: self.fingerprint,
        }
    }

    /// The record a legacy write stores: the key, a space (never in a key), the
    /// fingerprint in hex.
    pub fn legacy_record(&self) -> String {
        format!(
            "{} {}",
            self.key.as_str(),
            hex::encode(self.fingerprint.as_bytes())
        )
    }

    /// The start of every legacy record of this key.
    pub fn legacy_record_prefix(&self) -> String {
        format!("{} ", self.key.as_str())
    }

    /// What a stored record says of this request.
    pub fn compare(&self, record: &KeyRecord) -> Recorded {
        if record.key != self.key_digest {
            Recorded::OtherKey
        } else if record.fingerprint == self.fingerprint {
            Recorded::SameRequest
        } else {
            Recorded::OtherRequest
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    SameRequest,
    OtherRequest,
    OtherKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(line: &str) -> Result<Option<IdempotencyKey>, BadIdempotencyKey> {
        IdempotencyKey::from_lines(&[line])
    }

    #[test]
    fn keys_are_sf_strings_or_bare() {
        let k = "8e03978e-40d5-43e8-bc93-6894a57f9324";
        assert_eq!(key(&format!("\"{k}\"")).unwrap().unwrap().as_str(), k);
        assert_eq!(key(k).unwrap().unwrap().as_str(), k);
        assert_eq!(IdempotencyKey::from_lines(&[]), Ok(None));
        for bad in [
            "",
            "\"\"",
            "a b",
            "a\"b",
            "a\\b",
            "é",
            &"x".repeat(129),
            "a,b",
            "a, b",
        ] {
            assert_eq!(key(bad), Err(BadIdempotencyKey::Invalid), "{bad:?}");
        }
        assert_eq!(
            IdempotencyKey::from_lines(&["a", "a"]),
            Err(BadIdempotencyKey::Repeated)
        );
    }

    #[test]
    fn the_fingerprint_is_of_the_parsed_request() {
        let k = || IdempotencyKey::from_lines(&["k"]).unwrap().unwrap();
        let patch = |b: &str| Patch::from_json(b.as_bytes()).unwrap();
        let fp = |b: &str, p: Precondition| Idempotency::new(k(), &patch(b), &p).fingerprint;
        let none = || Precondition::None;
        // Bytes differ, the request does not.
        assert_eq!(
            fp(r#"{"email":"a@b.co","customer_id":null}"#, none()),
            fp(r#" { "email" : "a@b.co" } "#, none())
        );
        assert_eq!(
            fp(r#"{"email":"a@b.co"}"#, Precondition::Versions(vec![3, 2])),
            fp(r#"{"email":"a@b.co"}"#, Precondition::Versions(vec![2, 3]))
        );
        assert_ne!(
            fp(r#"{"email":"a@b.co"}"#, none()),
            fp(r#"{"email":"c@b.co"}"#, none())
        );
        assert_ne!(
            fp(r#"{"email":null}"#, none()),
            fp(r#"{"mobile":null}"#, none())
        );
        assert_ne!(
            fp(r#"{"email":"a@b.co"}"#, none()),
            fp(r#"{"email":"a@b.co"}"#, Precondition::Versions(vec![1]))
        );
        // Pinned: a fingerprint stored by one release must match the next one's.
        assert_eq!(
            fp(r#"{"email":"a@b.co"}"#, none()),
            Digest::of(b"PATCH\nemail set 6:a@b.co\nif-match none")
        );
        let i = Idempotency::new(k(), &patch(r#"{"email":null}"#), &none());
        assert_eq!(i.compare(&i.record()), Recorded::SameRequest);
        let legacy = |r: &str| KeyRecord::from_legacy(r).unwrap();
        assert_eq!(
            i.compare(&legacy(&i.legacy_record())),
            Recorded::SameRequest
        );
        let other = "0".repeat(32);
        assert_eq!(
            i.compare(&legacy(&format!("k {other}"))),
            Recorded::OtherRequest
        );
        assert_eq!(
            i.compare(&legacy(&format!("kk {other}"))),
            Recorded::OtherKey
        );
        assert!(i.legacy_record().starts_with(&i.legacy_record_prefix()));
        // The legacy condition refuses a key by this prefix: the key and its separator.
        assert_eq!(i.legacy_record_prefix(), "k ");
    }
}
