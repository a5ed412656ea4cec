//! The two date forms of an mbox entry: the separator line's (asctime) and the email's `Date`
//! header (RFC 5322, as lettre writes it).

use order_domain::time::{Civil, digits};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Thu Nov 26 04:37:18 2026` (UTC): the date format of an mbox separator line (RFC 4155).
pub(super) fn asctime(unix_seconds: u64) -> String {
    let c = Civil::at(unix_seconds);
    // Written digit by digit: `format!` with its padding cost more than the rest of an entry.
    let mut b = *b"Thu Jan 01 00:00:00 0000";
    b[0..3].copy_from_slice(weekday(c).as_bytes());
    b[4..7].copy_from_slice(month(c).as_bytes());
    digits(&mut b[8..10], c.day);
    if c.day < 10 {
        b[8] = b' ';
    }
    hms(&mut b[11..19], c.secs_of_day);
    digits(&mut b[20..24], c.year);
    text(&b)
}

/// `Thu, 26 Nov 2026 04:37:18 +0000`: an email's `Date` (RFC 5322), as lettre writes it.
pub(super) fn rfc2822(unix_seconds: u64) -> String {
    let c = Civil::at(unix_seconds);
    let mut b = *b"Thu, 01 Jan 0000 00:00:00 +0000";
    b[0..3].copy_from_slice(weekday(c).as_bytes());
    digits(&mut b[5..7], c.day);
    b[8..11].copy_from_slice(month(c).as_bytes());
    digits(&mut b[12..16], c.year);
    hms(&mut b[17..25], c.secs_of_day);
    text(&b)
}

/// Seconds into the day as `HH:MM:SS`, into an 8-byte slot.
fn hms(dst: &mut [u8], secs: u64) {
    digits(&mut dst[0..2], secs / 3600);
    digits(&mut dst[3..5], secs % 3600 / 60);
    digits(&mut dst[6..8], secs % 60);
}

fn weekday(c: Civil) -> &'static str {
    DAYS[usize::try_from(c.days % 7).unwrap_or(0)]
}

fn month(c: Civil) -> &'static str {
    MONTHS[usize::try_from(c.month - 1).unwrap_or(0)]
}

/// The ASCII the functions above wrote, as text.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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

    /// Digit for digit what `format!` wrote before: every month, day width and leap rule.
    #[test]
    fn both_forms_match_their_format_strings() {
        for secs in (0..253_402_300_799).step_by(7_919_993) {
            let civil = Civil::at(secs);
            let (wday, mon, day, year) = (weekday(civil), month(civil), civil.day, civil.year);
            let sod = civil.secs_of_day;
            let time = format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60);
            assert_eq!(asctime(secs), format!("{wday} {mon} {day:2} {time} {year}"));
            assert_eq!(
                rfc2822(secs),
                format!("{wday}, {day:02} {mon} {year} {time} +0000")
            );
        }
    }

    #[test]
    fn rfc2822_dates_are_written_as_lettre_writes_them() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_795_667_838), "Thu, 26 Nov 2026 04:37:18 +0000");
    }
}
