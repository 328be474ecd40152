//! The members a PATCH body may change: their one definition. The body parser, the update
//! expression, the retry check, the item read-back, the response view and the catalogue's
//! texts all walk `Member::ALL` and ask these matches, so a new member is one variant here
//! and the compiler points at every property it still lacks.

use std::ops::{Index, IndexMut};

use super::{CustomerId, DISCONNECTED, Email, Mobile};
use crate::schema::connection as attr;

/// Declares the enum and `ALL` from one list, so `ALL` cannot miss a variant.
macro_rules! members {
    ($($variant:ident),+ $(,)?) => {
        /// A member of the connection that a PATCH may change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Member {
            $($variant),+
        }

        impl Member {
            /// Every member, in the contract's order.
            pub const ALL: &[Member] = &[$(Member::$variant),+];
        }
    };
}

members!(CustomerId, Email, Mobile, Status);

impl Member {
    pub const COUNT: usize = Self::ALL.len();

    /// Its name in a body and in a response.
    pub const fn name(self) -> &'static str {
        match self {
            Self::CustomerId => "customer_id",
            Self::Email => "email",
            Self::Mobile => "mobile",
            Self::Status => "status",
        }
    }

    /// The attribute that stores it.
    pub const fn attribute(self) -> &'static str {
        match self {
            Self::CustomerId => attr::CUSTOMER_ID,
            Self::Email => attr::EMAIL,
            Self::Mobile => attr::MOBILE,
            Self::Status => attr::STATUS,
        }
    }

    /// Whether a connection may be without it. A removable member's `null` removes it; a
    /// required one is always stored (an item without it is malformed) and its `null` in
    /// an `application/json` body leaves it unchanged.
    pub const fn removable(self) -> bool {
        match self {
            Self::Email | Self::Mobile => true,
            Self::CustomerId | Self::Status => false,
        }
    }

    /// The value to store for a string in a body, or why it cannot be stored.
    pub fn parse(self, raw: &str) -> Result<String, &'static str> {
        match self {
            Self::CustomerId => CustomerId::parse(raw).map(CustomerId::into_string),
            Self::Email => Email::parse(raw).map(Email::into_string),
            Self::Mobile => Mobile::parse(raw).map(Mobile::into_string),
            // The only status this endpoint writes.
            Self::Status if raw == DISCONNECTED => Ok(DISCONNECTED.to_owned()),
            Self::Status => Err(STATUS_MESSAGE),
        }
    }

    /// The longest value it accepts, in characters (openapi.yaml's `maxLength`); None when
    /// it accepts one value only.
    pub const fn max_len(self) -> Option<usize> {
        match self {
            Self::CustomerId => Some(CustomerId::MAX_CHARS),
            Self::Email => Some(Email::MAX_LEN),
            Self::Mobile => Some(Mobile::MAX_LEN),
            Self::Status => None,
        }
    }

    /// What a value that is neither a string nor `null` is told.
    pub const fn wrong_type(self) -> &'static str {
        match self {
            Self::CustomerId => "must be a string",
            Self::Email | Self::Mobile => "must be a string or null",
            Self::Status => STATUS_MESSAGE,
        }
    }

    /// An attribute stamped with the write's time whenever this member is set.
    pub const fn stamps(self) -> Option<&'static str> {
        match self {
            Self::Status => Some(attr::DISCONNECTED_AT),
            Self::CustomerId | Self::Email | Self::Mobile => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// A value each member accepts, for the tests that walk every member (unit and
    /// integration tests alike).
    pub const fn example(self) -> &'static str {
        match self {
            Self::CustomerId => "C-1",
            Self::Email => "bob@example.com",
            Self::Mobile => "+14155550123",
            Self::Status => DISCONNECTED,
        }
    }
}

const STATUS_MESSAGE: &str = "can only be \"disconnected\"";

/// The names of every member a body may hold: the parser's whole vocabulary (openapi.yaml
/// is held to it).
pub const MEMBERS: [&str; Member::COUNT] = {
    let mut names = [""; Member::COUNT];
    let mut i = 0;
    while i < Member::COUNT {
        names[i] = Member::ALL[i].name();
        i += 1;
    }
    names
};

/// Members a response shows but no body may set.
pub const READ_ONLY: [&str; 2] = [attr::CONNECTION_ID, attr::RETAILER_ID];

/// One value per member, indexed by `Member`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Members<T>([T; Member::COUNT]);

impl<T> Members<T> {
    pub fn from_fn(f: impl FnMut(usize) -> T) -> Self {
        Self(std::array::from_fn(f))
    }

    /// Each member with its value, in `Member::ALL`'s order.
    pub fn iter(&self) -> impl Iterator<Item = (Member, &T)> {
        Member::ALL.iter().copied().zip(self.0.iter())
    }
}

impl<T> Index<Member> for Members<T> {
    type Output = T;
    fn index(&self, m: Member) -> &T {
        &self.0[m as usize]
    }
}

impl<T> IndexMut<Member> for Members<T> {
    fn index_mut(&mut self, m: Member) -> &mut T {
        &mut self.0[m as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, m) in Member::ALL.iter().enumerate() {
            assert_eq!(*m as usize, i, "{m:?}");
            assert_eq!(Member::from_name(m.name()), Some(*m));
        }
    }

    #[test]
    fn names_and_attributes_are_the_contracts() {
        for m in Member::ALL {
            assert_eq!(m.parse(m.example()).as_deref(), Ok(m.example()), "{m:?}");
            // The tables store each member under its own name (docs/contract.md).
            assert_eq!(m.attribute(), m.name());
            assert!(!READ_ONLY.contains(&m.name()));
        }
    }

    /// A value of exactly `len` characters each member's parser would take, if its form
    /// allows that length.
    fn of_length(m: Member, len: usize) -> String {
        match m {
            Member::CustomerId => "c".repeat(len),
            // Labels of at most 63 characters, as a domain has them.
            Member::Email => {
                let mut rest = len - "a@".len() - ".com".len();
                let mut labels = Vec::new();
                while rest > 0 {
                    let mut take = rest.min(63);
                    if rest - take == 1 {
                        take -= 1;
                    }
                    labels.push("b".repeat(take));
                    rest -= take;
                    rest = rest.saturating_sub(1);
                }
                format!("a@{}.com", labels.join("."))
            }
            Member::Mobile => format!("+1{}", "5".repeat(len - 2)),
            Member::Status => DISCONNECTED.to_owned(),
        }
    }

    #[test]
    fn max_len_is_the_parsers_limit() {
        for m in Member::ALL {
            let Some(max) = m.max_len() else {
                assert!(m.parse("surely-not-the-one-value").is_err(), "{m:?}");
                continue;
            };
            assert!(m.parse(&of_length(*m, max)).is_ok(), "{m:?} at {max}");
            assert!(
                m.parse(&of_length(*m, max + 1)).is_err(),
                "{m:?} at {}",
                max + 1
            );
        }
    }

    #[test]
    fn a_removable_members_wrong_type_says_null_is_allowed() {
        for m in Member::ALL.iter().filter(|m| m.max_len().is_some()) {
            assert_eq!(
                m.wrong_type().ends_with("or null"),
                m.removable(),
                "{m:?}: {}",
                m.wrong_type()
            );
        }
    }

    #[test]
    fn only_disconnected_is_a_status_to_store() {
        assert_eq!(
            Member::Status.parse("disconnected").as_deref(),
            Ok("disconnected")
        );
        for other in ["active", "initialized", "Disconnected", ""] {
            assert!(Member::Status.parse(other).is_err(), "{other}");
        }
    }
}
