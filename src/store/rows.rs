//! Turning rows back into domain entities. A row that no longer parses (hand-edited database) is reported
//! as `Corrupt`, never panicked on.

use std::collections::BTreeMap;

use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{from_secs, StoreError, StoreResult};
use crate::domain::availability::Span;
use crate::domain::limits::DailyLimit;
use crate::domain::model::{
    Agent, CalendarKind, CalendarStatus, Meeting, MeetingStatus, Team, Visitor,
};
use crate::domain::{
    DateOverrides, EmailAddress, IanaZone, MeetingLength, TeamMode, TeamSlug, WeeklyHours,
};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(super) fn uuid(row: &SqliteRow, col: &str) -> StoreResult<Uuid> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|_| corrupt(format!("{col}: {s}")))
}

fn opt_uuid(row: &SqliteRow, col: &str) -> StoreResult<Option<Uuid>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| Uuid::parse_str(&s).map_err(|_| corrupt(format!("{col}: {s}"))))
        .transpose()
}

pub(super) fn team(row: &SqliteRow) -> StoreResult<Team> {
    let slug: String = row.try_get("slug")?;
    let mode: String = row.try_get("mode")?;
    let minutes: i64 = row.try_get("meeting_minutes")?;
    let u = |c: &str| -> StoreResult<u32> { Ok(row.try_get::<i64, _>(c)? as u32) };
    Ok(Team {
        id: uuid(row, "id")?,
        slug: TeamSlug::parse(&slug).map_err(corrupt)?,
        name: row.try_get("name")?,
        meeting: MeetingLength::parse(minutes).map_err(corrupt)?,
        mode: TeamMode::parse(&mode).map_err(corrupt)?,
        buffer_before_minutes: u("buffer_before")?,
        buffer_after_minutes: u("buffer_after")?,
        min_notice_minutes: u("min_notice_minutes")?,
        horizon_days: u("horizon_days")?,
        slot_step_minutes: u("slot_step_minutes")?,
        last_agent_id: opt_uuid(row, "last_agent_id")?,
        daily_limit: daily_limit(row)?,
        created_at: from_secs(row.try_get("created_at")?),
    })
}

fn daily_limit(row: &SqliteRow) -> StoreResult<Option<DailyLimit>> {
    row.try_get::<Option<i64>, _>("daily_limit")?
        .map(|n| DailyLimit::parse(n).map_err(corrupt))
        .transpose()
}

type SpanMap = BTreeMap<String, Vec<[String; 2]>>;

pub(super) fn agent(row: &SqliteRow) -> StoreResult<Agent> {
    let zone: String = row.try_get("timezone")?;
    let weekly: String = row.try_get("weekly_hours")?;
    let overrides: String = row.try_get("date_overrides")?;
    let calendar: String = row.try_get("calendar")?;
    let weekly: SpanMap = serde_json::from_str(&weekly).map_err(corrupt)?;
    let overrides: SpanMap = serde_json::from_str(&overrides).map_err(corrupt)?;
    Ok(Agent {
        id: uuid(row, "id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        zone: IanaZone::parse(&zone).map_err(corrupt)?,
        weekly: WeeklyHours::parse(&weekly).map_err(|e| corrupt(e.1))?,
        overrides: DateOverrides::parse(&overrides).map_err(|e| corrupt(e.1))?,
        paused: row.try_get::<i64, _>("paused")? != 0,
        calendar: CalendarKind::parse(&calendar).ok_or_else(|| corrupt(&calendar))?,
        invitation: match (
            row.try_get::<Option<String>, _>("invitation_subject")?,
            row.try_get::<Option<String>, _>("invitation_body")?,
        ) {
            (Some(subject), Some(body)) => Some(crate::domain::model::Invitation { subject, body }),
            _ => None,
        },
        daily_limit: daily_limit(row)?,
        created_at: from_secs(row.try_get("created_at")?),
    })
}

pub(super) fn meeting(row: &SqliteRow) -> StoreResult<Meeting> {
    let status: String = row.try_get("status")?;
    let attributes: String = row.try_get("attributes")?;
    let routing: String = row.try_get("routing")?;
    let took_place: Option<i64> = row.try_get("took_place")?;
    let calendar_status: String = row.try_get("calendar_status")?;
    // The visitor's address is kept as stored, and a zone chrono-tz no longer knows (renamed in a later
    // tzdata) reads as none: neither may make the meeting unreadable.
    let lead_timezone: Option<String> = row.try_get("lead_timezone")?;
    Ok(Meeting {
        id: uuid(row, "id")?,
        team_id: uuid(row, "team_id")?,
        team_slug: row.try_get("team_slug")?,
        team_name: row.try_get("team_name")?,
        agent_id: uuid(row, "agent_id")?,
        start: from_secs(row.try_get("starts_at")?),
        end: from_secs(row.try_get("ends_at")?),
        blocked: Span {
            start: from_secs(row.try_get("blocked_from")?),
            end: from_secs(row.try_get("blocked_until")?),
        },
        status: MeetingStatus::parse(&status).ok_or_else(|| corrupt(&status))?,
        visitor: Visitor {
            email: EmailAddress::from_stored(row.try_get("lead_email")?),
            name: row.try_get("lead_name")?,
            company: row.try_get("lead_company")?,
            timezone: lead_timezone.and_then(|z| IanaZone::parse(&z).ok()),
            locale: row.try_get("lead_locale")?,
        },
        session_id: row.try_get("session_id")?,
        dialogue_id: row.try_get("dialogue_id")?,
        dialogue_name: row.try_get("dialogue_name")?,
        page_url: row.try_get("page_url")?,
        attributes: serde_json::from_str(&attributes).map_err(corrupt)?,
        routing: serde_json::from_str(&routing).map_err(corrupt)?,
        took_place: took_place.map(|v| v != 0),
        cancel_reason: row.try_get("cancel_reason")?,
        calendar_status: CalendarStatus::parse(&calendar_status)
            .ok_or_else(|| corrupt(format!("calendar_status: {calendar_status}")))?,
        video_link: row.try_get("video_link")?,
        calendar_agent_id: opt_uuid(row, "calendar_agent_id")?,
        calendar_cleanup_agent_id: opt_uuid(row, "calendar_cleanup_agent_id")?,
        calendar_version: row.try_get("calendar_version")?,
        calendar_synced: row.try_get("calendar_synced_version")?,
        created_at: from_secs(row.try_get("created_at")?),
        updated_at: from_secs(row.try_get("updated_at")?),
    })
}
