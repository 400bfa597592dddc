//! Turning rows back into domain entities. A row that no longer parses (hand-edited database) is reported
//! as `Corrupt`, never panicked on.

use std::collections::BTreeMap;

use super::{Row, StoreError, StoreResult};
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

pub(super) fn team(row: &Row) -> StoreResult<Team> {
    let slug = row.text("slug")?;
    let mode = row.text("mode")?;
    let minutes = row.int("meeting_minutes")?;
    let u = |c: &str| -> StoreResult<u32> { Ok(row.int(c)? as u32) };
    Ok(Team {
        id: row.uuid("id")?,
        slug: TeamSlug::parse(&slug).map_err(corrupt)?,
        name: row.text("name")?,
        meeting: MeetingLength::parse(minutes).map_err(corrupt)?,
        mode: TeamMode::parse(&mode).map_err(corrupt)?,
        buffer_before_minutes: u("buffer_before")?,
        buffer_after_minutes: u("buffer_after")?,
        min_notice_minutes: u("min_notice_minutes")?,
        horizon_days: u("horizon_days")?,
        slot_step_minutes: u("slot_step_minutes")?,
        last_agent_id: row.opt_uuid("last_agent_id")?,
        daily_limit: daily_limit(row)?,
        created_at: row.time("created_at")?,
    })
}

fn daily_limit(row: &Row) -> StoreResult<Option<DailyLimit>> {
    row.opt_int("daily_limit")?
        .map(|n| DailyLimit::parse(n).map_err(corrupt))
        .transpose()
}

type SpanMap = BTreeMap<String, Vec<[String; 2]>>;

pub(super) fn agent(row: &Row) -> StoreResult<Agent> {
    let zone = row.text("timezone")?;
    let weekly = row.json_text("weekly_hours")?;
    let overrides = row.json_text("date_overrides")?;
    let calendar = row.text("calendar")?;
    let weekly: SpanMap = serde_json::from_str(&weekly).map_err(corrupt)?;
    let overrides: SpanMap = serde_json::from_str(&overrides).map_err(corrupt)?;
    Ok(Agent {
        id: row.uuid("id")?,
        name: row.text("name")?,
        email: row.text("email")?,
        zone: IanaZone::parse(&zone).map_err(corrupt)?,
        weekly: WeeklyHours::parse(&weekly).map_err(|e| corrupt(e.1))?,
        overrides: DateOverrides::parse(&overrides).map_err(|e| corrupt(e.1))?,
        paused: row.flag("paused")?,
        calendar: CalendarKind::parse(&calendar).ok_or_else(|| corrupt(&calendar))?,
        invitation: match (
            row.opt_text("invitation_subject")?,
            row.opt_text("invitation_body")?,
        ) {
            (Some(subject), Some(body)) => Some(crate::domain::model::Invitation { subject, body }),
            _ => None,
        },
        daily_limit: daily_limit(row)?,
        created_at: row.time("created_at")?,
    })
}

pub(super) fn meeting(row: &Row) -> StoreResult<Meeting> {
    let status = row.text("status")?;
    let attributes = row.json_text("attributes")?;
    let routing = row.json_text("routing")?;
    let calendar_status = row.text("calendar_status")?;
    // The visitor's address is kept as stored, and a zone chrono-tz no longer knows (renamed in a later
    // tzdata) reads as none: neither may make the meeting unreadable.
    let lead_timezone = row.opt_text("lead_timezone")?;
    Ok(Meeting {
        id: row.uuid("id")?,
        team_id: row.uuid("team_id")?,
        team_slug: row.text("team_slug")?,
        team_name: row.text("team_name")?,
        agent_id: row.uuid("agent_id")?,
        start: row.time("starts_at")?,
        end: row.time("ends_at")?,
        blocked: Span {
            start: row.time("blocked_from")?,
            end: row.time("blocked_until")?,
        },
        status: MeetingStatus::parse(&status).ok_or_else(|| corrupt(&status))?,
        visitor: Visitor {
            email: EmailAddress::from_stored(row.text("lead_email")?),
            name: row.opt_text("lead_name")?,
            company: row.opt_text("lead_company")?,
            timezone: lead_timezone.and_then(|z| IanaZone::parse(&z).ok()),
            locale: row.opt_text("lead_locale")?,
        },
        session_id: row.opt_text("session_id")?,
        dialogue_id: row.opt_text("dialogue_id")?,
        dialogue_name: row.opt_text("dialogue_name")?,
        page_url: row.opt_text("page_url")?,
        attributes: serde_json::from_str(&attributes).map_err(corrupt)?,
        routing: serde_json::from_str(&routing).map_err(corrupt)?,
        took_place: row.opt_flag("took_place")?,
        cancel_reason: row.opt_text("cancel_reason")?,
        calendar_status: CalendarStatus::parse(&calendar_status)
            .ok_or_else(|| corrupt(format!("calendar_status: {calendar_status}")))?,
        video_link: row.opt_text("video_link")?,
        calendar_agent_id: row.opt_uuid("calendar_agent_id")?,
        calendar_cleanup_agent_id: row.opt_uuid("calendar_cleanup_agent_id")?,
        calendar_version: row.int("calendar_version")?,
        calendar_synced: row.int("calendar_synced_version")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}
