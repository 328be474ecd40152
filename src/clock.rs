//! The request's instant, in the forms the table compares and stores.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;

/// One instant: taken once per request, so the expiry check, the condition and the stamps
/// all agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    since_epoch: Duration,
    rfc3339: String,
}

/// RFC 3339 UTC with exactly three fraction digits, as `updated_at` is documented.
static RFC3339_MILLIS: LazyLock<Vec<BorrowedFormatItem<'static>>> = LazyLock::new(|| {
    time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z",
    )
    .unwrap_or_default() // ok: a constant description, proven by `formats_rfc3339`
});

impl Now {
    pub fn since_epoch(&self) -> Duration {
        self.since_epoch
    }

    /// Epoch seconds with nanoseconds, as a DynamoDB number: `token_expires_at` is compared
    /// with it to the instant, whatever fraction the stored number has.
    pub fn epoch_number(&self) -> String {
        format!(
            "{}.{:09}",
            self.since_epoch.as_secs(),
            self.since_epoch.subsec_nanos()
        )
    }

    /// Epoch milliseconds, for the EMF record's timestamp.
    pub fn epoch_ms(&self) -> u64 {
        u64::try_from(self.since_epoch.as_millis()).unwrap_or(u64::MAX)
    }

    /// RFC 3339 UTC with milliseconds, for `updated_at` and `disconnected_at`.
    pub fn rfc3339(&self) -> &str {
        &self.rfc3339
    }
}

pub fn now() -> Now {
    at(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default())
}

pub fn at(since_epoch: Duration) -> Now {
    let rfc3339 = i64::try_from(since_epoch.as_nanos())
        .ok()
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos.into()).ok())
        .and_then(|t| t.format(&RFC3339_MILLIS).ok())
        .unwrap_or_default();
    Now {
        since_epoch,
        rfc3339,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(secs: u64, millis: u64) -> Now {
        at(Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(at_ms(0, 0).rfc3339(), "1970-01-01T00:00:00.000Z");
        assert_eq!(at_ms(951_782_400, 5).rfc3339(), "2000-02-29T00:00:00.005Z");
        assert_eq!(
            at_ms(1_798_761_599, 999).rfc3339(),
            "2026-12-31T23:59:59.999Z"
        );
        assert_eq!(
            at_ms(4_107_542_400, 0).rfc3339(),
            "2100-03-01T00:00:00.000Z"
        );
        // Milliseconds are cut, not rounded: the stamp never lies after the instant.
        assert_eq!(
            at(Duration::new(0, 999_999_999)).rfc3339(),
            "1970-01-01T00:00:00.999Z"
        );
    }

    #[test]
    fn the_epoch_number_keeps_every_nanosecond() {
        assert_eq!(at(Duration::new(7, 5)).epoch_number(), "7.000000005");
        assert_eq!(
            at(Duration::new(1_764_619_180, 300_000_000)).epoch_number(),
            "1764619180.300000000"
        );
    }
}
