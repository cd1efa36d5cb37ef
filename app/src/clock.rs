//! The browser's clock is not the server's: phones drift by seconds, and a sale
//! opens at the server's instant. The client samples `server_time_ms` from the
//! status endpoint and keeps an offset, assuming the server read its clock half way
//! through the round trip (the midpoint, as NTP does).

/// One sample of the server clock: the device clock just before sending
/// (`sent_ms`), the server's answer, and the device clock on receipt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockSample {
    pub sent_ms: f64,
    pub server_time_ms: i64,
    pub received_ms: f64,
}

impl ClockSample {
    /// Milliseconds to add to the device clock to read the server clock.
    pub fn offset_ms(&self) -> f64 {
        let midpoint = (self.sent_ms + self.received_ms) / 2.0;
        self.server_time_ms as f64 - midpoint
    }

    /// The round trip; a shorter one bounds the error of the offset more tightly
    /// (the error is at most half of it).
    pub fn round_trip_ms(&self) -> f64 {
        (self.received_ms - self.sent_ms).max(0.0)
    }
}

/// Picks the sample with the shortest round trip: its offset has the smallest
/// worst-case error.
pub fn best_offset_ms(samples: &[ClockSample]) -> Option<f64> {
    samples
        .iter()
        .min_by(|a, b| a.round_trip_ms().total_cmp(&b.round_trip_ms()))
        .map(ClockSample::offset_ms)
}

/// What is left until an instant, as a shopper reads it: `"1d 02:03:04"`,
/// `"02:03:04"` or `"03:04"`. Rounds up to the whole second so that `"00:00"`
/// shows only once the instant has come.
pub fn format_remaining(remaining_ms: i64) -> String {
    let secs = if remaining_ms <= 0 {
        0
    } else {
        (remaining_ms + 999) / 1000
    };
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hours, rest) = (rest / 3_600, rest % 3_600);
    let (minutes, seconds) = (rest / 60, rest % 60);
    if days > 0 {
        format!("{days}d {hours:02}:{minutes:02}:{seconds:02}")
    } else if hours > 0 {
        format!("{hours:02}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes:02}:{seconds:02}")
    }
}

/// Milliseconds until the displayed countdown next changes, so that a ticker wakes
/// on the server's second boundary instead of drifting by up to a second.
pub fn ms_until_next_tick(remaining_ms: i64) -> u32 {
    if remaining_ms <= 0 {
        return 1_000;
    }
    let into_second = remaining_ms % 1_000;
    // `format_remaining` rounds up, so the label changes when the remainder passes a
    // whole second; wake just after that.
    let wait = if into_second == 0 { 1_000 } else { into_second };
    u32::try_from(wait).unwrap_or(1_000) + 5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_uses_the_round_trip_midpoint() {
        // Device clock 10 s behind the server, 200 ms round trip.
        let sample = ClockSample {
            sent_ms: 1_000.0,
            server_time_ms: 11_100,
            received_ms: 1_200.0,
        };
        assert_eq!(sample.offset_ms(), 10_000.0);
    }

    #[test]
    fn best_offset_prefers_the_fastest_round_trip() {
        let slow = ClockSample {
            sent_ms: 0.0,
            server_time_ms: 5_000,
            received_ms: 2_000.0,
        };
        let fast = ClockSample {
            sent_ms: 10_000.0,
            server_time_ms: 13_020,
            received_ms: 10_040.0,
        };
        assert_eq!(best_offset_ms(&[slow, fast]), Some(3_000.0));
        assert_eq!(best_offset_ms(&[]), None);
    }

    #[test]
    fn remaining_time_reads_like_a_clock() {
        assert_eq!(format_remaining(0), "00:00");
        assert_eq!(format_remaining(-5_000), "00:00");
        assert_eq!(format_remaining(1), "00:01");
        assert_eq!(format_remaining(59_000), "00:59");
        assert_eq!(format_remaining(61_000), "01:01");
        assert_eq!(format_remaining(3_600_000), "01:00:00");
        assert_eq!(format_remaining(90_061_000), "1d 01:01:01");
    }

    #[test]
    fn ticker_wakes_just_after_the_label_changes() {
        // 2.3 s left shows "00:03"; it turns "00:02" 300 ms later.
        assert_eq!(ms_until_next_tick(2_300), 305);
        assert_eq!(format_remaining(2_300 - 305), "00:02");
        assert_eq!(ms_until_next_tick(2_000), 1_005);
        assert_eq!(ms_until_next_tick(0), 1_000);
    }
}

/// `ms` since the epoch as `"2026-11-22 20:00 UTC"`: the same text on the server
/// and in the browser, whatever their time zones, so hydration never disagrees.
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        of_day / 3_600,
        of_day % 3_600 / 60
    )
}

/// `ms` since the epoch as an iCalendar UTC date-time, `"20261122T200000Z"`.
pub fn ics_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60
    )
}

/// [`format_utc`] to the second, for admins who schedule to the second:
/// `"2026-11-22 20:00:05 UTC"`.
pub fn format_utc_seconds(ms: i64) -> String {
    let seconds = ms.div_euclid(1000).rem_euclid(60);
    format_utc(ms).replace(" UTC", &format!(":{seconds:02} UTC"))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod utc_tests {
    use super::format_utc;

    #[test]
    fn admins_read_the_second() {
        assert_eq!(
            super::format_utc_seconds(1_795_377_605_999),
            "2026-11-22 20:00:05 UTC"
        );
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        // 2000-02-29 (a leap day of a century year) 12:34:56.
        assert_eq!(format_utc(951_827_696_000), "2000-02-29 12:34 UTC");
        // 2026-11-22 20:00:00.
        assert_eq!(format_utc(1_795_377_600_000), "2026-11-22 20:00 UTC");
        assert_eq!(format_utc(-1_000), "1969-12-31 23:59 UTC");
    }
}
