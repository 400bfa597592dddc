//! The settings admins and agents change — a team's slot rules and queue order; an agent's name, address,
//! zone, weekly hours and days off — parsed once, here, whichever way they came in: the admin API's JSON or
//! the agent's own page, whose text form (`09:00-12:00, 13:00-17:00`; `2026-12-24: off`) is read here too.
//! Each rule lives in the value types of `values`; this module applies them to a whole request and names
//! every setting at fault ([`Field`]), so a caller sees all its problems at once. A parsed result can only
//! be built valid, and the use cases write it as it is.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::limits::DailyLimit;
use super::model::{Agent, CalendarKind, Team};
use super::values::{
    DateOverrides, DisplayName, EmailAddress, IanaZone, Invalid, MeetingLength, TeamMode, TeamSlug,
    WeeklyHours, WEEKDAY_KEYS,
};

/// Hours as JSON carries them: `{"mon":[["09:00","17:00"]]}`, or dates for keys.
pub type SpanMap = BTreeMap<String, Vec<[String; 2]>>;

/// The setting a problem is about. `Display` spells it as the admin API does (`weekly_hours.mon`); the
/// agent's page names the few it shows its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Slug,
    Name,
    MeetingMinutes,
    Mode,
    BufferBefore,
    BufferAfter,
    MinNoticeMinutes,
    HorizonDays,
    SlotStepMinutes,
    /// Meetings a day per agent (a team's, or an agent's own).
    DailyLimit,
    /// A team's queue order.
    Order,
    Email,
    Timezone,
    /// The day as it was sent (`mon`, or a key that is no day).
    WeeklyHours(String),
    /// The date as it was sent.
    DateOverrides(String),
    /// A line (counted from 1) of the agent page's days off that is not `date: off` or `date: spans`.
    DaysOffLine(usize),
    /// An agent's team slugs.
    Teams,
    /// The invitation's subject template.
    Subject,
    /// The invitation's body template.
    Body,
    /// A place in a list, spelled as the caller sent it (`rules[0].when[1].op`, `line 3.domain`).
    Path(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Field::Slug => "slug",
            Field::Name => "name",
            Field::MeetingMinutes => "meeting_minutes",
            Field::Mode => "mode",
            Field::BufferBefore => "buffer_before",
            Field::BufferAfter => "buffer_after",
            Field::MinNoticeMinutes => "min_notice_minutes",
            Field::HorizonDays => "horizon_days",
            Field::SlotStepMinutes => "slot_step_minutes",
            Field::DailyLimit => "daily_limit",
            Field::Order => "order",
            Field::Email => "email",
            Field::Timezone => "timezone",
            Field::WeeklyHours(day) => return write!(f, "weekly_hours.{day}"),
            Field::DateOverrides(date) => return write!(f, "date_overrides.{date}"),
            Field::DaysOffLine(_) => "days_off",
            Field::Teams => "teams",
            Field::Subject => "subject",
            Field::Body => "body",
            Field::Path(path) => path,
        };
        f.write_str(name)
    }
}

/// Every setting at fault, each with why, in the order they were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(Field, String)>);

impl FieldErrors {
    pub fn one(field: Field, message: impl Into<String>) -> Self {
        Self(vec![(field, message.into())])
    }
    pub fn add(&mut self, field: Field, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }
    /// The parsed value, or None with the problem recorded under `field`.
    pub fn check<T>(&mut self, field: Field, parsed: Result<T, Invalid>) -> Option<T> {
        parsed.map_err(|e| self.add(field, e.0)).ok()
    }
    pub fn append(&mut self, mut other: FieldErrors) {
        self.0.append(&mut other.0);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &(Field, String)> {
        self.0.iter()
    }
    /// Ok with `value` when nothing was at fault.
    pub fn or_ok<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl IntoIterator for FieldErrors {
    type Item = (Field, String);
    type IntoIter = std::vec::IntoIter<(Field, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, message)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {message}")?;
        }
        Ok(())
    }
}

/// A team's settings as sent; one left out keeps its current value (a new team's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamSettingsInput {
    pub name: Option<String>,
    pub meeting_minutes: Option<i64>,
    pub mode: Option<String>,
    pub buffer_before: Option<i64>,
    pub buffer_after: Option<i64>,
    pub min_notice_minutes: Option<i64>,
    pub horizon_days: Option<i64>,
    pub slot_step_minutes: Option<i64>,
    /// Absent: unchanged; `Some(None)`: no limit; `Some(Some(n))`: n meetings a day per agent.
    pub daily_limit: Option<Option<i64>>,
}

/// Every setting of a team, each in its range, and the meeting a whole number of slot steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamSettings {
    name: String,
    meeting: MeetingLength,
    mode: TeamMode,
    buffer_before: u32,
    buffer_after: u32,
    min_notice_minutes: u32,
    horizon_days: u32,
    slot_step_minutes: u32,
    daily_limit: Option<DailyLimit>,
}

/// What settings a request leaves out fall back to. A new team has no name to fall back to.
struct TeamBase<'a> {
    name: Option<&'a str>,
    meeting_minutes: u32,
    mode: TeamMode,
    buffer_before: u32,
    buffer_after: u32,
    min_notice_minutes: u32,
    horizon_days: u32,
    slot_step_minutes: u32,
    daily_limit: Option<DailyLimit>,
}

/// A new team: 30-minute meetings on a 15-minute grid, no buffers, 60 minutes' notice, 30 days ahead.
const NEW_TEAM: TeamBase<'static> = TeamBase {
    name: None,
    meeting_minutes: 30,
    mode: TeamMode::Pooled,
    buffer_before: 0,
    buffer_after: 0,
    min_notice_minutes: 60,
    horizon_days: 30,
    slot_step_minutes: 15,
    daily_limit: None,
};

fn ranged(errors: &mut FieldErrors, field: Field, v: i64, lo: i64, hi: i64) -> Option<u32> {
    if (lo..=hi).contains(&v) {
        Some(v as u32)
    } else {
        errors.add(field, format!("must be between {lo} and {hi}"));
        None
    }
}

impl TeamSettings {
    /// The team's settings after `input` changes some of them.
    pub fn parse_changes(team: &Team, input: &TeamSettingsInput) -> Result<Self, FieldErrors> {
        let base = TeamBase {
            name: Some(&team.name),
            meeting_minutes: team.meeting.minutes(),
            mode: team.mode,
            buffer_before: team.buffer_before_minutes,
            buffer_after: team.buffer_after_minutes,
            min_notice_minutes: team.min_notice_minutes,
            horizon_days: team.horizon_days,
            slot_step_minutes: team.slot_step_minutes,
            daily_limit: team.daily_limit,
        };
        Self::parse_over(&base, input)
    }

    fn parse_over(base: &TeamBase, input: &TeamSettingsInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = match (&input.name, base.name) {
            (Some(name), _) => errors
                .check(Field::Name, DisplayName::parse(name))
                .map(DisplayName::into_string),
            (None, Some(current)) => Some(current.to_owned()),
            (None, None) => errors
                .check(Field::Name, DisplayName::parse(""))
                .map(DisplayName::into_string),
        };
        let mode = match &input.mode {
            Some(m) => errors.check(Field::Mode, TeamMode::parse(m)),
            None => Some(base.mode),
        };
        let pick = |v: Option<i64>, current: u32| v.unwrap_or(current as i64);
        let step = ranged(
            &mut errors,
            Field::SlotStepMinutes,
            pick(input.slot_step_minutes, base.slot_step_minutes),
            5,
            240,
        );
        let meeting = errors.check(
            Field::MeetingMinutes,
            MeetingLength::parse(pick(input.meeting_minutes, base.meeting_minutes)),
        );
        if let (Some(step), Some(meeting)) = (step, meeting) {
            if meeting.minutes() % step != 0 {
                errors.add(
                    Field::MeetingMinutes,
                    format!("must be a multiple of the {step}-minute step"),
                );
            }
        }
        let buffer_before = ranged(
            &mut errors,
            Field::BufferBefore,
            pick(input.buffer_before, base.buffer_before),
            0,
            240,
        );
        let buffer_after = ranged(
            &mut errors,
            Field::BufferAfter,
            pick(input.buffer_after, base.buffer_after),
            0,
            240,
        );
        let notice = ranged(
            &mut errors,
            Field::MinNoticeMinutes,
            pick(input.min_notice_minutes, base.min_notice_minutes),
            0,
            43_200,
        );
        let horizon = ranged(
            &mut errors,
            Field::HorizonDays,
            pick(input.horizon_days, base.horizon_days),
            1,
            365,
        );
        let Some(daily_limit) =
            changed_daily_limit(&mut errors, base.daily_limit, input.daily_limit)
        else {
            return Err(errors);
        };
        match (
            name,
            meeting,
            mode,
            buffer_before,
            buffer_after,
            notice,
            horizon,
            step,
        ) {
            (
                Some(name),
                Some(meeting),
                Some(mode),
                Some(buffer_before),
                Some(buffer_after),
                Some(min_notice_minutes),
                Some(horizon_days),
                Some(slot_step_minutes),
            ) => errors.or_ok(Self {
                name,
                meeting,
                mode,
                buffer_before,
                buffer_after,
                min_notice_minutes,
                horizon_days,
                slot_step_minutes,
                daily_limit,
            }),
            _ => Err(errors),
        }
    }

    /// Writes these settings into the team (its id, slug and round-robin pointer stay).
    pub fn apply_to(self, team: &mut Team) {
        team.name = self.name;
        team.meeting = self.meeting;
        team.mode = self.mode;
        team.buffer_before_minutes = self.buffer_before;
        team.buffer_after_minutes = self.buffer_after;
        team.min_notice_minutes = self.min_notice_minutes;
        team.horizon_days = self.horizon_days;
        team.slot_step_minutes = self.slot_step_minutes;
        team.daily_limit = self.daily_limit;
    }
}

/// A daily limit after a change as sent (`Option<Option<n>>`): absent keeps `current`, null removes the
/// limit, a number must be a valid limit (else None, with the problem recorded under `daily_limit`).
pub fn changed_daily_limit(
    errors: &mut FieldErrors,
    current: Option<DailyLimit>,
    change: Option<Option<i64>>,
) -> Option<Option<DailyLimit>> {
    match change {
        None => Some(current),
        Some(None) => Some(None),
        Some(Some(n)) => errors
            .check(Field::DailyLimit, DailyLimit::parse(n))
            .map(Some),
    }
}

/// A team as an admin creates it: its slug, and its settings with the defaults where none were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTeam {
    pub slug: TeamSlug,
    pub settings: TeamSettings,
}

impl NewTeam {
    pub fn parse(slug: &str, input: &TeamSettingsInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let slug = errors.check(Field::Slug, TeamSlug::parse(slug));
        let settings = TeamSettings::parse_over(&NEW_TEAM, input)
            .map_err(|e| errors.append(e))
            .ok();
        match (slug, settings) {
            (Some(slug), Some(settings)) => errors.or_ok(Self { slug, settings }),
            _ => Err(errors),
        }
    }

    /// The team, with no meeting taken yet.
    pub fn into_team(self, id: Uuid, created_at: DateTime<Utc>) -> Team {
        let s = self.settings;
        Team {
            id,
            slug: self.slug,
            name: s.name,
            meeting: s.meeting,
            mode: s.mode,
            buffer_before_minutes: s.buffer_before,
            buffer_after_minutes: s.buffer_after,
            min_notice_minutes: s.min_notice_minutes,
            horizon_days: s.horizon_days,
            slot_step_minutes: s.slot_step_minutes,
            daily_limit: s.daily_limit,
            last_agent_id: None,
            created_at,
        }
    }
}

/// A team's new queue order: it must name every member exactly once, and no one else.
pub fn queue_order(order: &[String], members: &[Uuid]) -> Result<Vec<Uuid>, Invalid> {
    let ids: Option<Vec<Uuid>> = order.iter().map(|s| Uuid::parse_str(s).ok()).collect();
    let mut sorted = ids.clone().unwrap_or_default();
    sorted.sort();
    sorted.dedup();
    let mut expected = members.to_vec();
    expected.sort();
    expected.dedup();
    match ids {
        Some(ids) if ids.len() == sorted.len() && sorted == expected => Ok(ids),
        _ => Err(Invalid(format!(
            "must name each of the team's {} agents exactly once",
            expected.len()
        ))),
    }
}

fn weekly_hours(errors: &mut FieldErrors, map: &SpanMap) -> Option<WeeklyHours> {
    WeeklyHours::parse(map)
        .map_err(|(day, e)| errors.add(Field::WeeklyHours(day), e.0))
        .ok()
}

fn date_overrides(errors: &mut FieldErrors, map: &SpanMap) -> Option<DateOverrides> {
    DateOverrides::parse(map)
        .map_err(|(date, e)| errors.add(Field::DateOverrides(date), e.0))
        .ok()
}

/// A new agent as an admin sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAgentInput {
    pub name: String,
    pub email: String,
    pub timezone: String,
    /// Days left out are days off.
    pub weekly_hours: SpanMap,
    pub date_overrides: SpanMap,
}

/// A new agent's settings, every one parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAgent {
    pub name: DisplayName,
    pub email: EmailAddress,
    pub zone: IanaZone,
    pub weekly: WeeklyHours,
    pub overrides: DateOverrides,
}

impl NewAgent {
    pub fn parse(input: &NewAgentInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = errors.check(Field::Name, DisplayName::parse(&input.name));
        let email = errors.check(Field::Email, EmailAddress::parse(&input.email));
        let zone = errors.check(Field::Timezone, IanaZone::parse(&input.timezone));
        let weekly = weekly_hours(&mut errors, &input.weekly_hours);
        let overrides = date_overrides(&mut errors, &input.date_overrides);
        match (name, email, zone, weekly, overrides) {
            (Some(name), Some(email), Some(zone), Some(weekly), Some(overrides)) => {
                errors.or_ok(Self {
                    name,
                    email,
                    zone,
                    weekly,
                    overrides,
                })
            }
            _ => Err(errors),
        }
    }

    /// The agent, with the default invitation text.
    pub fn into_agent(
        self,
        id: Uuid,
        paused: bool,
        calendar: CalendarKind,
        created_at: DateTime<Utc>,
    ) -> Agent {
        Agent {
            id,
            name: self.name.into_string(),
            email: self.email.to_string(),
            zone: self.zone,
            weekly: self.weekly,
            overrides: self.overrides,
            paused,
            calendar,
            invitation: None,
            daily_limit: None,
            created_at,
        }
    }
}

/// Changes to an agent's settings as an admin sends them; a setting left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSettingsInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    pub weekly_hours: Option<SpanMap>,
    pub date_overrides: Option<SpanMap>,
}

/// The agent's own page: hours as text per day key (`09:00-12:00, 13:00-17:00`; empty or left out: a day
/// off) and days off one a line (`2026-12-24: off`, `2026-12-31: 09:00-12:00`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentPageInput {
    pub timezone: String,
    pub hours: BTreeMap<String, String>,
    pub days_off: String,
}

/// Changed settings of an agent, each parsed; None: not changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentSettings {
    name: Option<DisplayName>,
    email: Option<EmailAddress>,
    zone: Option<IanaZone>,
    weekly: Option<WeeklyHours>,
    overrides: Option<DateOverrides>,
}

impl AgentSettings {
    pub fn parse(input: &AgentSettingsInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut settings = Self::default();
        if let Some(name) = &input.name {
            settings.name = errors.check(Field::Name, DisplayName::parse(name));
        }
        if let Some(email) = &input.email {
            settings.email = errors.check(Field::Email, EmailAddress::parse(email));
        }
        if let Some(zone) = &input.timezone {
            settings.zone = errors.check(Field::Timezone, IanaZone::parse(zone));
        }
        if let Some(weekly) = &input.weekly_hours {
            settings.weekly = weekly_hours(&mut errors, weekly);
        }
        if let Some(overrides) = &input.date_overrides {
            settings.overrides = date_overrides(&mut errors, overrides);
        }
        errors.or_ok(settings)
    }

    /// The zone, weekly hours and days off from the agent's page. A day's text that is not spans is named
    /// `WeeklyHours(day)` like spans that are not hours; a days-off line that does not read is named by
    /// its number.
    pub fn parse_page(input: &AgentPageInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let zone = errors.check(Field::Timezone, IanaZone::parse(&input.timezone));
        let mut weekly = SpanMap::new();
        for day in WEEKDAY_KEYS {
            let text = input.hours.get(day).map(String::as_str).unwrap_or_default();
            match spans_from_text(text) {
                Ok(spans) if spans.is_empty() => {}
                Ok(spans) => {
                    weekly.insert(day.to_owned(), spans);
                }
                Err(e) => errors.add(Field::WeeklyHours(day.to_owned()), e),
            }
        }
        let weekly = weekly_hours(&mut errors, &weekly);
        let mut overrides = SpanMap::new();
        for (n, line) in input.days_off.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some((date, rest)) = line.split_once(':') else {
                errors.add(
                    Field::DaysOffLine(n + 1),
                    format!("`{line}` is not like 2026-12-24: off"),
                );
                continue;
            };
            let rest = rest.trim();
            let spans = if rest.eq_ignore_ascii_case("off") || rest.is_empty() {
                Ok(Vec::new())
            } else {
                spans_from_text(rest)
            };
            match spans {
                Ok(s) => {
                    overrides.insert(date.trim().to_owned(), s);
                }
                Err(e) => errors.add(Field::DaysOffLine(n + 1), e),
            }
        }
        let overrides = date_overrides(&mut errors, &overrides);
        errors.or_ok(Self {
            zone,
            weekly,
            overrides,
            ..Self::default()
        })
    }

    /// Writes the changed settings into the agent.
    pub fn apply_to(self, agent: &mut Agent) {
        if let Some(name) = self.name {
            agent.name = name.into_string();
        }
        if let Some(email) = self.email {
            agent.email = email.to_string();
        }
        if let Some(zone) = self.zone {
            agent.zone = zone;
        }
        if let Some(weekly) = self.weekly {
            agent.weekly = weekly;
        }
        if let Some(overrides) = self.overrides {
            agent.overrides = overrides;
        }
    }
}

/// `09:00-12:00, 13:00-17:00` (commas or semicolons between spans) into spans; empty is a day off. The
/// times themselves are checked by `WeeklyHours` / `DateOverrides`.
fn spans_from_text(text: &str) -> Result<Vec<[String; 2]>, String> {
    text.split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (a, b) = s
                .split_once('-')
                .ok_or_else(|| format!("`{s}` is not a span like 09:00-17:00"))?;
            Ok([a.trim().to_owned(), b.trim().to_owned()])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Weekday};

    use super::*;

    fn spans(v: &[(&str, &[[&str; 2]])]) -> SpanMap {
        v.iter()
            .map(|(k, s)| {
                (
                    k.to_string(),
                    s.iter()
                        .map(|[a, b]| [a.to_string(), b.to_string()])
                        .collect(),
                )
            })
            .collect()
    }

    fn fields(e: &FieldErrors) -> Vec<String> {
        e.iter().map(|(f, _)| f.to_string()).collect()
    }

    fn team() -> Team {
        NewTeam::parse(
            "sales",
            &TeamSettingsInput {
                name: Some("Sales".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .into_team(Uuid::nil(), Utc.timestamp_opt(0, 0).unwrap())
    }

    #[test]
    fn a_new_team_takes_the_defaults_for_what_is_left_out() {
        let t = team();
        assert_eq!(t.slug.as_str(), "sales");
        assert_eq!(t.name, "Sales");
        assert_eq!(t.meeting.minutes(), 30);
        assert_eq!(t.mode, TeamMode::Pooled);
        assert_eq!((t.buffer_before_minutes, t.buffer_after_minutes), (0, 0));
        assert_eq!(t.min_notice_minutes, 60);
        assert_eq!(t.horizon_days, 30);
        assert_eq!(t.slot_step_minutes, 15);
        assert_eq!(t.last_agent_id, None);
    }

    #[test]
    fn a_new_team_names_every_setting_at_fault_in_order() {
        let e = NewTeam::parse(
            "Bad Slug",
            &TeamSettingsInput {
                name: Some("  ".into()),
                mode: Some("random".into()),
                meeting_minutes: Some(40),
                slot_step_minutes: Some(15),
                buffer_before: Some(-1),
                buffer_after: Some(241),
                min_notice_minutes: Some(43_201),
                horizon_days: Some(0),
                daily_limit: Some(Some(0)),
            },
        )
        .unwrap_err();
        assert_eq!(
            fields(&e),
            [
                "slug",
                "name",
                "mode",
                "meeting_minutes",
                "buffer_before",
                "buffer_after",
                "min_notice_minutes",
                "horizon_days",
                "daily_limit"
            ]
        );
        let (_, why) = e.iter().find(|(f, _)| *f == Field::MeetingMinutes).unwrap();
        assert_eq!(why, "must be a multiple of the 15-minute step");
        let (_, why) = e.iter().find(|(f, _)| *f == Field::HorizonDays).unwrap();
        assert_eq!(why, "must be between 1 and 365");
        // A new team must be named.
        let e = NewTeam::parse("sales", &TeamSettingsInput::default()).unwrap_err();
        assert_eq!(fields(&e), ["name"]);
    }

    #[test]
    fn changes_keep_what_they_leave_out_and_are_checked_against_it() {
        let mut t = team();
        let changed = TeamSettings::parse_changes(
            &t,
            &TeamSettingsInput {
                meeting_minutes: Some(45),
                mode: Some("strict".into()),
                name: Some(" Sales EU ".into()),
                ..Default::default()
            },
        )
        .unwrap();
        changed.apply_to(&mut t);
        assert_eq!(t.meeting.minutes(), 45);
        assert_eq!(t.mode, TeamMode::Strict);
        assert_eq!(t.name, "Sales EU");
        assert_eq!(t.horizon_days, 30);
        // 50 minutes is no whole number of the team's current 15-minute steps; with a 10-minute step it is.
        let fifty = TeamSettingsInput {
            meeting_minutes: Some(50),
            ..Default::default()
        };
        let e = TeamSettings::parse_changes(&t, &fifty).unwrap_err();
        assert_eq!(fields(&e), ["meeting_minutes"]);
        let ten = TeamSettingsInput {
            slot_step_minutes: Some(10),
            ..fifty
        };
        assert!(TeamSettings::parse_changes(&t, &ten).is_ok());
        // Nothing given: nothing changes.
        let same = TeamSettings::parse_changes(&t, &TeamSettingsInput::default()).unwrap();
        let before = t.clone();
        same.apply_to(&mut t);
        assert_eq!(t, before);
    }

    #[test]
    fn a_queue_order_names_each_member_once() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let members = [a, b, c];
        let order = |ids: &[Uuid]| ids.iter().map(Uuid::to_string).collect::<Vec<_>>();
        assert_eq!(
            queue_order(&order(&[c, a, b]), &members).unwrap(),
            [c, a, b]
        );
        let with = |mut ids: Vec<String>, extra: &str| {
            ids.push(extra.to_owned());
            ids
        };
        for bad in [
            order(&[a, b]),
            order(&[a, b, b]),
            order(&[a, b, c, c]),
            order(&[a, b, c, Uuid::from_u128(9)]),
            with(order(&[a, b]), "junk"),
            with(order(&[a, b, c]), ""),
        ] {
            assert_eq!(
                queue_order(&bad, &members).unwrap_err().0,
                "must name each of the team's 3 agents exactly once",
                "{bad:?}"
            );
        }
        assert!(queue_order(&[], &[]).unwrap().is_empty());
    }

    fn new_agent() -> NewAgentInput {
        NewAgentInput {
            name: " Ann ".into(),
            email: "Ann@Example.COM".into(),
            timezone: "Europe/Amsterdam".into(),
            weekly_hours: spans(&[("mon", &[["13:00", "17:00"], ["09:00", "12:00"]])]),
            date_overrides: spans(&[("2026-12-24", &[])]),
        }
    }

    #[test]
    fn a_new_agent_is_parsed_whole() {
        let a = NewAgent::parse(&new_agent()).unwrap().into_agent(
            Uuid::nil(),
            true,
            CalendarKind::Demo,
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        assert_eq!(a.name, "Ann");
        assert_eq!(a.email, "Ann@example.com");
        assert_eq!(a.zone.name(), "Europe/Amsterdam");
        assert_eq!(a.weekly.on(Weekday::Mon).len(), 2);
        assert_eq!(
            a.overrides
                .get(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()),
            Some(&[][..])
        );
        assert!(a.paused);
        assert_eq!(a.invitation, None);
    }

    #[test]
    fn a_new_agent_names_every_setting_at_fault() {
        let e = NewAgent::parse(&NewAgentInput {
            name: String::new(),
            email: "nope".into(),
            timezone: "Nowhere/Land".into(),
            weekly_hours: spans(&[("tue", &[["17:00", "09:00"]])]),
            date_overrides: spans(&[("24-12-2026", &[])]),
        })
        .unwrap_err();
        assert_eq!(
            fields(&e),
            [
                "name",
                "email",
                "timezone",
                "weekly_hours.tue",
                "date_overrides.24-12-2026"
            ]
        );
        let e = NewAgent::parse(&NewAgentInput {
            weekly_hours: spans(&[("funday", &[["09:00", "17:00"]])]),
            ..new_agent()
        })
        .unwrap_err();
        assert_eq!(fields(&e), ["weekly_hours.funday"]);
    }

    #[test]
    fn agent_changes_touch_only_what_they_name() {
        let mut a = NewAgent::parse(&new_agent()).unwrap().into_agent(
            Uuid::nil(),
            false,
            CalendarKind::None,
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        let before = a.clone();
        AgentSettings::parse(&AgentSettingsInput::default())
            .unwrap()
            .apply_to(&mut a);
        assert_eq!(a, before);
        AgentSettings::parse(&AgentSettingsInput {
            timezone: Some("Asia/Tokyo".into()),
            weekly_hours: Some(SpanMap::new()),
            ..Default::default()
        })
        .unwrap()
        .apply_to(&mut a);
        assert_eq!(a.zone.name(), "Asia/Tokyo");
        assert!(a.weekly.is_empty());
        assert_eq!((&a.name, &a.email), (&before.name, &before.email));
        assert_eq!(a.overrides, before.overrides);
        let e = AgentSettings::parse(&AgentSettingsInput {
            name: Some("Renamed".into()),
            email: Some("a@b".into()),
            date_overrides: Some(spans(&[(
                "2026-12-31",
                &[["09:00", "12:00"], ["11:00", "13:00"]],
            )])),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(fields(&e), ["email", "date_overrides.2026-12-31"]);
        assert_eq!(
            e.to_string(),
            "email: must be an email address like name@example.com; \
             date_overrides.2026-12-31: 09:00 - 12:00 overlaps 11:00 - 13:00"
        );
    }

    fn page(hours: &[(&str, &str)], days_off: &str) -> AgentPageInput {
        AgentPageInput {
            timezone: "America/New_York".into(),
            hours: hours
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            days_off: days_off.into(),
        }
    }

    #[test]
    fn the_agent_page_text_reads_as_the_same_settings_as_the_api() {
        let mut a = NewAgent::parse(&new_agent()).unwrap().into_agent(
            Uuid::nil(),
            false,
            CalendarKind::None,
            Utc.timestamp_opt(0, 0).unwrap(),
        );
        AgentSettings::parse_page(&page(
            &[
                ("mon", "09:00-12:00; 13:00 - 17:00"),
                ("tue", " "),
                ("wed", "10:00-16:00,"),
            ],
            "2026-12-24: off\n\n  2026-12-31: 09:00-12:00  \n2027-01-01:",
        ))
        .unwrap()
        .apply_to(&mut a);
        assert_eq!(a.zone.name(), "America/New_York");
        assert_eq!(
            a.weekly.to_map(),
            spans(&[
                ("mon", &[["09:00", "12:00"], ["13:00", "17:00"]]),
                ("wed", &[["10:00", "16:00"]])
            ])
        );
        assert_eq!(
            a.overrides.to_map(),
            spans(&[
                ("2026-12-24", &[]),
                ("2026-12-31", &[["09:00", "12:00"]]),
                ("2027-01-01", &[])
            ])
        );
        assert_eq!(a.name, "Ann", "the page does not change the name");
    }

    #[test]
    fn the_agent_page_names_each_day_and_line_at_fault() {
        let mut input = page(
            &[
                ("mon", "9am"),
                ("tue", "17:00-09:00"),
                ("wed", "09:00-12:00, 11:00-13:00"),
            ],
            "2026-12-24: off\nnot a date\n2026-12-25: noon\n24-12-2026: off",
        );
        input.timezone = "Mars/Olympus".into();
        let e = AgentSettings::parse_page(&input).unwrap_err();
        let got: Vec<(Field, String)> = e.into_iter().collect();
        assert_eq!(
            got,
            [
                (
                    Field::Timezone,
                    "`Mars/Olympus` is not an IANA time zone name (like Europe/Amsterdam)".into()
                ),
                (
                    Field::WeeklyHours("mon".into()),
                    "`9am` is not a span like 09:00-17:00".into()
                ),
                // Spans that read are checked as the API checks them: the first day at fault, by key.
                (
                    Field::WeeklyHours("tue".into()),
                    "17:00 - 09:00: the end must come after the start".into()
                ),
                (
                    Field::DaysOffLine(2),
                    "`not a date` is not like 2026-12-24: off".into()
                ),
                (
                    Field::DaysOffLine(3),
                    "`noon` is not a span like 09:00-17:00".into()
                ),
                (
                    Field::DateOverrides("24-12-2026".into()),
                    "`24-12-2026` is not a date like 2026-12-24".into()
                ),
            ]
        );
    }

    #[test]
    fn field_names_are_the_admin_apis() {
        assert_eq!(
            Field::WeeklyHours("mon".into()).to_string(),
            "weekly_hours.mon"
        );
        assert_eq!(
            Field::DateOverrides("2026-12-24".into()).to_string(),
            "date_overrides.2026-12-24"
        );
        assert_eq!(Field::SlotStepMinutes.to_string(), "slot_step_minutes");
        assert_eq!(Field::Timezone.to_string(), "timezone");
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Whatever the page's hours text, it parses or names a day, and what parses is what the API
            /// reads from the same spans as JSON.
            #[test]
            fn page_hours_agree_with_the_api(text in "[0-9:, ;-]{0,40}") {
                let input = page(&[("thu", &text)], "");
                match (AgentSettings::parse_page(&input), spans_from_text(&text)) {
                    (Ok(from_page), Ok(spans)) => {
                        let mut map = SpanMap::new();
                        if !spans.is_empty() {
                            map.insert("thu".into(), spans);
                        }
                        let from_api = AgentSettings::parse(&AgentSettingsInput {
                            timezone: Some(input.timezone.clone()),
                            weekly_hours: Some(map),
                            date_overrides: Some(SpanMap::new()),
                            ..Default::default()
                        });
                        prop_assert_eq!(Ok(from_page), from_api);
                    }
                    (Err(e), _) => {
                        let only_thu = e.iter().all(|(f, _)| *f == Field::WeeklyHours("thu".into()));
                        prop_assert!(only_thu, "{}", e);
                    }
                    (Ok(_), Err(e)) => prop_assert!(false, "page took text the span reader refused: {e}"),
                }
            }
        }
    }
}
