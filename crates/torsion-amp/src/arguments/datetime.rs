//! [`DateTime`]: Twisted's `amp.DateTime`, a date and time with a fixed
//! UTC offset, 32 characters on the wire:
//! `YYYY-MM-DDTHH:MM:SS.ffffff±HH:MM`.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AmpError;

/// A date and time with a fixed offset from UTC, to the microsecond, as
/// Python's `datetime` with a `tzinfo` holds it and Twisted's `DateTime`
/// argument sends it.
///
/// Twisted writes an offset of zero as `-00:00`, and so does this type
/// (only a positive offset gets `+`). No calendar crate is needed: the
/// conversions to and from [`SystemTime`] are the proleptic Gregorian
/// calendar's arithmetic, as Python's.
///
/// ```
/// use torsion_amp::DateTime;
///
/// let when = DateTime::new(2012, 1, 23, 12, 34, 56, 54321, 90)?;
/// assert_eq!(when.to_string(), "2012-01-23T12:34:56.054321+01:30");
/// assert_eq!("2012-01-23T12:34:56.054321+01:30".parse::<DateTime>()?, when);
/// let epoch = DateTime::from_system_time(std::time::UNIX_EPOCH);
/// assert_eq!(epoch.to_string(), "1970-01-01T00:00:00.000000-00:00");
/// # Ok::<(), torsion_amp::AmpError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    microsecond: u32,
    offset_minutes: i16,
}

fn invalid(reason: impl Into<String>) -> AmpError {
    AmpError::BadArgument {
        key: String::new(),
        reason: reason.into(),
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u8;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u8;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

impl DateTime {
    /// A date and time at `offset_minutes` from UTC (east positive),
    /// checked as Python's `datetime` checks it: years 1 to 9999, a real
    /// day of the month, an offset under 24 hours.
    ///
    /// # Errors
    ///
    /// [`AmpError::BadArgument`] naming the field out of range.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
        microsecond: u32,
        offset_minutes: i16,
    ) -> Result<DateTime, AmpError> {
        if !(1..=9999).contains(&year) {
            return Err(invalid(format!("year {year} is not between 1 and 9999")));
        }
        if !(1..=12).contains(&month) {
            return Err(invalid(format!("month {month} is not between 1 and 12")));
        }
        if day == 0 || day > days_in_month(i64::from(year), month) {
            return Err(invalid(format!("{year}-{month:02} has no day {day}")));
        }
        if hour > 23 || minute > 59 || second > 59 || microsecond > 999_999 {
            return Err(invalid(format!(
                "{hour:02}:{minute:02}:{second:02}.{microsecond:06} is not a time of day"
            )));
        }
        if offset_minutes.unsigned_abs() >= 24 * 60 {
            return Err(invalid(format!(
                "an offset of {offset_minutes} minutes is not under 24 hours"
            )));
        }
        Ok(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            microsecond,
            offset_minutes,
        })
    }

    /// The instant `micros` microseconds after the Unix epoch, as seen at
    /// `offset_minutes` from UTC.
    ///
    /// # Errors
    ///
    /// [`AmpError::BadArgument`] when that falls outside years 1 to 9999
    /// or the offset is not under 24 hours.
    pub fn from_unix_micros(micros: i64, offset_minutes: i16) -> Result<DateTime, AmpError> {
        let local = micros
            .checked_add(i64::from(offset_minutes) * 60_000_000)
            .ok_or_else(|| invalid("out of range"))?;
        let (year, month, day) = civil_from_days(local.div_euclid(MICROS_PER_DAY));
        let of_day = local.rem_euclid(MICROS_PER_DAY);
        let year = u16::try_from(year).map_err(|_| invalid(format!("year {year}")))?;
        DateTime::new(
            year,
            month,
            day,
            (of_day / 3_600_000_000) as u8,
            (of_day / 60_000_000 % 60) as u8,
            (of_day / 1_000_000 % 60) as u8,
            (of_day % 1_000_000) as u32,
            offset_minutes,
        )
    }

    /// The instant `time`, in UTC (an offset of zero).
    ///
    /// # Panics
    ///
    /// If `time` is after the year 9999 or before the year 1.
    pub fn from_system_time(time: SystemTime) -> DateTime {
        let micros = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_micros()),
            Err(before) => i64::try_from(before.duration().as_micros()).map(|m| -m),
        }
        .expect("a SystemTime within years 1 to 9999");
        DateTime::from_unix_micros(micros, 0).expect("a SystemTime within years 1 to 9999")
    }

    /// Microseconds since the Unix epoch (negative before it).
    pub fn unix_micros(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let of_day = ((i64::from(self.hour) * 60 + i64::from(self.minute)) * 60
            + i64::from(self.second))
            * 1_000_000
            + i64::from(self.microsecond);
        days * MICROS_PER_DAY + of_day - i64::from(self.offset_minutes) * 60_000_000
    }

    /// The instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        let micros = self.unix_micros();
        let magnitude = Duration::from_micros(micros.unsigned_abs());
        if micros >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// The year, 1 to 9999.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The hour, 0 to 23.
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute, 0 to 59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// The second, 0 to 59.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// The microsecond, 0 to 999999.
    pub fn microsecond(&self) -> u32 {
        self.microsecond
    }

    /// The offset from UTC in minutes, east positive.
    pub fn offset_minutes(&self) -> i16 {
        self.offset_minutes
    }
}

impl fmt::Display for DateTime {
    /// The wire form, exactly 32 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.offset_minutes > 0 { '+' } else { '-' };
        let offset = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.microsecond,
            offset / 60,
            offset % 60
        )
    }
}

impl FromStr for DateTime {
    type Err = AmpError;

    /// Reads the wire form, as Twisted's `DateTime.fromString` does: 32
    /// characters, numbers at fixed places.
    fn from_str(text: &str) -> Result<DateTime, AmpError> {
        let bytes = text.as_bytes();
        let wrong = || invalid(format!("{text:?} is not a date and time of 32 characters"));
        if bytes.len() != 32 || !text.is_ascii() {
            return Err(wrong());
        }
        let number = |start: usize, end: usize| -> Result<u32, AmpError> {
            let digits = &text[start..end];
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(wrong());
            }
            digits.parse().map_err(|_| wrong())
        };
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
        if separators.iter().any(|&(at, want)| bytes[at] != want)
            || bytes[19] != b'.'
            || bytes[29] != b':'
        {
            return Err(wrong());
        }
        let sign: i16 = match bytes[26] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(wrong()),
        };
        let offset = (number(27, 29)? * 60 + number(30, 32)?) as i16;
        DateTime::new(
            number(0, 4)? as u16,
            number(5, 7)? as u8,
            number(8, 10)? as u8,
            number(11, 13)? as u8,
            number(14, 16)? as u8,
            number(17, 19)? as u8,
            number(20, 26)?,
            sign * offset,
        )
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DateTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_is_twisteds() {
        let when = DateTime::new(2012, 1, 23, 12, 34, 56, 54321, -(5 * 60 + 30)).unwrap();
        assert_eq!(when.to_string(), "2012-01-23T12:34:56.054321-05:30");
        assert_eq!(when.to_string().parse::<DateTime>().unwrap(), when);
    }

    #[test]
    fn unix_time_round_trips_across_the_calendar() {
        for micros in [
            0,
            -1,
            951_782_400_000_000, // 2000-02-29
            253_402_300_799_999_999,
            -62_135_596_800_000_000, // 0001-01-01
        ] {
            let when = DateTime::from_unix_micros(micros, 0).unwrap();
            assert_eq!(when.unix_micros(), micros, "{when}");
        }
        let leap = DateTime::from_unix_micros(951_782_400_000_000, 0).unwrap();
        assert_eq!((leap.year(), leap.month(), leap.day()), (2000, 2, 29));
        assert!(DateTime::from_unix_micros(253_402_300_800_000_000, 0).is_err());
    }

    #[test]
    fn an_offset_changes_the_fields_not_the_instant() {
        let utc = DateTime::from_unix_micros(0, 0).unwrap();
        let east = DateTime::from_unix_micros(0, 60).unwrap();
        assert_eq!(east.to_string(), "1970-01-01T01:00:00.000000+01:00");
        assert_eq!(east.unix_micros(), utc.unix_micros());
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert!(DateTime::new(2023, 2, 29, 0, 0, 0, 0, 0).is_err());
        assert!(DateTime::new(2024, 2, 29, 0, 0, 0, 0, 0).is_ok());
        assert!(DateTime::new(0, 1, 1, 0, 0, 0, 0, 0).is_err());
        assert!(DateTime::new(1, 1, 1, 24, 0, 0, 0, 0).is_err());
        assert!(DateTime::new(1, 1, 1, 0, 0, 0, 0, 24 * 60).is_err());
        for text in [
            "2012-01-23T12:34:56.054321+01:3",
            "2012-01-23T12:34:56.054321*01:30",
            "2012-13-23T12:34:56.054321+01:30",
            "2012-01-23 12:34:56.054321+01:30",
            "2012-01-23T12:34:56.0543x1+01:30",
        ] {
            assert!(text.parse::<DateTime>().is_err(), "{text}");
        }
    }
}
