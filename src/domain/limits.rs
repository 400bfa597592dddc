//! Daily limits: how many meetings an agent takes in one of its own days. A team sets the limit for its
//! agents and an agent may have its own; every booked meeting of the agent counts, whatever its team, on the
//! local date (in the agent's zone) it starts.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::availability::Span;
use super::values::Invalid;

/// Highest daily limit that can be set.
pub const MAX_DAILY_LIMIT: i64 = 100;

/// Meetings a day an agent may take, 1 to `MAX_DAILY_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DailyLimit(u32);

impl DailyLimit {
    pub fn parse(n: i64) -> Result<Self, Invalid> {
        if (1..=MAX_DAILY_LIMIT).contains(&n) {
            Ok(Self(n as u32))
        } else {
            Err(Invalid(format!(
                "must be between 1 and {MAX_DAILY_LIMIT} (or null for no limit)"
            )))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The limit that applies to an agent in a team: its own, else the team's, else none.
pub fn effective(agent: Option<DailyLimit>, team: Option<DailyLimit>) -> Option<DailyLimit> {
    agent.or(team)
}

/// The instant a local date begins in `zone` (the first instant of the day when midnight does not exist
/// there, as on a DST change at midnight).
fn day_start(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    (0..=24)
        .find_map(|h| {
            zone.from_local_datetime(&(midnight + Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// The local day (in `zone`) that `at` falls on, as instants.
pub fn local_day(zone: Tz, at: DateTime<Utc>) -> Span {
    let date = at.with_timezone(&zone).date_naive();
    Span {
        start: day_start(zone, date),
        end: day_start(zone, date + Duration::days(1)),
    }
}

/// Whether an agent with meetings starting at `starts` is full on the local day of `at`.
pub fn is_full(zone: Tz, limit: DailyLimit, starts: &[DateTime<Utc>], at: DateTime<Utc>) -> bool {
    let day = local_day(zone, at);
    let taken = starts
        .iter()
        .filter(|s| **s >= day.start && **s < day.end)
        .count();
    taken >= limit.get() as usize
}

/// The local days on which an agent with meetings starting at `starts` is full: busy all day for new
/// meetings.
pub fn full_days(zone: Tz, limit: DailyLimit, starts: &[DateTime<Utc>]) -> Vec<Span> {
    let mut days: Vec<Span> = starts.iter().map(|s| local_day(zone, *s)).collect();
    days.sort_by_key(|d| d.start);
    let mut out: Vec<Span> = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let j = days[i..].iter().take_while(|d| **d == days[i]).count();
        if j >= limit.get() as usize {
            out.push(days[i]);
        }
        i += j;
    }
    out
}

/// The range of meeting starts that can share a local day with `at` in any zone (±26 hours).
pub fn any_zone_day_around(at: DateTime<Utc>) -> Span {
    Span {
        start: at - Duration::hours(26),
        end: at + Duration::hours(26),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn limits_are_whole_numbers_in_range() {
        assert_eq!(DailyLimit::parse(4).unwrap().get(), 4);
        assert!(DailyLimit::parse(0).is_err());
        assert!(DailyLimit::parse(101).is_err());
        let two = DailyLimit::parse(2).ok();
        let five = DailyLimit::parse(5).ok();
        assert_eq!(effective(two, five), two);
        assert_eq!(effective(None, five), five);
        assert_eq!(effective(None, None), None);
    }

    #[test]
    fn the_day_is_the_agents_own() {
        let ams: Tz = "Europe/Amsterdam".parse().unwrap();
        let day = local_day(ams, t("2026-12-01T22:30:00Z"));
        // 23:30 in Amsterdam on 1 December.
        assert_eq!(day.start, t("2026-11-30T23:00:00Z"));
        assert_eq!(day.end, t("2026-12-01T23:00:00Z"));
        let two = DailyLimit::parse(2).unwrap();
        let starts = [t("2026-12-01T08:00:00Z"), t("2026-12-01T22:30:00Z")];
        assert!(is_full(ams, two, &starts, t("2026-12-01T12:00:00Z")));
        // In New York the second meeting is still 1 December, the first too: full as well; in Tokyo the
        // second falls on 2 December.
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        assert!(!is_full(tokyo, two, &starts, t("2026-12-01T02:00:00Z")));
        assert_eq!(
            full_days(ams, two, &starts),
            vec![local_day(ams, starts[0])]
        );
        assert!(full_days(tokyo, two, &starts).is_empty());
    }

    #[test]
    fn a_day_whose_midnight_does_not_exist_starts_at_its_first_instant() {
        // Santiago moved its clocks from 00:00 to 01:00 on 6 September 2026.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let day = local_day(santiago, t("2026-09-06T15:00:00Z"));
        assert_eq!(
            day.start.with_timezone(&santiago).date_naive(),
            NaiveDate::from_ymd_opt(2026, 9, 6).unwrap()
        );
        assert_eq!(day.end - day.start, Duration::hours(23));
    }
}
