//! Why a conditional update was refused, read from the item as it was (ALL_OLD).
//!
//! The database judged the condition; this only names which part failed, in the
//! contract's order, so that no second read is needed.

use super::{Change, Connection, DISCONNECTED, Patch, Precondition, WRITE_SCOPE};

/// Who is asking: the client behind the API key and the hash of the bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    pub token_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No item, or another client's: the same answer, so ids cannot be probed.
    NotFound,
    InvalidToken,
    InsufficientScope,
    PreconditionFailed,
    /// Already disconnected and the request would change something.
    Disconnected,
    /// A retry: already disconnected with exactly the values asked for, or this request's
    /// own earlier attempt wrote. Answered with the stored connection, nothing written.
    AlreadyApplied,
    /// Every part of the condition holds on the old item; the condition should not have
    /// failed. Only a bug or a concurrent schema change gets here.
    Unexplained,
}

/// `old` is the caller's own item (the store tells "no item, or another client's" apart
/// before parsing); the owner is compared again here only as a second line of defence.
pub fn why_refused(
    old: &Connection,
    request_id: &str,
    caller: &Caller,
    patch: &Patch,
    precondition: &Precondition,
    now_epoch: u64,
) -> Refusal {
    if old.client_id != caller.client_id {
        return Refusal::NotFound;
    }
    // An earlier attempt of this very request wrote; its answer was lost on the way back.
    if old.recent_request_ids.iter().any(|id| id == request_id) {
        return Refusal::AlreadyApplied;
    }
    let expired = old.token_expires_at.is_some_and(|at| at <= now_epoch);
    if !hashes_equal(&old.token_sha256, &caller.token_sha256) || expired {
        return Refusal::InvalidToken;
    }
    // The scopes were read from a string set only, as the condition demands.
    if !old.token_scopes.iter().any(|s| s == WRITE_SCOPE) {
        return Refusal::InsufficientScope;
    }
    if !precondition.allows(old.version) {
        return Refusal::PreconditionFailed;
    }
    if old.status == DISCONNECTED {
        return if already_applied(old, patch) {
            Refusal::AlreadyApplied
        } else {
            Refusal::Disconnected
        };
    }
    Refusal::Unexplained
}

/// True when every value the patch asks for is already stored.
pub fn already_applied(old: &Connection, patch: &Patch) -> bool {
    fn same<T>(change: &Change<T>, stored: Option<&str>, as_str: fn(&T) -> &str) -> bool {
        match change {
            Change::Keep => true,
            Change::Remove => stored.is_none(),
            Change::Set(v) => stored == Some(as_str(v)),
        }
    }
    patch
        .customer_id
        .as_ref()
        .is_none_or(|c| c.as_str() == old.customer_id)
        && same(&patch.email, old.email.as_deref(), |e| e.as_str())
        && same(&patch.mobile, old.mobile.as_deref(), |m| m.as_str())
        && (!patch.disconnect || old.status == DISCONNECTED)
}

/// Compares two hex digests without an early exit. They are hashes, not secrets, but a
/// uniform comparison costs nothing and keeps timing from saying how much matched.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, Mobile};

    fn stored() -> Connection {
        Connection {
            connection_id: "01J51S0JYV6N7K1030CV1ZKSCA".into(),
            client_id: "client-a".into(),
            customer_id: "cust-1".into(),
            retailer_id: "01J7SC0NN73R6F5VVSP3ZKPDA3".into(),
            status: "active".into(),
            email: Some("alice@example.com".into()),
            mobile: None,
            token_sha256: "ab".repeat(32),
            token_scopes: vec![WRITE_SCOPE.into()],
            token_expires_at: Some(2_000),
            version: 4,
            recent_request_ids: vec!["request-1".into(), "request-0".into()],
        }
    }

    fn caller() -> Caller {
        Caller {
            client_id: "client-a".into(),
            token_sha256: "ab".repeat(32),
        }
    }

    fn disconnect() -> Patch {
        Patch {
            customer_id: None,
            email: Change::Keep,
            mobile: Change::Keep,
            disconnect: true,
        }
    }

    fn refusal(old: &Connection, patch: &Patch, pre: &Precondition) -> Refusal {
        why_refused(old, "request-2", &caller(), patch, pre, 1_000)
    }

    #[test]
    fn follows_the_contract_order() {
        let p = disconnect();
        let none = Precondition::None;

        // Another client's item is "not found", even with every other rule broken.
        let mut c = stored();
        c.client_id = "client-b".into();
        c.token_sha256 = "cd".repeat(32);
        assert_eq!(refusal(&c, &p, &none), Refusal::NotFound);

        let mut c = stored();
        c.token_sha256 = "cd".repeat(32);
        c.token_scopes.clear();
        assert_eq!(refusal(&c, &p, &none), Refusal::InvalidToken);

        let mut c = stored();
        c.token_expires_at = Some(1_000); // expires at "now": expired
        assert_eq!(refusal(&c, &p, &none), Refusal::InvalidToken);

        let mut c = stored();
        c.token_scopes = vec!["connections:read".into()];
        c.status = DISCONNECTED.into();
        assert_eq!(refusal(&c, &p, &none), Refusal::InsufficientScope);

        let mut c = stored();
        c.status = DISCONNECTED.into();
        assert_eq!(
            refusal(&c, &p, &Precondition::Versions(vec![3])),
            Refusal::PreconditionFailed
        );
        assert_eq!(
            refusal(&c, &p, &Precondition::Versions(vec![4])),
            Refusal::AlreadyApplied
        );
        assert_eq!(refusal(&stored(), &p, &none), Refusal::Unexplained);
    }

    #[test]
    fn a_disconnected_connection_accepts_only_retries() {
        let mut c = stored();
        c.status = DISCONNECTED.into();
        let none = Precondition::None;
        let mut p = disconnect();
        p.email = Change::Set(Email::parse("alice@example.com").unwrap());
        p.mobile = Change::Remove;
        assert_eq!(refusal(&c, &p, &none), Refusal::AlreadyApplied);

        p.mobile = Change::Set(Mobile::parse("+14155550123").unwrap());
        assert_eq!(refusal(&c, &p, &none), Refusal::Disconnected);

        let mut p = disconnect();
        p.email = Change::Remove;
        assert_eq!(refusal(&c, &p, &none), Refusal::Disconnected);
    }

    #[test]
    fn a_retried_attempt_of_the_same_request_is_answered_not_written() {
        let mut c = stored();
        c.recent_request_ids = vec!["request-3".into(), "request-2".into()];
        c.email = Some("new@example.com".into());
        let mut p = disconnect();
        p.disconnect = false;
        p.email = Change::Set(Email::parse("new@example.com").unwrap());
        assert_eq!(
            refusal(&c, &p, &Precondition::None),
            Refusal::AlreadyApplied
        );
        // Another client's item never counts as ours, whatever it holds.
        c.client_id = "client-b".into();
        assert_eq!(refusal(&c, &p, &Precondition::None), Refusal::NotFound);
    }

    #[test]
    fn a_disconnect_is_applied_only_once_the_connection_is_disconnected() {
        // Same contact values, but still active: the disconnect is not yet applied.
        assert!(!already_applied(&stored(), &disconnect()));
        let mut c = stored();
        c.status = DISCONNECTED.into();
        assert!(already_applied(&c, &disconnect()));
        // A contact-only patch with the stored values is applied whatever the status.
        let mut p = disconnect();
        p.disconnect = false;
        assert!(already_applied(&stored(), &p));
    }

    #[test]
    fn hash_comparison() {
        assert!(hashes_equal("abc", "abc"));
        assert!(!hashes_equal("abc", "abd"));
        assert!(!hashes_equal("abc", "abcd"));
    }
}
