/// The `If-Match` header, read as the versions it accepts.
///
/// Our ETags are strong (`"<version>"`), and If-Match uses strong comparison, so weak
/// tags (`W/"3"`), tags that are not a version, and malformed headers match nothing: the
/// request then fails with 412 once the caller has proven it may see the connection.
/// Repeated If-Match lines are one list (RFC 9110 §5.3), however the event carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No If-Match header.
    None,
    /// `If-Match: *`: the connection must exist, which every update requires anyway.
    Any,
    /// The version must be one of these; an empty list never matches.
    Versions(Vec<u64>),
}

/// An If-Match list longer than [`Precondition::MAX_TAGS`]: refused rather than cut, since
/// a dropped tag could turn a match into a 412 without saying why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyTags;

impl Precondition {
    /// DynamoDB's `IN` takes at most 100 operands.
    pub const MAX_TAGS: usize = 100;

    /// One header line (`None`: no If-Match).
    pub fn parse(header: Option<&str>) -> Result<Self, TooManyTags> {
        match header {
            None => Ok(Self::None),
            Some(line) => Self::from_lines(&[line]),
        }
    }

    /// Every If-Match line the request carried, combined into one list; no line means no
    /// If-Match. Every list element counts towards the limit, matching or not.
    pub fn from_lines(lines: &[&str]) -> Result<Self, TooManyTags> {
        if lines.is_empty() {
            return Ok(Self::None);
        }
        // RFC 9110 §5.6.1: empty list elements are ignored.
        let tags: Vec<&str> = lines
            .iter()
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        // Every element counts against the limit, `*` included (docs/contract.md).
        if tags.len() > Self::MAX_TAGS {
            return Err(TooManyTags);
        }
        if !tags.is_empty() && tags.iter().all(|t| *t == "*") {
            return Ok(Self::Any);
        }
        let mut versions: Vec<u64> = Vec::new();
        for v in tags.into_iter().filter_map(strong_version) {
            if !versions.contains(&v) {
                versions.push(v);
            }
        }
        Ok(Self::Versions(versions))
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
        assert_eq!(Precondition::parse(None), Ok(Precondition::None));
        assert_eq!(Precondition::parse(Some(" * ")), Ok(Precondition::Any));
        assert_eq!(
            Precondition::parse(Some("\"3\"")),
            Ok(Precondition::Versions(vec![3]))
        );
        assert_eq!(
            Precondition::parse(Some("\"3\", \"5\",\"3\"")),
            Ok(Precondition::Versions(vec![3, 5]))
        );
    }

    #[test]
    fn repeated_lines_are_one_list() {
        assert_eq!(Precondition::from_lines(&[]), Ok(Precondition::None));
        assert_eq!(
            Precondition::from_lines(&["\"3\"", "\"4\""]),
            Ok(Precondition::Versions(vec![3, 4]))
        );
        assert_eq!(
            Precondition::from_lines(&["\"3\", \"4\""]),
            Precondition::from_lines(&["\"3\"", "\"4\""])
        );
        assert_eq!(Precondition::from_lines(&["*"]), Ok(Precondition::Any));
    }

    #[test]
    fn a_list_over_the_limit_is_refused_not_cut() {
        let tag = |i: usize| format!("\"{i}\"");
        let at_limit: Vec<String> = (0..Precondition::MAX_TAGS).map(tag).collect();
        let lines: Vec<&str> = at_limit.iter().map(String::as_str).collect();
        assert!(matches!(
            Precondition::from_lines(&lines),
            Ok(Precondition::Versions(v)) if v.len() == Precondition::MAX_TAGS
        ));
        let one_line = at_limit.join(", ") + ", W/\"1\"";
        assert_eq!(Precondition::parse(Some(&one_line)), Err(TooManyTags));
        let over = tag(Precondition::MAX_TAGS);
        let mut lines = lines;
        lines.push(&over);
        assert_eq!(Precondition::from_lines(&lines), Err(TooManyTags));
        // `*` counts too: 150 of them are over the limit, not "any".
        let stars = vec!["*"; 150].join(", ");
        assert_eq!(Precondition::parse(Some(&stars)), Err(TooManyTags));
        let stars = vec!["*"; Precondition::MAX_TAGS].join(",");
        assert_eq!(Precondition::parse(Some(&stars)), Ok(Precondition::Any));
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
            let p = Precondition::parse(Some(h)).unwrap();
            assert_eq!(p, Precondition::Versions(vec![]), "{h:?}");
            assert!(!p.allows(3));
        }
    }
}
