//! The two credentials: the client's API key and the connection's bearer token.
//!
//! Neither is kept or compared in clear: each is hashed with SHA-256 on arrival, and only
//! the digest is looked up (keys) or sent to the database's condition (tokens).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Longer credentials are refused before hashing: no real key or token is this long.
pub const MAX_CREDENTIAL_LEN: usize = 4096;

/// Lower-case hex SHA-256 of the UTF-8 bytes, as the tables store it.
pub fn sha256_hex(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    out
}

/// The API key from `x-api-key`, if it is plausible at all.
pub fn api_key(header: Option<&str>) -> Option<&str> {
    header.filter(|k| !k.is_empty() && k.len() <= MAX_CREDENTIAL_LEN && visible_ascii(k))
}

/// The token of `Authorization: Bearer <token>`. The scheme is case-insensitive
/// (RFC 9110 §11.1); the token is one run of visible ASCII.
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    let (scheme, rest) = header?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_matches(' ');
    (!token.is_empty() && token.len() <= MAX_CREDENTIAL_LEN && visible_ascii(token))
        .then_some(token)
}

fn visible_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

/// Per-instance memory of API-key lookups, by key digest: the client for an active key,
/// `None` for an unknown or revoked one. Both are kept for `ttl`, so a revocation takes
/// effect within `ttl` and a flood of wrong keys does not become a flood of reads. The map
/// is bounded; when full, expired entries go first, and then everything.
#[derive(Debug)]
pub struct ApiKeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl ApiKeyCache {
    pub const MAX_ENTRIES: usize = 1024;

    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(answer)` when a fresh answer is cached.
    pub fn get(&self, key_sha256: &str, now: Instant) -> Option<Option<String>> {
        let entries = self.entries.lock().ok()?;
        let (client, at) = entries.get(key_sha256)?;
        (now.duration_since(*at) < self.ttl).then(|| client.clone())
    }

    pub fn put(&self, key_sha256: String, client: Option<String>, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= Self::MAX_ENTRIES && !entries.contains_key(&key_sha256) {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| now.duration_since(*at) < ttl);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key_sha256, (client, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_lower_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(Some("Bearer abc.def")), Some("abc.def"));
        assert_eq!(bearer_token(Some("bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("BEARER  abc ")), Some("abc"));
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
            Some("Bearer a b"),
            Some("Bearer\tabc"),
            Some("Bearerabc"),
            Some("Bearer tökén"),
        ] {
            assert_eq!(bearer_token(bad), None, "{bad:?}");
        }
        let long = format!("Bearer {}", "a".repeat(MAX_CREDENTIAL_LEN + 1));
        assert_eq!(bearer_token(Some(&long)), None);
    }

    #[test]
    fn api_key_plausibility() {
        assert_eq!(api_key(Some("k-123")), Some("k-123"));
        assert_eq!(api_key(Some("")), None);
        assert_eq!(api_key(Some("a key")), None);
        assert_eq!(api_key(None), None);
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let cache = ApiKeyCache::new(Duration::from_secs(60));
        let t0 = Instant::now();
        cache.put("k".into(), Some("client".into()), t0);
        assert_eq!(cache.get("k", t0), Some(Some("client".into())));
        assert_eq!(cache.get("k", t0 + Duration::from_secs(61)), None);
        cache.put("bad".into(), None, t0);
        assert_eq!(cache.get("bad", t0), Some(None));
        for i in 0..(ApiKeyCache::MAX_ENTRIES * 3) {
            cache.put(format!("k{i}"), None, t0);
        }
        assert!(cache.entries.lock().unwrap().len() <= ApiKeyCache::MAX_ENTRIES);

        let off = ApiKeyCache::new(Duration::ZERO);
        off.put("k".into(), Some("c".into()), t0);
        assert_eq!(off.get("k", t0), None);
    }
}
