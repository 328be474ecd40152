/// The `If-Match` header, read as the versions it accepts.
///
/// Our ETags are strong (`"<version>"`), and If-Match uses strong comparison, so weak
/// tags (`W/"3"`), tags that are not a version, and malformed headers match nothing: the
/// request then fails with 412 once the caller has proven it may see the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No If-Match header.
    None,
    /// `If-Match: *`: the connection must exist, which every update requires anyway.
    Any,
    /// The version must be one of these; an empty list never matches.
    Versions(Vec<u64>),
}

impl Precondition {
    /// DynamoDB's `IN` takes at most 100 operands.
    pub const MAX_TAGS: usize = 100;

    pub fn parse(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self::None;
        };
        if header.trim() == "*" {
            return Self::Any;
        }
        let mut versions: Vec<u64> = Vec::new();
        for tag in header.split(',') {
            if let Some(v) = strong_version(tag.trim()) {
                if !versions.contains(&v) && versions.len() < Self::MAX_TAGS {
                    versions.push(v);
                }
            }
        }
        Self::Versions(versions)
    }

    pub fn allows(&self, version: u64) -> bool {
        match self {
            Self::None | Self::Any => true,
            Self::Versions(vs) => vs.contains(&version),
        }
    }
}

fn strong_version(tag: &str) -> Option<u64> {
    let digits = tag.strip_prefix('"')?.strip_suffix('"')?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if canonical { digits.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tags() {
        assert_eq!(Precondition::parse(None), Precondition::None);
        assert_eq!(Precondition::parse(Some(" * ")), Precondition::Any);
        assert_eq!(
            Precondition::parse(Some("\"3\"")),
            Precondition::Versions(vec![3])
        );
        assert_eq!(
            Precondition::parse(Some("\"3\", \"5\",\"3\"")),
            Precondition::Versions(vec![3, 5])
        );
    }

    #[test]
    fn weak_malformed_and_foreign_tags_match_nothing() {
        for h in [
            "W/\"3\"",
            "3",
            "\"03\"",
            "\"abc\"",
            "",
            "\"\"",
            "\"-1\"",
            "\"99999999999999999999999\"",
        ] {
            let p = Precondition::parse(Some(h));
            assert_eq!(p, Precondition::Versions(vec![]), "{h:?}");
            assert!(!p.allows(3));
        }
    }
}
