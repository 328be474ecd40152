//! `token_expires_at` as stored: any number DynamoDB can hold, compared with the request's
//! instant exactly as the write's condition (`token_expires_at > :now`) compares it.

use std::cmp::Ordering;
use std::time::Duration;

/// A point in time, in epoch seconds, to the nanosecond, plus whether the stored number
/// has more non-zero digits beyond the nanosecond (it is then later than the nanosecond it
/// was cut to). Numbers before the epoch are the epoch; numbers past `u64` seconds are the
/// greatest point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expiry {
    secs: u64,
    nanos: u32,
    beyond: bool,
}

/// Not a number at all (DynamoDB never stores such an `N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotANumber;

impl Expiry {
    const LATEST: Expiry = Expiry {
        secs: u64::MAX,
        nanos: 999_999_999,
        beyond: true,
    };
    const EPOCH: Expiry = Expiry {
        secs: 0,
        nanos: 0,
        beyond: false,
    };

    /// Reads a DynamoDB number: `-`, digits, an optional fraction and an optional exponent.
    pub fn parse(n: &str) -> Result<Self, NotANumber> {
        let (negative, rest) = match n.as_bytes().first() {
            Some(b'-') => (true, &n[1..]),
            Some(b'+') => (false, &n[1..]),
            _ => (false, n),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => {
                let exp = &rest[at + 1..];
                let digits = exp.trim_start_matches(['+', '-']);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(NotANumber);
                }
                // Past ±10^4 every DynamoDB number is zero or out of range alike.
                let magnitude: i64 = digits.parse().unwrap_or(i64::MAX).min(10_000);
                let exp = if exp.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                };
                (&rest[..at], exp)
            }
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return Err(NotANumber);
        }
        let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        if digits.iter().all(|d| *d == 0) {
            return Ok(Self::EPOCH);
        }
        if negative {
            return Ok(Self::EPOCH);
        }
        // The decimal point sits after `point` digits (it may lie outside them).
        let point = i64::try_from(int.len()).unwrap_or(i64::MAX) + exponent;
        let digit = |i: i64| -> u8 {
            usize::try_from(i)
                .ok()
                .and_then(|i| digits.get(i))
                .copied()
                .unwrap_or(0)
        };
        let first_nonzero = digits.iter().position(|d| *d != 0).unwrap_or(0) as i64;
        if point - first_nonzero > 20 {
            return Ok(Self::LATEST);
        }
        let mut secs: u64 = 0;
        for i in first_nonzero.min(point)..point {
            let next = secs
                .checked_mul(10)
                .and_then(|s| s.checked_add(u64::from(digit(i))));
            match next {
                Some(s) => secs = s,
                None => return Ok(Self::LATEST),
            }
        }
        let mut nanos: u32 = 0;
        for i in point..point + 9 {
            nanos = nanos * 10 + u32::from(digit(i));
        }
        let last = i64::try_from(digits.len()).unwrap_or(i64::MAX);
        let beyond = (point + 9..last).any(|i| digit(i) != 0);
        Ok(Self {
            secs,
            nanos,
            beyond,
        })
    }

    /// True once `now` has reached the expiry: the condition lets a token through only
    /// while `token_expires_at > now`.
    pub fn has_passed(&self, now: Duration) -> bool {
        let now = Expiry {
            secs: now.as_secs(),
            nanos: now.subsec_nanos(),
            beyond: false,
        };
        self.cmp(&now) != Ordering::Greater
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: &str) -> Expiry {
        Expiry::parse(n).unwrap()
    }

    fn passed(n: &str, secs: u64, nanos: u32) -> bool {
        at(n).has_passed(Duration::new(secs, nanos))
    }

    #[test]
    fn compares_to_the_instant() {
        // 0.3 s before now, in the same whole second: expired.
        assert!(passed("1000.2", 1000, 500_000_000));
        assert!(!passed("1000.7", 1000, 500_000_000));
        // Equal is expired, as `expires > now` is false.
        assert!(passed("1000.5", 1000, 500_000_000));
        assert!(passed("1000", 1000, 0));
        // A digit past the nanosecond still counts.
        assert!(!passed("1000.5000000001", 1000, 500_000_000));
        assert!(!passed("1000.4999999999", 1000, 499_999_999));
        assert!(passed("1000.4999999989", 1000, 499_999_999));
    }

    #[test]
    fn any_number_dynamodb_holds_answers() {
        for never in [
            "1e20",
            "1E+20",
            "100000000000000000000",
            "9.9E+125",
            "18446744073709551616",
        ] {
            assert!(!passed(never, u64::MAX, 999_999_999), "{never}");
        }
        for past in ["-1", "-1e20", "0", "-0.5", "1E-130", "0.000", "0e5"] {
            assert!(passed(past, 1, 0), "{past}");
        }
        assert_eq!(at("1.5e3"), at("1500"));
        assert_eq!(at("15000e-1"), at("1500.0"));
        assert_eq!(at("0001500.000"), at("1500"));
        // Leading zeros are not magnitude, however many; a sign may be written.
        assert_eq!(at(&format!("{}1500", "0".repeat(30))), at("1500"));
        assert_eq!(at("+1500"), at("1500"));
        assert_eq!(
            at("18446744073709551615"),
            Expiry {
                secs: u64::MAX,
                nanos: 0,
                beyond: false
            }
        );
        for bad in ["", "x", "1.2.3", "1e", "--1", "1e+x", ".", "e5"] {
            assert_eq!(Expiry::parse(bad), Err(NotANumber), "{bad:?}");
        }
    }
}
