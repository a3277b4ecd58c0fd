//! The period of a report, as people write it: `7d`, `24h`, `90m` (that long ago), `2026-11-01` (midnight
//! UTC), `2026-11-01T12:00:00Z`, or Unix seconds.

use thiserror::Error;

use super::report::Period;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error(
        "`{0}` is not a time: use a duration ago (7d, 24h, 90m), a date (2026-11-01), a date and time \
         (2026-11-01T12:00:00Z) or Unix seconds"
    )]
    NotATime(String),
    #[error("the period is empty: --since ({since}) is not before --until ({until})")]
    Empty { since: u64, until: u64 },
}

/// The instant `text` names, as of `now` (Unix seconds).
pub fn instant(text: &str, now: u64) -> Result<u64, PeriodError> {
    let text = text.trim();
    let bad = || PeriodError::NotATime(text.to_owned());
    if let Some(unit) = text.chars().last().filter(|c| matches!(c, 'd' | 'h' | 'm' | 'w'))
        && let Ok(n) = text[..text.len() - 1].parse::<u64>()
    {
        let secs = match unit {
            'w' => 7 * 86_400,
            'd' => 86_400,
            'h' => 3600,
            _ => 60,
        };
        return Ok(now.saturating_sub(n.saturating_mul(secs)));
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(secs);
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
        return u64::try_from(midnight.and_utc().timestamp()).map_err(|_| bad());
    }
    let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| bad())?;
    u64::try_from(at.timestamp()).map_err(|_| bad())
}

/// The period from `since` (default 7 days ago) to `until` (default now, excluded), for `flow` (all: none).
pub fn period(since: Option<&str>, until: Option<&str>, flow: Option<String>, now: u64) -> Result<Period, PeriodError> {
    let since = instant(since.unwrap_or("7d"), now)?;
    // Until now included: a conversation that started this very second counts.
    let until = until.map(|u| instant(u, now)).transpose()?.unwrap_or(now + 1);
    if since >= until {
        return Err(PeriodError::Empty { since, until });
    }
    Ok(Period { since, until, flow: flow.filter(|f| !f.is_empty()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_000_000;

    #[test]
    fn people_write_times_in_many_ways() {
        assert_eq!(instant("7d", NOW), Ok(NOW - 7 * 86_400));
        assert_eq!(instant("24h", NOW), Ok(NOW - 86_400));
        assert_eq!(instant("90m", NOW), Ok(NOW - 5400));
        assert_eq!(instant("2w", NOW), Ok(NOW - 14 * 86_400));
        assert_eq!(instant("2026-11-01", NOW), Ok(1_793_491_200));
        assert_eq!(instant("2026-11-01T12:00:00Z", NOW), Ok(1_793_491_200 + 43_200));
        assert_eq!(instant("1793491200", NOW), Ok(1_793_491_200));
        assert!(matches!(instant("last week", NOW), Err(PeriodError::NotATime(_))));
    }

    #[test]
    fn the_default_is_the_last_seven_days_and_an_empty_period_is_refused() {
        let p = period(None, None, None, NOW).unwrap();
        assert_eq!((p.since, p.until), (NOW - 7 * 86_400, NOW + 1));
        let err = period(Some("1d"), Some("2d"), None, NOW).unwrap_err();
        assert!(err.to_string().contains("not before"), "{err}");
    }
}
