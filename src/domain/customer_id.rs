/// The client's own id for its customer: 1 to 255 characters (Unicode scalar values), none
/// of them a control character. Stored exactly as given, whitespace included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerId(String);

impl CustomerId {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("must not be empty");
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err("must be at most 255 characters");
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(CustomerId::parse(&"é".repeat(255)).is_ok());
        assert!(CustomerId::parse(&"é".repeat(256)).is_err());
        assert!(CustomerId::parse(&"😀".repeat(255)).is_ok());
        assert!(CustomerId::parse(&"x".repeat(256)).is_err());
    }

    #[test]
    fn control_characters_and_empty_are_refused() {
        for bad in ["", "a\nb", "tab\there", "nul\0", "del\u{7f}", "c1\u{85}"] {
            assert!(CustomerId::parse(bad).is_err(), "{bad:?} accepted");
        }
        for ok in [
            "8a46e581-48ba-498a-9ad0-2ee72582e1af",
            " padded ",
            "名前",
            "a b",
        ] {
            assert!(CustomerId::parse(ok).is_ok(), "{ok:?} refused");
        }
    }
}
