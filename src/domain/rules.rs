//! Why a conditional update was refused, read from the item as it was (ALL_OLD).
//!
//! The database judged the condition; this only names which part failed, in the
//! contract's order, so that no second read is needed.

use subtle::ConstantTimeEq;

use super::{BookkeepingFormat, Change, Connection, Patch, Recorded, UpdateRequest, WRITE_SCOPE};

/// What a refused write's old item says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// A rule of the contract failed: the caller is told which.
    Refused(Refusal),
    /// A retry: already disconnected with exactly the values asked for, or this request's
    /// own earlier attempt wrote. Answered with the stored connection, nothing written.
    AlreadyApplied,
    /// The client's retry of a write it named with the same `Idempotency-Key`: answered
    /// with the connection as it is now, nothing written.
    Replayed,
    /// Every rule holds, but the item still holds legacy bookkeeping, which a compact
    /// write must carry over: written again with the records converted
    /// (`Store::migrate_connection`).
    Migrate,
    /// Every part of the condition holds on the old item; the condition should not have
    /// failed. Only a bug or a concurrent schema change gets here.
    Unexplained,
}

/// The rule a write broke, in the contract's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No item, or another client's: the same answer, so ids cannot be probed.
    NotFound,
    InvalidToken,
    InsufficientScope,
    PreconditionFailed,
    /// Already disconnected and the request would change something.
    Disconnected,
    /// The `Idempotency-Key` named another request on this connection.
    IdempotencyKeyReused,
}

/// `old` is the caller's own item (the store tells "no item, or another client's" apart
/// before parsing); the owner is compared again here only as a second line of defence.
pub fn why_refused(old: &Connection, req: &UpdateRequest<'_>) -> Explanation {
    use Explanation::{AlreadyApplied, Migrate, Refused, Replayed, Unexplained};
    if old.client_id != req.caller.client_id {
        return Refused(Refusal::NotFound);
    }
    // An earlier attempt of this very request wrote; its answer was lost on the way back.
    if old.recent_requests.contains(&req.request_digest) {
        return AlreadyApplied;
    }
    // To the instant, as the condition compares it.
    let expired = old
        .token_expires_at
        .is_some_and(|at| at.has_passed(req.now.since_epoch()));
    if !hashes_equal(&old.token_sha256, &req.caller.token_sha256) || expired {
        return Refused(Refusal::InvalidToken);
    }
    // The scopes were read from a string set only, as the condition demands.
    if !old.token_scopes.iter().any(|s| s == WRITE_SCOPE) {
        return Refused(Refusal::InsufficientScope);
    }
    // Before If-Match: the retry of a write that landed would otherwise fail its own
    // precondition.
    if let Some(idempotency) = &req.idempotency {
        for record in &old.idempotency_records {
            match idempotency.compare(record) {
                Recorded::SameRequest => return Replayed,
                Recorded::OtherRequest => return Refused(Refusal::IdempotencyKeyReused),
                Recorded::OtherKey => {}
            }
        }
    }
    if !req.precondition.allows(old.version) {
        return Refused(Refusal::PreconditionFailed);
    }
    if old.is_disconnected() {
        return if already_applied(old, &req.patch) {
            AlreadyApplied
        } else {
            Refused(Refusal::Disconnected)
        };
    }
    if old.legacy_bookkeeping && req.bookkeeping == BookkeepingFormat::Compact {
        return Migrate;
    }
    Unexplained
}

/// True when every value the patch asks for is already stored.
pub fn already_applied(old: &Connection, patch: &Patch) -> bool {
    patch.changes().all(|(member, change)| {
        let stored = old.members[member].as_deref();
        match change {
            Change::Keep => true,
            Change::Remove => stored.is_none(),
            Change::Set(v) => stored == Some(v.as_str()),
        }
    })
}

/// Compares two hex digests without an early exit. They are hashes, not secrets, but a
/// uniform comparison costs nothing and keeps timing from saying how much matched.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock;
    use crate::domain::member::{Member, Members};
    use crate::domain::{
        Caller, ClientId, ConnectionId, DISCONNECTED, Digest, Expiry, KeyRecord, Precondition,
    };

    fn digest(text: &str) -> Digest {
        Digest::of(text.as_bytes())
    }

    fn client(id: &str) -> ClientId {
        ClientId::new(id).unwrap()
    }

    fn stored() -> Connection {
        let mut members = Members::default();
        members[Member::CustomerId] = Some("cust-1".into());
        members[Member::Status] = Some("active".into());
        members[Member::Email] = Some("alice@example.com".into());
        Connection {
            connection_id: "01J51S0JYV6N7K1030CV1ZKSCA".into(),
            client_id: client("client-a"),
            retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA3".into(),
            members,
            token_sha256: "ab".repeat(32),
            token_scopes: vec![WRITE_SCOPE.into()],
            token_expires_at: Some(Expiry::parse("2000").unwrap()),
            version: 4,
            recent_requests: vec![digest("request-1"), digest("request-0")],
            idempotency_records: Vec::new(),
            legacy_bookkeeping: false,
        }
    }

    fn patch(body: &str) -> Patch {
        Patch::from_json(body.as_bytes()).unwrap()
    }

    fn disconnect() -> Patch {
        patch(r#"{"status":"disconnected"}"#)
    }

    fn disconnected() -> Connection {
        let mut c = stored();
        c.members[Member::Status] = Some(DISCONNECTED.into());
        c
    }

    fn request(patch: &Patch, pre: &Precondition) -> UpdateRequest<'static> {
        UpdateRequest {
            id: ConnectionId::parse("01J51S0JYV6N7K1030CV1ZKSCA").unwrap(),
            request_id: "request-2",
            request_digest: digest("request-2"),
            bookkeeping: BookkeepingFormat::Compact,
            caller: Caller {
                client_id: client("client-a"),
                token_sha256: "ab".repeat(32),
            },
            patch: patch.clone(),
            precondition: pre.clone(),
            idempotency: None,
            now: clock::at(Duration::from_secs(1_000)),
        }
    }

    fn explain(old: &Connection, patch: &Patch, pre: &Precondition) -> Explanation {
        why_refused(old, &request(patch, pre))
    }

    fn refusal(old: &Connection, patch: &Patch, pre: &Precondition) -> Refusal {
        match explain(old, patch, pre) {
            Explanation::Refused(r) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn follows_the_contract_order() {
        let p = disconnect();
        let none = Precondition::None;

        // Another client's item is "not found", even with every other rule broken.
        let mut c = stored();
        c.client_id = client("client-b");
        c.token_sha256 = "cd".repeat(32);
        assert_eq!(refusal(&c, &p, &none), Refusal::NotFound);

        let mut c = stored();
        c.token_sha256 = "cd".repeat(32);
        c.token_scopes.clear();
        assert_eq!(refusal(&c, &p, &none), Refusal::InvalidToken);

        let mut c = stored();
        c.token_expires_at = Expiry::parse("1000").ok(); // expires at "now": expired
        assert_eq!(refusal(&c, &p, &none), Refusal::InvalidToken);

        let mut c = disconnected();
        c.token_scopes = vec!["connections:read".into()];
        assert_eq!(refusal(&c, &p, &none), Refusal::InsufficientScope);

        let c = disconnected();
        assert_eq!(
            refusal(&c, &p, &Precondition::Versions(vec![3])),
            Refusal::PreconditionFailed
        );
        assert_eq!(
            explain(&c, &p, &Precondition::Versions(vec![4])),
            Explanation::AlreadyApplied
        );
        assert_eq!(explain(&stored(), &p, &none), Explanation::Unexplained);
    }

    #[test]
    fn an_expiry_counts_to_the_instant() {
        let p = disconnect();
        let none = Precondition::None;
        let mut c = stored();
        let mut req = request(&p, &none);
        req.now = clock::at(Duration::new(1_000, 500_000_000));
        c.token_expires_at = Expiry::parse("1000.2").ok();
        assert_eq!(
            why_refused(&c, &req),
            Explanation::Refused(Refusal::InvalidToken)
        );
        // Not expired: the condition failed for another reason, named as such.
        c.token_expires_at = Expiry::parse("1000.7").ok();
        assert_eq!(why_refused(&c, &req), Explanation::Unexplained);
        c.token_expires_at = Expiry::parse("1e20").ok();
        assert_eq!(why_refused(&c, &req), Explanation::Unexplained);
    }

    #[test]
    fn a_key_is_judged_after_the_credentials_and_before_if_match() {
        use crate::domain::{Idempotency, IdempotencyKey};
        let p = patch(r#"{"email":"new@example.com"}"#);
        let stale = Precondition::Versions(vec![3]);
        let key = IdempotencyKey::from_lines(&["k-1"]).unwrap().unwrap();
        let mut req = request(&p, &stale);
        let same = Idempotency::new(key.clone(), &p, &stale);
        let mut c = disconnected();
        let other = KeyRecord {
            key: digest("other"),
            fingerprint: digest("00"),
        };
        c.idempotency_records = vec![other, same.record()];
        req.idempotency = Some(same);
        assert_eq!(why_refused(&c, &req), Explanation::Replayed);
        // Another request under the same key.
        req.idempotency = Some(Idempotency::new(key, &p, &Precondition::None));
        assert_eq!(
            why_refused(&c, &req),
            Explanation::Refused(Refusal::IdempotencyKeyReused)
        );
        // A key is no credential: a wrong token is still 401.
        req.caller.token_sha256 = "cd".repeat(32);
        assert_eq!(
            why_refused(&c, &req),
            Explanation::Refused(Refusal::InvalidToken)
        );
    }

    #[test]
    fn a_disconnected_connection_accepts_only_retries() {
        let c = disconnected();
        let none = Precondition::None;
        let p = patch(r#"{"status":"disconnected","email":"alice@example.com","mobile":null}"#);
        assert_eq!(explain(&c, &p, &none), Explanation::AlreadyApplied);

        let p = patch(r#"{"status":"disconnected","mobile":"+14155550123"}"#);
        assert_eq!(refusal(&c, &p, &none), Refusal::Disconnected);

        let p = patch(r#"{"status":"disconnected","email":null}"#);
        assert_eq!(refusal(&c, &p, &none), Refusal::Disconnected);
    }

    #[test]
    fn every_member_counts_towards_already_applied() {
        // Each member, changed alone on a disconnected connection, is a change: 409.
        let c = disconnected();
        for m in Member::ALL.iter().filter(|m| **m != Member::Status) {
            assert_ne!(c.members[*m].as_deref(), Some(m.example()), "{m:?}");
            let body = format!(r#"{{"{}":"{}"}}"#, m.name(), m.example());
            assert_eq!(
                refusal(&c, &patch(&body), &Precondition::None),
                Refusal::Disconnected,
                "{m:?}"
            );
        }
    }

    #[test]
    fn a_retried_attempt_of_the_same_request_is_answered_not_written() {
        let mut c = stored();
        c.recent_requests = vec![digest("request-3"), digest("request-2")];
        c.members[Member::Email] = Some("new@example.com".into());
        let p = patch(r#"{"email":"new@example.com"}"#);
        assert_eq!(
            explain(&c, &p, &Precondition::None),
            Explanation::AlreadyApplied
        );
        // Another client's item never counts as ours, whatever it holds.
        c.client_id = client("client-b");
        assert_eq!(refusal(&c, &p, &Precondition::None), Refusal::NotFound);
    }

    #[test]
    fn a_disconnect_is_applied_only_once_the_connection_is_disconnected() {
        // Same contact values, but still active: the disconnect is not yet applied.
        assert!(!already_applied(&stored(), &disconnect()));
        assert!(already_applied(&disconnected(), &disconnect()));
        // A contact-only patch with the stored values is applied whatever the status.
        assert!(already_applied(
            &stored(),
            &patch(r#"{"email":"alice@example.com","customer_id":"cust-1"}"#)
        ));
    }

    #[test]
    fn a_compact_write_carries_legacy_bookkeeping_over_once_every_rule_holds() {
        let p = patch(r#"{"email":"new@example.com"}"#);
        let none = Precondition::None;
        let mut c = stored();
        c.legacy_bookkeeping = true;
        let mut req = request(&p, &none);
        assert_eq!(why_refused(&c, &req), Explanation::Migrate);
        // A rule that fails is still named first.
        req.precondition = Precondition::Versions(vec![3]);
        assert_eq!(
            why_refused(&c, &req),
            Explanation::Refused(Refusal::PreconditionFailed)
        );
        // A legacy write keeps the legacy form: nothing to carry over.
        req.precondition = none;
        req.bookkeeping = BookkeepingFormat::Legacy;
        assert_eq!(why_refused(&c, &req), Explanation::Unexplained);
    }

    #[test]
    fn hash_comparison() {
        assert!(hashes_equal("abc", "abc"));
        assert!(!hashes_equal("abc", "abd"));
        assert!(!hashes_equal("abc", "abcd"));
    }
}
