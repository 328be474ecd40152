//! Wall-clock time in the two forms the table stores.

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    /// Epoch seconds, compared with `token_expires_at`.
    pub epoch: u64,
    /// Milliseconds within the second.
    pub millis: u32,
    /// RFC 3339 UTC with milliseconds, for `updated_at` and `disconnected_at`.
    pub rfc3339: String,
}

impl Now {
    pub fn epoch_ms(&self) -> u64 {
        self.epoch * 1000 + u64::from(self.millis)
    }
}

pub fn now() -> Now {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    at(since.as_secs(), since.subsec_millis())
}

pub fn at(epoch: u64, millis: u32) -> Now {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    let (y, m, d) = civil_from_days(days);
    Now {
        epoch,
        millis,
        rfc3339: format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ),
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(at(0, 0).rfc3339, "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5).rfc3339, "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_798_761_599, 999).rfc3339, "2026-12-31T23:59:59.999Z");
        assert_eq!(at(4_107_542_400, 0).rfc3339, "2100-03-01T00:00:00.000Z");
    }
}
