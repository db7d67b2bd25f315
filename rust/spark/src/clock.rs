//! UTC calendar arithmetic for the two timestamps this crate handles: the
//! ISO-8601 `timestamp` of a progress event (parsed to epoch milliseconds so
//! batches can be placed on one time line) and the `runs/<stamp>` directory
//! name. Spark only ever writes UTC (`2016-12-05T20:54:20.827Z`), so a civil
//! date conversion is all that is needed and no date crate is pulled in.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, exact for every date in `i64` range we can meet).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

/// Parses Spark's UTC timestamps, `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)`,
/// to milliseconds since the epoch. Anything else is `None` rather than a
/// guess, because a wrong time would silently corrupt wall-time statistics.
pub(crate) fn parse_utc_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    let body = s.strip_suffix('Z').or_else(|| s.strip_suffix("+00:00"))?;
    let (date, time) = body.split_once('T')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (time, None),
    };
    let mut time_parts = hms.splitn(3, ':');
    let hour: i64 = time_parts.next()?.parse().ok()?;
    let minute: i64 = time_parts.next()?.parse().ok()?;
    let second: i64 = time_parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let millis = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            // Milliseconds are the first three digits; finer digits are dropped.
            let padded = format!("{f:0<3}");
            padded[..3].parse::<i64>().ok()?
        }
        Some(_) => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Milliseconds since the epoch of `t`; times before 1970 clamp to 0 since
/// only "now" is ever asked for.
pub(crate) fn epoch_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A run directory name for `epoch_ms`: `20261125T114722Z`. Compact UTC keeps
/// it free of `:` (invalid on some file systems) and makes `ls` sort by time.
pub(crate) fn run_stamp(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let in_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spark_timestamps() {
        // 2016-12-05T20:54:20.827Z is the timestamp in Spark's own progress tests.
        assert_eq!(
            parse_utc_millis("2016-12-05T20:54:20.827Z"),
            Some(1_480_971_260_827)
        );
        assert_eq!(parse_utc_millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_utc_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(
            parse_utc_millis("2000-02-29T12:00:00.5+00:00"),
            Some(951_825_600_500)
        );
        assert_eq!(
            parse_utc_millis("2026-11-25T11:47:22.562123Z"),
            parse_utc_millis("2026-11-25T11:47:22.562Z")
        );
    }

    #[test]
    fn rejects_what_it_cannot_place_in_utc() {
        for bad in [
            "",
            "2016-12-05 20:54:20Z",
            "2016-12-05T20:54:20.827",
            "2016-12-05T20:54:20.827+01:00",
            "2016-13-05T20:54:20Z",
            "2016-12-05T24:00:00Z",
            "2016-12-05T20:54:20.Z",
            "2016-12-05T20:54:20.8x7Z",
        ] {
            assert_eq!(parse_utc_millis(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn civil_conversion_round_trips() {
        for days in [-719_468, -1, 0, 1, 10_957, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn run_stamp_is_compact_utc() {
        assert_eq!(run_stamp(1_480_971_260_827), "20161205T205420Z");
        assert_eq!(run_stamp(0), "19700101T000000Z");
        assert_eq!(
            run_stamp(parse_utc_millis("2024-02-29T23:59:59.999Z").unwrap()),
            "20240229T235959Z"
        );
    }
}
