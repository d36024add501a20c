//! Deploy windows: `Mon-Fri 09:00-17:00 Europe/Madrid`, when an environment may be deployed.
//!
//! Pure: parses the written form and answers "open at this instant?" and "when does it open
//! next?" for instants the caller supplies; it never reads the clock.
//!
//! Grammar (one window per environment; a YAML list of windows is not accepted):
//!
//! ```text
//! WINDOW := DAYS " " HH:MM "-" HH:MM " " ZONE
//! DAYS   := ITEM ("," ITEM)*          Mon,Wed,Fri   Mon-Fri   Sat-Sun,Wed
//! ITEM   := DAY | DAY "-" DAY         a range may wrap the week: Fri-Mon
//! DAY    := Mon Tue Wed Thu Fri Sat Sun (any case)
//! ZONE   := an IANA time zone (Europe/Madrid, UTC), from chrono-tz
//! ```
//!
//! Times are wall-clock times in ZONE; the end may be `24:00`. An end earlier than the start is
//! an overnight window: `Fri 22:00-02:00` opens on Friday at 22:00 and closes on Saturday at
//! 02:00 (the days name the day a window opens). Start and end equal is an error.
//!
//! Daylight-saving changes: a wall-clock time that does not exist (the clocks jump over it) is
//! taken as the first instant after the jump; one that exists twice (the clocks go back) opens
//! a window at its first occurrence and closes one at its second, so the window covers every
//! wall-clock minute it names.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// A parsed deploy window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The day items as written (ranges kept for display), first and last day of each.
    items: Vec<(Weekday, Weekday)>,
    /// The days a window opens, Monday first.
    days: [bool; 7],
    start: NaiveTime,
    /// `None` is `24:00`: midnight at the end of the day.
    end: Option<NaiveTime>,
    zone: Tz,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error(
        "{0:?} is not a window: expected DAYS HH:MM-HH:MM ZONE, like Mon-Fri 09:00-17:00 Europe/Madrid"
    )]
    Shape(String),
    #[error("{0:?} is not a day: expected Mon, Tue, Wed, Thu, Fri, Sat or Sun")]
    Day(String),
    #[error("{0:?} is not a time: expected HH:MM from 00:00 to 24:00")]
    Time(String),
    #[error("{0:?} is an empty window: its start and end are the same time")]
    Empty(String),
    #[error("{0:?} is not a time zone: expected an IANA name like Europe/Madrid or UTC")]
    Zone(String),
}

impl Window {
    /// Parses the written form (see the module documentation).
    pub fn parse(text: &str) -> Result<Window, WindowError> {
        let shape = || WindowError::Shape(text.to_string());
        let mut words = text.split_whitespace();
        let (Some(days), Some(times), Some(zone), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(shape());
        };
        let mut items = Vec::new();
        let mut open_days = [false; 7];
        for item in days.split(',') {
            let (first, last) = match item.split_once('-') {
                Some((a, b)) => (parse_day(a)?, parse_day(b)?),
                None => (parse_day(item)?, parse_day(item)?),
            };
            let mut day = first;
            loop {
                open_days[day.num_days_from_monday() as usize] = true;
                if day == last {
                    break;
                }
                day = day.succ();
            }
            items.push((first, last));
        }
        let (start, end) = times.split_once('-').ok_or_else(shape)?;
        let start = match parse_time(start)? {
            Some(t) => t,
            None => return Err(WindowError::Time(start.to_string())),
        };
        let end = parse_time(end)?;
        if end == Some(start) {
            return Err(WindowError::Empty(text.to_string()));
        }
        let zone = Tz::from_str(zone).map_err(|_| WindowError::Zone(zone.to_string()))?;
        Ok(Window {
            items,
            days: open_days,
            start,
            end,
            zone,
        })
    }

    /// The window's time zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Whether the window is open at `at`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.next_opening(at) == at
    }

    /// The first instant at or after `at` when the window is open: `at` itself when it is
    /// open then.
    pub fn next_opening(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let today = at.with_timezone(&self.zone).date_naive();
        // A window opened yesterday may still be open (overnight); within two weeks every
        // open day occurs twice, and no zone changes its clocks twice in a week, so one of
        // them is a window of non-zero length.
        let mut day = today - Duration::days(1);
        for _ in 0..16 {
            if let Some((open, close)) = self.occurrence(day)
                && close > at
            {
                return open.max(at);
            }
            day += Duration::days(1);
        }
        // Not reachable for a parsed window (see above); a week later is a safe answer.
        at + Duration::days(7)
    }

    /// The window that opens on local date `day`, in UTC, if it opens that day and is not
    /// swallowed whole by a clock change.
    fn occurrence(&self, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days[day.weekday().num_days_from_monday() as usize] {
            return None;
        }
        let open = self.instant(day, self.start, Edge::Open)?;
        let close = match self.end {
            Some(end) if end > self.start => self.instant(day, end, Edge::Close)?,
            Some(end) => self.instant(day.succ_opt()?, end, Edge::Close)?,
            None => self.instant(day.succ_opt()?, NaiveTime::MIN, Edge::Close)?,
        };
        (close > open).then_some((open, close))
    }

    /// The instant of wall-clock `time` on `day` in the window's zone.
    fn instant(&self, day: NaiveDate, time: NaiveTime, edge: Edge) -> Option<DateTime<Utc>> {
        let mut local = day.and_time(time);
        // A time in a gap: the first minute after it that exists. Gaps are at most a few
        // hours long; a day of minutes bounds the search.
        for _ in 0..(24 * 60) {
            match self.zone.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
                chrono::LocalResult::Ambiguous(first, second) => {
                    let t = match edge {
                        Edge::Open => first,
                        Edge::Close => second,
                    };
                    return Some(t.with_timezone(&Utc));
                }
                chrono::LocalResult::None => local += Duration::minutes(1),
            }
        }
        None
    }
}

#[derive(Clone, Copy)]
enum Edge {
    Open,
    Close,
}

fn parse_day(text: &str) -> Result<Weekday, WindowError> {
    let day = match text.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return Err(WindowError::Day(text.to_string())),
    };
    Ok(day)
}

/// `HH:MM`; `24:00` is `None` (the end of the day).
fn parse_time(text: &str) -> Result<Option<NaiveTime>, WindowError> {
    let bad = || WindowError::Time(text.to_string());
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if (h, m) == (24, 0) {
        return Ok(None);
    }
    NaiveTime::from_hms_opt(h, m, 0).map(Some).ok_or_else(bad)
}

impl fmt::Display for Window {
    /// The canonical written form: `Mon-Fri 09:00-17:00 Europe/Madrid`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (first, last)) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if first == last {
                write!(f, "{first}")?;
            } else {
                write!(f, "{first}-{last}")?;
            }
        }
        let end = match self.end {
            Some(end) => end.format("%H:%M").to_string(),
            None => "24:00".to_string(),
        };
        write!(
            f,
            " {}-{end} {}",
            self.start.format("%H:%M"),
            self.zone.name()
        )
    }
}

impl<'de> serde::Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Window, D::Error> {
        let text = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "window: expected a string like Mon-Fri 09:00-17:00 Europe/Madrid",
            )
        })?;
        Window::parse(&text).map_err(|e| serde::de::Error::custom(format!("window: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    fn window(text: &str) -> Window {
        Window::parse(text).expect("test window")
    }

    #[test]
    fn parses_and_displays_the_canonical_form() {
        for (written, shown) in [
            (
                "Mon-Fri 09:00-17:00 Europe/Madrid",
                "Mon-Fri 09:00-17:00 Europe/Madrid",
            ),
            ("mon,WED,fri 08:30-12:00 UTC", "Mon,Wed,Fri 08:30-12:00 UTC"),
            (
                "Sat-Sun,Wed 00:00-24:00 Europe/London",
                "Sat-Sun,Wed 00:00-24:00 Europe/London",
            ),
            (
                "Fri-Mon  22:00-02:00   America/New_York",
                "Fri-Mon 22:00-02:00 America/New_York",
            ),
        ] {
            assert_eq!(window(written).to_string(), shown, "{written}");
        }
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        for (written, error) in [
            (
                "Mon-Fri 09:00-17:00",
                WindowError::Shape("Mon-Fri 09:00-17:00".into()),
            ),
            (
                "Mon-Fri 09:00-17:00 UTC extra",
                WindowError::Shape("Mon-Fri 09:00-17:00 UTC extra".into()),
            ),
            (
                "Mon-Fri 0900 UTC",
                WindowError::Shape("Mon-Fri 0900 UTC".into()),
            ),
            ("Mon-Fry 09:00-17:00 UTC", WindowError::Day("Fry".into())),
            ("Mon,,Fri 09:00-17:00 UTC", WindowError::Day("".into())),
            ("Mon 9:00-17:00 UTC", WindowError::Time("9:00".into())),
            ("Mon 09:00-17:60 UTC", WindowError::Time("17:60".into())),
            ("Mon 24:00-17:00 UTC", WindowError::Time("24:00".into())),
            (
                "Mon 09:00-09:00 UTC",
                WindowError::Empty("Mon 09:00-09:00 UTC".into()),
            ),
            (
                "Mon 09:00-17:00 Europe/Madird",
                WindowError::Zone("Europe/Madird".into()),
            ),
        ] {
            assert_eq!(Window::parse(written), Err(error), "{written}");
        }
    }

    #[test]
    fn contains_and_next_opening_across_madrid_clock_changes() {
        // Madrid is UTC+1 in winter, UTC+2 in summer; 2026-03-29 at 02:00 the clocks jump to
        // 03:00, 2026-10-25 at 03:00 they go back to 02:00. 2026-03-27 is a Friday.
        let office = "Mon-Fri 09:00-17:00 Europe/Madrid";
        let all_week = "Mon-Sun 02:30-04:00 Europe/Madrid";
        let late = "Sat,Sun 02:00-02:30 Europe/Madrid";
        let overnight = "Sat 22:00-03:30 Europe/Madrid";
        for (w, at, open, next) in [
            // Winter: 09:00 local is 08:00 UTC.
            (
                office,
                "2026-03-27T07:59:00Z",
                false,
                "2026-03-27T08:00:00Z",
            ),
            (office, "2026-03-27T08:00:00Z", true, "2026-03-27T08:00:00Z"),
            (office, "2026-03-27T15:59:59Z", true, "2026-03-27T15:59:59Z"),
            // Friday 17:00 local closes; the next opening is Monday, now in summer time.
            (
                office,
                "2026-03-27T16:00:00Z",
                false,
                "2026-03-30T07:00:00Z",
            ),
            (
                office,
                "2026-03-28T12:00:00Z",
                false,
                "2026-03-30T07:00:00Z",
            ),
            // Summer to winter over the weekend of 2026-10-25.
            (office, "2026-10-23T14:59:00Z", true, "2026-10-23T14:59:00Z"),
            (
                office,
                "2026-10-23T15:00:00Z",
                false,
                "2026-10-26T08:00:00Z",
            ),
            // 02:30 does not exist on 2026-03-29: the window opens when the clocks reach
            // 03:00 (01:00 UTC) and closes at 04:00 summer time (02:00 UTC).
            (
                all_week,
                "2026-03-29T00:00:00Z",
                false,
                "2026-03-29T01:00:00Z",
            ),
            (
                all_week,
                "2026-03-29T01:00:00Z",
                true,
                "2026-03-29T01:00:00Z",
            ),
            (
                all_week,
                "2026-03-29T02:00:00Z",
                false,
                "2026-03-30T00:30:00Z",
            ),
            // The day before, in winter time: 02:30 local is 01:30 UTC.
            (
                all_week,
                "2026-03-28T01:29:00Z",
                false,
                "2026-03-28T01:30:00Z",
            ),
            // 02:30 exists twice on 2026-10-25 (00:30 and 01:30 UTC): it opens at the first.
            (
                all_week,
                "2026-10-25T00:29:00Z",
                false,
                "2026-10-25T00:30:00Z",
            ),
            (
                all_week,
                "2026-10-25T00:30:00Z",
                true,
                "2026-10-25T00:30:00Z",
            ),
            // …and runs to 04:00 winter time (03:00 UTC), through the repeated hour.
            (
                all_week,
                "2026-10-25T02:59:00Z",
                true,
                "2026-10-25T02:59:00Z",
            ),
            (
                all_week,
                "2026-10-25T03:00:00Z",
                false,
                "2026-10-26T01:30:00Z",
            ),
            // A window wholly inside the gap does not open that day (Sunday 2026-03-29).
            (late, "2026-03-28T23:00:00Z", false, "2026-04-04T00:00:00Z"),
            // The same window on the day the clocks go back: 02:00 first (00:00 UTC) to
            // 02:30 second (01:30 UTC).
            (late, "2026-10-25T01:29:00Z", true, "2026-10-25T01:29:00Z"),
            (late, "2026-10-25T01:30:00Z", false, "2026-10-31T01:00:00Z"),
            // Overnight: Saturday 22:00 to Sunday 03:30, across the spring change.
            (
                overnight,
                "2026-03-28T21:00:00Z",
                true,
                "2026-03-28T21:00:00Z",
            ),
            (
                overnight,
                "2026-03-29T01:29:00Z",
                true,
                "2026-03-29T01:29:00Z",
            ),
            (
                overnight,
                "2026-03-29T01:30:00Z",
                false,
                "2026-04-04T20:00:00Z",
            ),
        ] {
            let window = window(w);
            let at = utc(at);
            assert_eq!(window.contains(at), open, "{w} contains {at}");
            assert_eq!(
                window.next_opening(at),
                utc(next),
                "{w} next opening after {at}"
            );
        }
    }

    #[test]
    fn a_range_may_wrap_the_week_and_24_00_ends_the_day() {
        let w = window("Sat-Mon 00:00-24:00 UTC");
        // 2026-11-27 is a Friday.
        assert!(!w.contains(utc("2026-11-27T23:59:59Z")));
        assert!(w.contains(utc("2026-11-28T00:00:00Z")));
        assert!(w.contains(utc("2026-11-30T23:59:59Z")));
        assert!(!w.contains(utc("2026-12-01T00:00:00Z")));
        assert_eq!(
            w.next_opening(utc("2026-12-01T00:00:00Z")),
            utc("2026-12-05T00:00:00Z")
        );
    }

    #[test]
    fn deserializes_from_a_string_only() {
        let w: Window = yaml_serde::from_str("Mon-Fri 09:00-17:00 UTC").expect("a window");
        assert_eq!(w, window("Mon-Fri 09:00-17:00 UTC"));
        let err = yaml_serde::from_str::<Window>("[Mon 09:00-17:00 UTC]").unwrap_err();
        assert!(
            err.to_string().starts_with("window: expected a string"),
            "{err}"
        );
    }
}
