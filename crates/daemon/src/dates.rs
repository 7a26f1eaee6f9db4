//! Every date the daemon and its CLI print or read, in one place, through chrono: RFC 3339
//! in JSON and logs' neighbours (`2026-11-22T09:30:15Z`), a day or a day and minute in
//! tables, and the `--since`/`--until` forms. All in UTC. A leaf: it imports nothing of
//! this crate.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Unix seconds as a UTC instant (`None` outside chrono's range).
fn utc(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// Unix seconds as RFC 3339 in UTC (`2026-11-22T09:30:15Z`).
pub fn rfc3339(secs: i64) -> String {
    utc(secs).map_or_else(
        || secs.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// Unix milliseconds as RFC 3339 with milliseconds (`2026-11-22T09:30:15.250Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Millis, true),
    )
}

/// Unix seconds as a UTC day (`2026-11-22`).
pub fn day(secs: i64) -> String {
    utc(secs).map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d").to_string())
}

/// Unix seconds as a UTC day and minute (`2026-11-22 09:05Z`).
pub fn day_minute(secs: i64) -> String {
    utc(secs).map_or_else(
        || secs.to_string(),
        |t| t.format("%Y-%m-%d %H:%MZ").to_string(),
    )
}

/// A time for `--since`/`--until` as Unix milliseconds: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]Z`
/// (UTC), Unix seconds, or an age before `now_ms` (`30m`, `12h`, `7d`, `90s`). The error
/// is the text given.
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let t = text.trim();
    let bad = || text.to_string();
    if let Ok(secs) = t.parse::<i64>() {
        return Ok(secs * 1000);
    }
    if let Some(unit) = t.chars().last().filter(|c| "smhd".contains(*c)) {
        let n: i64 = t[..t.len() - 1].parse().map_err(|_| bad())?;
        let per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => 86_400,
        };
        return Ok(now_ms - n * per * 1000);
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    let time = t.strip_suffix('Z').ok_or_else(bad)?;
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(time, f).ok())
        .map(|d| d.and_utc().timestamp_millis())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_print() {
        let day_ms = 1_795_305_600_000; // 2026-11-22T00:00:00Z
        assert_eq!(parse_time("2026-11-22", 0), Ok(day_ms));
        assert_eq!(parse_time("2026-11-22T09:30Z", 0), Ok(day_ms + 34_200_000));
        assert_eq!(
            parse_time("2026-11-22T09:30:15Z", 0),
            Ok(day_ms + 34_215_000)
        );
        assert_eq!(parse_time("1795305600", 0), Ok(day_ms));
        assert_eq!(parse_time("2h", day_ms), Ok(day_ms - 7_200_000));
        assert!(parse_time("2026-13-01", 0).is_err());
        assert!(parse_time("yesterday", 0).is_err());
        assert!(
            parse_time("2026-11-22T09:30", 0).is_err(),
            "UTC only, said with Z"
        );
        assert_eq!(rfc3339_ms(day_ms + 34_215_250), "2026-11-22T09:30:15.250Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        let secs = day_ms / 1000 + 34_215;
        assert_eq!(rfc3339(secs), "2026-11-22T09:30:15Z");
        assert_eq!(day(secs), "2026-11-22");
        assert_eq!(day_minute(secs), "2026-11-22 09:30Z");
        assert_eq!(day(-86_400), "1969-12-31", "before 1970 too");
    }
}
