//! Contact details: an email address and an E.164 mobile number.

/// An email address as the contract accepts it: ASCII `local@domain`, at most 254 characters.
///
/// The local part is a dot-atom (RFC 5322 `atext` and single inner dots, at most 64
/// characters); the domain is at least two DNS labels of letters, digits and inner hyphens,
/// with a top-level label that is not all digits. Non-ASCII addresses are refused: it keeps
/// look-alike (confusable) characters out, and an internationalised domain can be sent in its
/// `xn--` form. The value is stored exactly as given (no case folding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// An E.164 number: `+`, then 2 to 15 digits, the first one 1-9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mobile(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("must not be empty");
        }
        if raw.len() > Self::MAX_LEN {
            return Err("must be at most 254 characters");
        }
        if !raw.is_ascii() {
            return Err(
                "must contain only ASCII characters (send an internationalised domain as xn--)",
            );
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err("must be an email address like name@example.com");
        };
        if !valid_local(local) || !valid_domain(domain) {
            return Err("must be an email address like name@example.com");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn valid_local(local: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || SPECIALS.contains(&b))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

impl Mobile {
    /// `+` and at most 15 digits (E.164).
    pub const MAX_LEN: usize = 16;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let valid = raw.strip_prefix('+').is_some_and(|digits| {
            (2..Self::MAX_LEN).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        });
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be E.164, e.g. +14155550123")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_accepted() {
        for ok in [
            "alice@example.com",
            "a@b.co",
            "first.last+tag@sub.example.co.uk",
            "o'neil@example.ie",
            "x@xn--bcher-kva.example",
            "user@123.example.com",
        ] {
            assert_eq!(Email::parse(ok).map(|e| e.0), Ok(ok.to_owned()));
        }
        let local = "a".repeat(64);
        let long = format!(
            "{local}@{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(57)
        );
        assert_eq!(long.len(), 254);
        assert!(Email::parse(&long).is_ok());
    }

    #[test]
    fn emails_refused() {
        let too_long = format!("a@{}.com", "b".repeat(250));
        for bad in [
            "",
            " alice@example.com",
            "alice@example.com ",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "alice@@example.com",
            "al ice@example.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example-.com",
            "alice@example..com",
            "alice@example.123",
            "alice@exam_ple.com",
            "аlice@example.com", // Cyrillic a: a confusable
            "alice@exаmple.com",
            "alice@example.com\n",
            "\"quoted\"@example.com",
            too_long.as_str(),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let local = "a".repeat(65);
        assert!(Email::parse(&format!("{local}@example.com")).is_err());
    }

    #[test]
    fn mobiles() {
        for ok in ["+14155550123", "+12", "+123456789012345"] {
            assert!(Mobile::parse(ok).is_ok(), "{ok:?} refused");
        }
        for bad in [
            "",
            "+",
            "+1",
            "+0123456",
            "14155550123",
            "+1234567890123456",
            "+1 415 555 0123",
            "+1-415",
            "++14155550123",
            "+١٢٣٤",
            "+14155550123\n",
            " +14155550123",
        ] {
            assert!(Mobile::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
