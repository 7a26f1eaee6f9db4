//! Dates for `date` and `currentdate` (RFC 5260): a [`Timestamp`] type, header dates
//! parsed by `mail-parser`, and the date parts of RFC 5260 §4.2. Calendar arithmetic is
//! the proleptic Gregorian calendar on day numbers, no clock and no time-zone database.

use mail_parser::HeaderValue;
use mail_parser::parsers::MessageStream;

/// An instant and the zone it is seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// The zone, in minutes east of UTC (e.g. 540 for Korea, +0900).
    pub offset_minutes: i32,
}

impl Timestamp {
    /// The same instant seen in another zone.
    pub fn in_zone(self, offset_minutes: i32) -> Timestamp {
        Timestamp {
            unix: self.unix,
            offset_minutes,
        }
    }

    /// A timestamp from a civil date and time in the given zone. Out-of-range fields are
    /// clamped (years to ±1 000 000, months to 1–12, days to 1–31, and so on).
    pub fn from_civil(
        (year, month, day): (i64, u32, u32),
        (hour, minute, second): (u32, u32, u32),
        offset_minutes: i32,
    ) -> Timestamp {
        let days = days_from_civil(
            year.clamp(-1_000_000, 1_000_000),
            month.clamp(1, 12),
            day.clamp(1, 31),
        );
        let seconds = hour.min(23) * 3600 + minute.min(59) * 60 + second.min(60);
        let local = days * 86_400 + i64::from(seconds);
        Timestamp {
            unix: local - i64::from(offset_minutes) * 60,
            offset_minutes,
        }
    }

    fn local_fields(self) -> Fields {
        // Clamped to ±100 000 years around 1970 so that no arithmetic below can overflow.
        const SPAN: i64 = 100_000 * 366 * 86_400;
        let local = self
            .unix
            .saturating_add(i64::from(self.offset_minutes) * 60)
            .clamp(-SPAN, SPAN);
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Fields {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            days,
        }
    }

    /// The RFC 5260 §4.2 date part `part` (lower-case), or `None` for an unknown part.
    pub fn part(self, part: &str) -> Option<String> {
        let f = self.local_fields();
        let zone = zone_text(self.offset_minutes, false);
        Some(match part {
            "year" => format!("{:04}", f.year),
            "month" => format!("{:02}", f.month),
            "day" => format!("{:02}", f.day),
            "date" => format!("{:04}-{:02}-{:02}", f.year, f.month, f.day),
            // Modified Julian Day: days since 1858-11-17 (RFC 5260 §4.2).
            "julian" => (f.days + 40_587).to_string(),
            "hour" => format!("{:02}", f.hour),
            "minute" => format!("{:02}", f.minute),
            "second" => format!("{:02}", f.second),
            "time" => format!("{:02}:{:02}:{:02}", f.hour, f.minute, f.second),
            "iso8601" => format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
                f.year,
                f.month,
                f.day,
                f.hour,
                f.minute,
                f.second,
                zone_text(self.offset_minutes, true)
            ),
            "std11" => format!(
                "{}, {} {} {:04} {:02}:{:02}:{:02} {}",
                WEEKDAYS[weekday(f.days)],
                f.day,
                MONTHS[(f.month - 1) as usize],
                f.year,
                f.hour,
                f.minute,
                f.second,
                zone
            ),
            "zone" => zone,
            "weekday" => weekday(f.days).to_string(),
            _ => return None,
        })
    }
}

struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    days: i64,
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// 0 = Sunday; day 0 (1970-01-01) was a Thursday.
fn weekday(days: i64) -> usize {
    (days + 4).rem_euclid(7) as usize
}

fn zone_text(minutes: i32, colon: bool) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    if colon {
        format!("{sign}{:02}:{:02}", m / 60, m % 60)
    } else {
        format!("{sign}{:02}{:02}", m / 60, m % 60)
    }
}

/// Days since 1970-01-01 of a civil date (the well-known era-based algorithm).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses an RFC 5322 date header value.
pub(crate) fn parse_header_date(raw: &str) -> Option<Timestamp> {
    let mut buf = raw.as_bytes().to_vec();
    buf.extend_from_slice(b"\r\n");
    let HeaderValue::DateTime(dt) = MessageStream::new(&buf).parse_date() else {
        return None;
    };
    if !(1..=12).contains(&dt.month) || !(1..=31).contains(&dt.day) || dt.hour > 23 {
        return None;
    }
    let minutes = i32::from(dt.tz_hour) * 60 + i32::from(dt.tz_minute);
    let offset = if dt.tz_before_gmt { -minutes } else { minutes };
    Some(Timestamp::from_civil(
        (i64::from(dt.year), u32::from(dt.month), u32::from(dt.day)),
        (
            u32::from(dt.hour),
            u32::from(dt.minute),
            u32::from(dt.second.min(60)),
        ),
        offset,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn parts_of_a_header_date() {
        let ts = parse_header_date("Fri, 21 Apr 2006 12:34:56 -0800").unwrap();
        assert_eq!(ts.part("date").unwrap(), "2006-04-21");
        assert_eq!(ts.part("time").unwrap(), "12:34:56");
        assert_eq!(ts.part("zone").unwrap(), "-0800");
        assert_eq!(ts.part("weekday").unwrap(), "5");
        assert_eq!(ts.part("iso8601").unwrap(), "2006-04-21T12:34:56-08:00");
        assert_eq!(ts.part("std11").unwrap(), "Fri, 21 Apr 2006 12:34:56 -0800");
        let utc = ts.in_zone(0);
        assert_eq!(utc.part("hour").unwrap(), "20");
        // 2006-04-21 is MJD 53846.
        assert_eq!(ts.part("julian").unwrap(), "53846");
        assert!(parse_header_date("not a date").is_none());
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        for unix in [i64::MIN, -1, 0, i64::MAX] {
            for offset in [i32::MIN, 0, i32::MAX] {
                let ts = Timestamp {
                    unix,
                    offset_minutes: offset,
                };
                for part in ["std11", "iso8601", "julian", "weekday", "zone"] {
                    assert!(ts.part(part).is_some());
                }
            }
        }
        let ts = Timestamp::from_civil((i64::MAX, 99, 99), (99, 99, 99), 0);
        assert!(ts.part("date").is_some());
    }
}
