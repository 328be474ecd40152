use std::fmt;

/// A connection id: a ULID (26 characters of Crockford base32, upper-case).
///
/// Lower-case input is normalised to upper case. Crockford's aliases (I, L, O, U) are
/// not accepted: a ULID never contains them, so such an id cannot exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionId(String);

use crate::schema::ULID_ALPHABET as ALPHABET;

impl ConnectionId {
    pub fn parse(raw: &str) -> Option<Self> {
        let bytes = raw.as_bytes();
        if bytes.len() != 26 {
            return None;
        }
        // 26 base32 digits hold 130 bits; a ULID has 128, so the first digit is at most 7.
        if !(b'0'..=b'7').contains(&bytes[0]) {
            return None;
        }
        let upper = raw.to_ascii_uppercase();
        if upper.bytes().all(|b| ALPHABET.contains(&b)) {
            Some(Self(upper))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_ulids() {
        let id = ConnectionId::parse("01j51s0jyv6n7k1030cv1zksca").map(|i| i.0);
        assert_eq!(id.as_deref(), Some("01J51S0JYV6N7K1030CV1ZKSCA"));
        assert!(ConnectionId::parse("7ZZZZZZZZZZZZZZZZZZZZZZZZZ").is_some());
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "01J51S0JYV6N7K1030CV1ZKSC",   // 25
            "01J51S0JYV6N7K1030CV1ZKSCAA", // 27
            "81J51S0JYV6N7K1030CV1ZKSCA",  // overflows 128 bits
            "01J51S0JYV6N7K1030CV1ZKSCI",  // I is not in the alphabet
            "01J51S0JYV6N7K1030CV1ZKSCU",
            "01J51S0JYV6N7K1030CV1ZKSC-",
            "01J51S0JYV6N7K1030CV1ZKSÇ",
            "01J51S0JYV6N7K1030CV1ZKS C",
        ] {
            assert!(ConnectionId::parse(bad).is_none(), "{bad:?} accepted");
        }
    }
}
