//! Calendar dates and UTC date-times, as far as EDF headers need them.
//!
//! EDF stores the start of a recording as `dd.mm.yy` and `hh.mm.ss` (local
//! time by the letter of the spec; neuropipe always writes UTC) and EDF+ adds
//! `dd-MMM-yyyy` dates to the patient and recording fields. This module has
//! just enough calendar arithmetic for that, without a time-zone database.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Upper-case English month abbreviations, as EDF+ writes them (`JAN` … `DEC`).
pub const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2024.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
}

/// A UTC date and time with whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    /// The calendar date.
    pub date: Date,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1–12) of `year`; 0 for an invalid month.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(i64::from(year)) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A validated date; `None` if the month or day does not exist.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month) {
            Some(Date { year, month, day })
        } else {
            None
        }
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_unix_epoch(self) -> i64 {
        // Count days from 0000-03-01 so that the leap day is the last day of
        // the (shifted) year, then subtract the offset of 1970-01-01.
        let (y, m) = if self.month <= 2 {
            (i64::from(self.year) - 1, i64::from(self.month) + 9)
        } else {
            (i64::from(self.year), i64::from(self.month) - 3)
        };
        let day_of_year = (153 * m + 2) / 5 + i64::from(self.day) - 1;
        let days = 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) + day_of_year;
        days - 719_468
    }

    /// The date `days` days after 1970-01-01; `None` outside years 0–65535.
    pub fn from_days_since_unix_epoch(days: i64) -> Option<Date> {
        // Inverse of `days_since_unix_epoch`, by 400-year eras of 146 097 days.
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let year = u16::try_from(year).ok()?;
        Date::new(year, month as u8, day as u8)
    }
}

impl fmt::Display for Date {
    /// ISO 8601, `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl DateTime {
    /// A validated date-time; `None` if any part is out of range.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Option<DateTime> {
        let date = Date::new(year, month, day)?;
        (hour < 24 && minute < 60 && second < 60).then_some(DateTime {
            date,
            hour,
            minute,
            second,
        })
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn to_unix_seconds(self) -> i64 {
        self.date.days_since_unix_epoch() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The UTC date-time `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_seconds(secs: i64) -> Option<DateTime> {
        let date = Date::from_days_since_unix_epoch(secs.div_euclid(86_400))?;
        let rem = secs.rem_euclid(86_400);
        Some(DateTime {
            date,
            hour: (rem / 3600) as u8,
            minute: (rem % 3600 / 60) as u8,
            second: (rem % 60) as u8,
        })
    }

    /// A `SystemTime` rounded down to the whole second, in UTC.
    pub fn from_system_time(t: SystemTime) -> Option<DateTime> {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).ok()?,
            Err(e) => {
                let d = e.duration();
                let whole = i64::try_from(d.as_secs()).ok()?;
                if d.subsec_nanos() > 0 {
                    -whole - 1
                } else {
                    -whole
                }
            }
        };
        DateTime::from_unix_seconds(secs)
    }

    /// The current UTC time, rounded down to the whole second.
    pub fn now_utc() -> DateTime {
        DateTime::from_system_time(SystemTime::now()).unwrap_or(DateTime {
            date: Date {
                year: 1970,
                month: 1,
                day: 1,
            },
            hour: 0,
            minute: 0,
            second: 0,
        })
    }
}

impl fmt::Display for DateTime {
    /// ISO 8601 in UTC, `YYYY-MM-DDThh:mm:ssZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}T{:02}:{:02}:{:02}Z",
            self.date, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trip_known_values() {
        let t = DateTime::new(2024, 2, 29, 23, 59, 58).unwrap();
        assert_eq!(t.to_unix_seconds(), 1_709_251_198);
        assert_eq!(DateTime::from_unix_seconds(1_709_251_198), Some(t));
        assert_eq!(
            DateTime::from_unix_seconds(0).unwrap().to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            DateTime::from_unix_seconds(-1).unwrap().to_string(),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn every_day_round_trips() {
        for days in -700_000..800_000i64 {
            let d = Date::from_days_since_unix_epoch(days).unwrap();
            assert_eq!(d.days_since_unix_epoch(), days, "{d}");
        }
    }

    #[test]
    fn validation() {
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(DateTime::new(2024, 1, 1, 24, 0, 0).is_none());
    }
}
