//! When a check runs: a named period (`hourly`, `every_6_hours`, `daily`, `weekly`) or a cron
//! expression (`0 3 * * *`, evaluated in UTC by `croner`), and a jitter per (database, check).
//!
//! The jitter exists because a fleet shares its schedules: 500 databases with a `daily` check
//! would otherwise all be queried at the same instant, and so would the store that records
//! them. It is a hash of the two names, so it is the same on every run, in every process and
//! after a restart (a random one would move a check's slot each time the daemon starts).

use std::fmt;

use croner::{CivilDate, CivilDateTime, CivilTime, CronDateTime, Resolution, Weekday};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};

/// The largest jitter, whatever the period: a weekly check moves by at most this.
pub const MAX_JITTER: SignedDuration = SignedDuration::from_mins(15);
/// The share of the period the jitter may take (10 %).
const JITTER_SHARE: f64 = 0.10;

/// A check's schedule, as its file wrote it.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// A fixed period, given by name.
    Every { name: &'static str, period: SignedDuration },
    /// A cron expression (five fields, or six with seconds), in UTC.
    Cron { text: String, cron: Box<croner::Cron> },
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        self.to_string() == other.to_string()
    }
}

const NAMED: &[(&str, i64)] = &[("hourly", 3_600), ("every_6_hours", 21_600), ("daily", 86_400), ("weekly", 604_800)];

impl Schedule {
    /// The default when a check names none.
    pub fn daily() -> Schedule {
        Schedule::Every { name: "daily", period: SignedDuration::from_hours(24) }
    }

    /// Reads `hourly`, `every_6_hours`, `daily`, `weekly` or a cron expression. The error is a
    /// sentence for a policy problem.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        if let Some((name, secs)) = NAMED.iter().find(|(name, _)| *name == text) {
            return Ok(Schedule::Every { name, period: SignedDuration::from_secs(*secs) });
        }
        if !text.contains(' ') {
            return Err(format!(
                "schedule `{text}` is not one of hourly, every_6_hours, daily, weekly, nor a cron expression"
            ));
        }
        let cron = text
            .parse::<croner::Cron>()
            .map_err(|error| format!("schedule `{text}` is not a valid cron expression: {error}"))?;
        let schedule = Schedule::Cron { text: text.to_owned(), cron: Box::new(cron) };
        // A pattern that never fires (e.g. 30 February) would leave the check waiting for ever.
        if schedule.cron_next(Timestamp::UNIX_EPOCH).is_none() {
            return Err(format!("schedule `{text}` never fires"));
        }
        Ok(schedule)
    }

    /// The first run strictly after `last`, before jitter. A cron expression that has no next
    /// occurrence (past the year 9999) gives `Timestamp::MAX`: never.
    pub fn next_after(&self, last: Timestamp) -> Timestamp {
        match self {
            Schedule::Every { period, .. } => last.saturating_add(*period).unwrap_or(Timestamp::MAX),
            Schedule::Cron { .. } => self.cron_next(last).unwrap_or(Timestamp::MAX),
        }
    }

    /// The time between two runs: the period, or for a cron expression the gap between its
    /// next two occurrences after `at` (what the jitter is a share of).
    pub fn period_at(&self, at: Timestamp) -> SignedDuration {
        match self {
            Schedule::Every { period, .. } => *period,
            Schedule::Cron { .. } => {
                let first = self.next_after(at);
                let second = self.next_after(first);
                second.duration_since(first)
            }
        }
    }

    /// The run after `now` for `database`'s `check`: [`Schedule::next_after`] moved later by
    /// that pair's [`jitter`]. The scheduler computes it from *now*, never from the missed
    /// slot, so a daemon that was down for a week runs a daily check once, not seven times.
    pub fn next_run(&self, now: Timestamp, database: &str, check: &str) -> Timestamp {
        let next = self.next_after(now);
        let offset = jitter(database, check, self.period_at(now));
        next.saturating_add(offset).unwrap_or(Timestamp::MAX)
    }

    fn cron_next(&self, after: Timestamp) -> Option<Timestamp> {
        let Schedule::Cron { cron, .. } = self else { return None };
        let next = cron.find_next_occurrence(&Utc(after), false).ok()?;
        Some(next.0)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every { name, .. } => f.write_str(name),
            Schedule::Cron { text, .. } => f.write_str(text),
        }
    }
}

/// How far `database`'s `check` is moved after its slot: a stable hash of the two names,
/// spread over [0, min(10 % of `period`, [`MAX_JITTER`])).
pub fn jitter(database: &str, check: &str, period: SignedDuration) -> SignedDuration {
    let cap = SignedDuration::from_secs_f64(period.as_secs_f64().max(0.0) * JITTER_SHARE).min(MAX_JITTER);
    let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(0);
    if cap_ms == 0 {
        return SignedDuration::ZERO;
    }
    let ms = fnv1a(database, check) % cap_ms;
    SignedDuration::from_millis(i64::try_from(ms).unwrap_or(0))
}

/// FNV-1a over `database \0 check`: fixed by its definition, unlike `std`'s hasher, whose
/// output may change between Rust releases (and so move every check's slot).
fn fnv1a(database: &str, check: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in database.bytes().chain([0]).chain(check.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A UTC instant as croner sees one: a wall clock with no time zone, so no daylight saving.
#[derive(Debug, Clone, Copy)]
struct Utc(Timestamp);

impl CronDateTime for Utc {
    fn to_civil(&self) -> CivilDateTime {
        let at = Offset::UTC.to_datetime(self.0);
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(
                i32::from(at.year()),
                u32::from(at.month().unsigned_abs()),
                u32::from(at.day().unsigned_abs()),
            ),
            CivilTime::from_parts_unchecked(
                u32::from(at.hour().unsigned_abs()),
                u32::from(at.minute().unsigned_abs()),
                u32::from(at.second().unsigned_abs()),
            ),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        let at = Offset::UTC.to_datetime(self.0);
        Weekday::from_days_from_sunday(u32::from(at.weekday().to_sunday_zero_offset().unsigned_abs()))
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, croner::errors::CronError> {
        let invalid = || croner::errors::CronError::InvalidDate;
        let part = |value: u32| i8::try_from(value).map_err(|_| invalid());
        let year = i16::try_from(civil.year()).map_err(|_| invalid())?;
        let at = jiff::civil::DateTime::new(
            year,
            part(civil.month())?,
            part(civil.day())?,
            part(civil.hour())?,
            part(civil.minute())?,
            part(civil.second())?,
            0,
        )
        .map_err(|_| invalid())?;
        let at = Offset::UTC.to_timestamp(at).map_err(|_| invalid())?;
        Ok(Resolution::Single(Utc(at)))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(SignedDuration::from_secs(seconds)).ok().map(Utc)
    }

    fn cmp_instant(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn named_periods_add_their_length() {
        let last = at("2026-11-25T01:02:03Z");
        assert_eq!(Schedule::parse("hourly").unwrap().next_after(last), at("2026-11-25T02:02:03Z"));
        assert_eq!(Schedule::parse("every_6_hours").unwrap().next_after(last), at("2026-11-25T07:02:03Z"));
        assert_eq!(Schedule::parse(" daily ").unwrap().next_after(last), at("2026-11-26T01:02:03Z"));
        assert_eq!(Schedule::parse("weekly").unwrap().next_after(last), at("2026-12-02T01:02:03Z"));
        assert_eq!(Schedule::parse("weekly").unwrap().to_string(), "weekly");
    }

    #[test]
    fn cron_expressions_fire_on_their_slots_in_utc() {
        let nightly = Schedule::parse("0 3 * * *").unwrap();
        assert_eq!(nightly.next_after(at("2026-11-25T01:02:03Z")), at("2026-11-25T03:00:00Z"));
        assert_eq!(nightly.next_after(at("2026-11-25T03:00:00Z")), at("2026-11-26T03:00:00Z"));
        assert_eq!(nightly.period_at(at("2026-11-25T01:00:00Z")), SignedDuration::from_hours(24));
        let mondays = Schedule::parse("30 6 * * MON").unwrap();
        // 2026-11-25 is a Wednesday; the next Monday is the 30th.
        assert_eq!(mondays.next_after(at("2026-11-25T00:00:00Z")), at("2026-11-30T06:30:00Z"));
        assert_eq!(mondays.to_string(), "30 6 * * MON");
    }

    #[test]
    fn bad_schedules_say_why() {
        assert!(Schedule::parse("fortnightly").unwrap_err().contains("not one of hourly"));
        assert!(Schedule::parse("61 * * * *").unwrap_err().contains("not a valid cron expression"));
        assert!(Schedule::parse("0 0 30 2 *").unwrap_err().contains("never fires"));
    }

    #[test]
    fn jitter_is_stable_spread_and_capped() {
        let hour = SignedDuration::from_hours(1);
        let a = jitter("db001", "pg_xid_wraparound_risk", hour);
        assert_eq!(a, jitter("db001", "pg_xid_wraparound_risk", hour), "the same pair, the same slot");
        // 500 databases: within 10 % of an hour, and not all at one instant.
        let offsets: std::collections::BTreeSet<_> =
            (0..500).map(|n| jitter(&format!("db{n:03}"), "pg_xid_wraparound_risk", hour)).collect();
        assert!(offsets.iter().all(|o| *o >= SignedDuration::ZERO && *o < SignedDuration::from_mins(6)));
        assert!(offsets.len() > 450, "{} distinct offsets", offsets.len());
        // A weekly check's 10 % would be 16.8 h: capped.
        let week = SignedDuration::from_hours(168);
        assert!((0..500).all(|n| jitter(&format!("db{n}"), "c", week) < MAX_JITTER));
        assert_eq!(jitter("db", "c", SignedDuration::ZERO), SignedDuration::ZERO);
    }

    #[test]
    fn the_next_run_is_counted_from_now_plus_the_pairs_jitter() {
        let daily = Schedule::daily();
        let now = at("2026-11-25T01:02:03Z");
        let next = daily.next_run(now, "db1", "check");
        let offset = jitter("db1", "check", SignedDuration::from_hours(24));
        assert_eq!(next, at("2026-11-26T01:02:03Z").checked_add(offset).unwrap());
        assert_ne!(daily.next_run(now, "db1", "check"), daily.next_run(now, "db2", "check"));
    }
}
