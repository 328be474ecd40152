//! The two credentials: the client's API key and the connection's bearer token.
//!
//! Neither is kept or compared in clear: each is hashed with SHA-256 on arrival, and only
//! the digest is looked up (keys) or sent to the database's condition (tokens).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::domain::ClientId;

/// Longer credentials are refused before hashing: no real key or token is this long.
pub const MAX_CREDENTIAL_LEN: usize = 4096;

/// Lower-case hex SHA-256 of the UTF-8 bytes, as the tables store it.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What the keys table says of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup {
    /// An active key, and the client it belongs to.
    Active(ClientId),
    /// No such key, or a revoked one: the caller is told the same.
    UnknownOrRevoked,
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

/// The two clocks a cache entry is aged by. Lambda freezes idle instances, and the
/// monotonic clock may not advance while frozen; the wall clock does. An entry is fresh
/// only while both say its time-to-live has not passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Stamp {
    pub fn now() -> Self {
        Self {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// True while less than `ttl` has passed since `self` by both clocks. A wall clock that
    /// went backwards cannot say how long it has been, so the entry counts as expired.
    fn fresh_at(&self, now: Stamp, ttl: Duration) -> bool {
        let mono = now.mono.saturating_duration_since(self.mono);
        match now.wall.duration_since(self.wall) {
            Ok(wall) => mono < ttl && wall < ttl,
            Err(_) => false,
        }
    }
}

/// Per-instance memory of API-key lookups, by key digest: the client for an active key,
/// or the fact that a key is unknown or revoked. A revocation takes effect within `ttl`.
///
/// Answers are kept in two bounded maps. Unknown keys cost an attacker nothing to invent,
/// so they live in their own map, only for a few seconds, and a flood of them can only
/// evict each other, never an active key.
#[derive(Debug)]
pub struct ApiKeyCache {
    ttl: Duration,
    negative_ttl: Duration,
    known: Mutex<HashMap<String, (ClientId, Stamp)>>,
    unknown: Mutex<HashMap<String, Stamp>>,
}

impl ApiKeyCache {
    /// Active keys remembered at most; a client has a handful, so this is never reached
    /// in practice, and the oldest goes first if it is.
    pub const MAX_KNOWN: usize = 1024;
    /// Unknown or revoked keys remembered at most.
    pub const MAX_UNKNOWN: usize = 1024;
    /// How long an unknown or revoked key is remembered (capped by `ttl`): long enough to
    /// absorb a burst of retries with one wrong key, short enough that a key created a
    /// moment ago works within seconds.
    pub const NEGATIVE_TTL: Duration = Duration::from_secs(5);

    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            negative_ttl: ttl.min(Self::NEGATIVE_TTL),
            known: Mutex::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
        }
    }

    /// False when the TTL is zero: nothing is ever remembered.
    pub fn remembers(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The cached answer for a key, while it is fresh.
    pub fn get(&self, key_sha256: &str, now: Stamp) -> Option<KeyLookup> {
        if let Ok(known) = self.known.lock()
            && let Some((client, at)) = known.get(key_sha256)
            && at.fresh_at(now, self.ttl)
        {
            return Some(KeyLookup::Active(client.clone()));
        }
        let unknown = self.unknown.lock().ok()?;
        let at = unknown.get(key_sha256)?;
        at.fresh_at(now, self.negative_ttl)
            .then_some(KeyLookup::UnknownOrRevoked)
    }

    pub fn put(&self, key_sha256: String, answer: &KeyLookup, now: Stamp) {
        if self.ttl.is_zero() {
            return;
        }
        match answer {
            KeyLookup::Active(client) => {
                if let Ok(mut unknown) = self.unknown.lock() {
                    unknown.remove(&key_sha256);
                }
                let Ok(mut known) = self.known.lock() else {
                    return;
                };
                if known.len() >= Self::MAX_KNOWN && !known.contains_key(&key_sha256) {
                    let ttl = self.ttl;
                    known.retain(|_, (_, at)| at.fresh_at(now, ttl));
                    if known.len() >= Self::MAX_KNOWN {
                        let oldest = known
                            .iter()
                            .min_by_key(|(_, (_, at))| at.mono)
                            .map(|(k, _)| k.clone());
                        if let Some(oldest) = oldest {
                            known.remove(&oldest);
                        }
                    }
                }
                known.insert(key_sha256, (client.clone(), now));
            }
            KeyLookup::UnknownOrRevoked => {
                if let Ok(mut known) = self.known.lock() {
                    known.remove(&key_sha256);
                }
                let Ok(mut unknown) = self.unknown.lock() else {
                    return;
                };
                if unknown.len() >= Self::MAX_UNKNOWN && !unknown.contains_key(&key_sha256) {
                    let ttl = self.negative_ttl;
                    unknown.retain(|_, at| at.fresh_at(now, ttl));
                    // Still full of fresh guesses: forgetting them costs one read each.
                    if unknown.len() >= Self::MAX_UNKNOWN {
                        unknown.clear();
                    }
                }
                unknown.insert(key_sha256, now);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let known = self.known.lock().map(|m| m.len()).unwrap_or(0);
        let unknown = self.unknown.lock().map(|m| m.len()).unwrap_or(0);
        (known, unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(id: &str) -> KeyLookup {
        KeyLookup::Active(ClientId::new(id).unwrap())
    }

    const UNKNOWN: KeyLookup = KeyLookup::UnknownOrRevoked;

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

    fn at(secs: u64) -> (Instant, SystemTime) {
        (
            Instant::now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        )
    }

    fn stamp(mono: Instant, wall: SystemTime) -> Stamp {
        Stamp { mono, wall }
    }

    #[test]
    fn cache_expires_by_either_clock() {
        let ttl = Duration::from_secs(60);
        let cache = ApiKeyCache::new(ttl);
        let (m0, w0) = at(1_000_000);
        let t0 = stamp(m0, w0);
        cache.put("k".into(), &active("client"), t0);
        assert_eq!(cache.get("k", t0), Some(active("client")));
        let later = Duration::from_secs(61);
        // Both clocks moved on.
        assert_eq!(cache.get("k", stamp(m0 + later, w0 + later)), None);
        // Frozen instance: the monotonic clock stood still, the wall clock did not.
        assert_eq!(cache.get("k", stamp(m0, w0 + later)), None);
        // The wall clock was stepped back: the monotonic clock still expires the entry.
        assert_eq!(cache.get("k", stamp(m0 + later, w0)), None);
        // A wall clock that goes backwards cannot vouch for the entry's age.
        let back = stamp(m0 + Duration::from_secs(1), w0 - Duration::from_secs(1));
        assert_eq!(cache.get("k", back), None);
        // Within the TTL by both clocks.
        let soon = Duration::from_secs(59);
        assert_eq!(
            cache.get("k", stamp(m0 + soon, w0 + soon)),
            Some(active("client"))
        );

        let off = ApiKeyCache::new(Duration::ZERO);
        off.put("k".into(), &active("c"), t0);
        assert_eq!(off.get("k", t0), None);
    }

    #[test]
    fn unknown_keys_are_remembered_briefly_and_never_evict_active_ones() {
        let cache = ApiKeyCache::new(Duration::from_secs(60));
        let (m0, w0) = at(1_000_000);
        let t0 = stamp(m0, w0);
        cache.put("good".into(), &active("client"), t0);
        cache.put("bad".into(), &UNKNOWN, t0);
        assert_eq!(cache.get("bad", t0), Some(UNKNOWN));
        let six = Duration::from_secs(6);
        assert_eq!(cache.get("bad", stamp(m0 + six, w0 + six)), None);

        for i in 0..(ApiKeyCache::MAX_UNKNOWN * 10) {
            cache.put(format!("guess-{i}"), &UNKNOWN, t0);
        }
        assert_eq!(cache.get("good", t0), Some(active("client")));
        let (known, unknown) = cache.len();
        assert_eq!(known, 1);
        assert!(unknown <= ApiKeyCache::MAX_UNKNOWN);

        // A short TTL caps the negative one too.
        let short = ApiKeyCache::new(Duration::from_secs(2));
        short.put("bad".into(), &UNKNOWN, t0);
        let three = Duration::from_secs(3);
        assert_eq!(short.get("bad", stamp(m0 + three, w0 + three)), None);
    }

    #[test]
    fn an_entry_expires_when_its_ttl_has_passed_exactly() {
        let ttl = Duration::from_secs(60);
        let cache = ApiKeyCache::new(ttl);
        let (m0, w0) = at(1_000_000);
        cache.put("k".into(), &active("client"), stamp(m0, w0));
        let under = ttl - Duration::from_millis(1);
        assert_eq!(
            cache.get("k", stamp(m0 + under, w0 + under)),
            Some(active("client"))
        );
        // Either clock at exactly the TTL expires it.
        assert_eq!(cache.get("k", stamp(m0 + ttl, w0 + under)), None);
        assert_eq!(cache.get("k", stamp(m0 + under, w0 + ttl)), None);
    }

    #[test]
    fn a_full_cache_keeps_every_entry_when_a_known_key_comes_again() {
        let cache = ApiKeyCache::new(Duration::from_secs(60));
        let (m0, w0) = at(1_000_000);
        let t0 = stamp(m0, w0);
        for i in 0..ApiKeyCache::MAX_KNOWN {
            cache.put(format!("good-{i}"), &active("c"), t0);
        }
        for i in 0..ApiKeyCache::MAX_UNKNOWN {
            cache.put(format!("bad-{i}"), &UNKNOWN, t0);
        }
        // Answering an already remembered key again evicts nothing.
        cache.put("good-7".into(), &active("c"), t0);
        cache.put("bad-7".into(), &UNKNOWN, t0);
        assert_eq!(
            cache.len(),
            (ApiKeyCache::MAX_KNOWN, ApiKeyCache::MAX_UNKNOWN)
        );
        assert_eq!(cache.get("good-0", t0), Some(active("c")));
        assert_eq!(cache.get("bad-0", t0), Some(UNKNOWN));
    }

    #[test]
    fn active_keys_stay_bounded() {
        let cache = ApiKeyCache::new(Duration::from_secs(60));
        let (m0, w0) = at(1_000_000);
        for i in 0..(ApiKeyCache::MAX_KNOWN + 10) {
            let d = Duration::from_millis(i as u64);
            cache.put(format!("k{i}"), &active("c"), stamp(m0 + d, w0 + d));
        }
        assert_eq!(cache.len().0, ApiKeyCache::MAX_KNOWN);
        let last = ApiKeyCache::MAX_KNOWN + 9;
        let d = Duration::from_millis(last as u64);
        assert!(
            cache
                .get(&format!("k{last}"), stamp(m0 + d, w0 + d))
                .is_some()
        );
    }
}
