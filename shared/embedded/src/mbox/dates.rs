//! The two date forms of an mbox entry: the separator line's (asctime) and the email's `Date`
//! header (RFC 5322, as lettre writes it).

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Thu Nov 26 04:37:18 2026` (UTC): the date format of an mbox separator line (RFC 4155).
pub(super) fn asctime(unix_seconds: u64) -> String {
    let (weekday, day, month, year, secs) = civil(unix_seconds);
    format!("{weekday} {month} {day:2} {} {year}", Hms(secs))
}

/// `Thu, 26 Nov 2026 04:37:18 +0000`: an email's `Date` (RFC 5322), as lettre writes it.
pub(super) fn rfc2822(unix_seconds: u64) -> String {
    let (weekday, day, month, year, secs) = civil(unix_seconds);
    format!("{weekday}, {day:02} {month} {year} {} +0000", Hms(secs))
}

/// Seconds into the day as `HH:MM:SS`.
struct Hms(u64);

impl std::fmt::Display for Hms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    }
}

/// Weekday, day of the month, month, year and seconds into the day (UTC).
fn civil(unix_seconds: u64) -> (&'static str, u64, &'static str, u64, u64) {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm), in unsigned arithmetic.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (
        DAYS[usize::try_from(days % 7).unwrap_or(0)],
        day,
        MONTHS[usize::try_from(month - 1).unwrap_or(0)],
        year,
        secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_dates_are_in_asctime_form() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_795_667_838), "Thu Nov 26 04:37:18 2026");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    }

    #[test]
    fn rfc2822_dates_are_written_as_lettre_writes_them() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_795_667_838), "Thu, 26 Nov 2026 04:37:18 +0000");
    }
}
