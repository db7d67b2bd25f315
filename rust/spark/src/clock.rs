//! UTC times this crate and the sweep handle: the ISO-8601 `timestamp` of a
//! progress event (parsed to epoch milliseconds so batches can be placed on
//! one time line), the `runs/<stamp>` directory name and the RFC 3339 start
//! time of a sweep's run. Spark only ever writes UTC
//! (`2016-12-05T20:54:20.827Z`), so the civil-date conversion of
//! `sfcrime_records::calendar` is all that is needed.

use sfcrime_records::calendar::{days_from_civil, CivilTime};
use std::time::{SystemTime, UNIX_EPOCH};

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
    let t = CivilTime::from_epoch_seconds(epoch_ms.div_euclid(1000));
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `t` in UTC as RFC 3339 with whole seconds, e.g. `2026-11-25T11:47:22Z`.
pub fn rfc3339_utc(t: SystemTime) -> String {
    let t = CivilTime::from_epoch_seconds(epoch_millis(t).div_euclid(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
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
    fn rfc3339_matches_known_instants() {
        let at = |s: u64| rfc3339_utc(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_608_454), "2026-11-25T12:07:34Z");
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
