//! The entities rondo keeps — teams, agents, meetings, activities — as plain data, plus the rules that
//! belong to them (a team's slot policy, an agent's calendar view, a meeting's blocked range).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::availability::{AgentCalendar, SlotPolicy, Span};
use super::limits::DailyLimit;
use super::routing::{RoutingStep, SkipReason};
use super::values::{
    DateOverrides, EmailAddress, IanaZone, MeetingLength, TeamMode, TeamSlug, WeeklyHours,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: Uuid,
    pub slug: TeamSlug,
    pub name: String,
    pub meeting: MeetingLength,
    pub mode: TeamMode,
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
    pub min_notice_minutes: u32,
    pub horizon_days: u32,
    pub slot_step_minutes: u32,
    /// The agent who took the team's last meeting (the round-robin pointer).
    pub last_agent_id: Option<Uuid>,
    /// Meetings a day each agent takes (an agent's own limit overrides it); None: no limit.
    pub daily_limit: Option<DailyLimit>,
    pub created_at: DateTime<Utc>,
}

impl Team {
    pub fn policy(&self, meeting: MeetingLength) -> SlotPolicy {
        SlotPolicy {
            meeting_minutes: meeting.minutes(),
            step_minutes: self.slot_step_minutes,
            buffer_before_minutes: self.buffer_before_minutes,
            buffer_after_minutes: self.buffer_after_minutes,
            min_notice_minutes: self.min_notice_minutes,
            horizon_days: self.horizon_days,
        }
    }

    /// The instants a meeting at `start` keeps its agent from other meetings: the meeting with its buffers.
    pub fn blocked_range(&self, start: DateTime<Utc>, meeting: MeetingLength) -> Span {
        Span {
            start: start - Duration::minutes(self.buffer_before_minutes as i64),
            end: start
                + Duration::minutes(meeting.minutes() as i64 + self.buffer_after_minutes as i64),
        }
    }
}

/// Which calendar an agent's free/busy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarKind {
    /// Simulated (dev mode, no connected calendar).
    Demo,
    /// No calendar connected yet (or the grant was revoked): the agent is not in rotation.
    None,
    /// A connected Google Calendar.
    Google,
    /// A connected Outlook / Microsoft 365 calendar.
    Microsoft,
}

impl CalendarKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarKind::Demo => "demo",
            CalendarKind::None => "none",
            CalendarKind::Google => "google",
            CalendarKind::Microsoft => "microsoft",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "demo" => Some(Self::Demo),
            "none" => Some(Self::None),
            "google" => Some(Self::Google),
            "microsoft" => Some(Self::Microsoft),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub zone: IanaZone,
    pub weekly: WeeklyHours,
    pub overrides: DateOverrides,
    pub paused: bool,
    pub calendar: CalendarKind,
    /// The agent's own invitation subject and body templates (None: the defaults).
    pub invitation: Option<Invitation>,
    /// Meetings a day this agent takes, whatever its teams say; None: each team's limit.
    pub daily_limit: Option<DailyLimit>,
    pub created_at: DateTime<Utc>,
}

impl Agent {
    /// Whether the agent's calendar can be read and written, so the agent can take meetings.
    pub fn connected(&self) -> bool {
        self.calendar != CalendarKind::None
    }

    pub fn calendar_view<'a>(&'a self, busy: &'a [Span]) -> AgentCalendar<'a> {
        AgentCalendar {
            zone: self.zone.tz(),
            weekly: &self.weekly,
            overrides: &self.overrides,
            busy,
        }
    }
}

/// An invitation text an agent wrote: minijinja templates for the subject and the (plain-text) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    Booked,
    Cancelled,
}

impl MeetingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingStatus::Booked => "booked",
            MeetingStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "booked" => Some(Self::Booked),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// Where a meeting's calendar event stands, as the last calendar sync recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarStatus {
    /// Not (yet) confirmed in the holder's calendar, or a former holder's event still awaits deletion.
    Pending,
    /// In the agent's calendar.
    Created,
    /// Gone from every calendar (the meeting was cancelled).
    Deleted,
}

impl CalendarStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CalendarStatus::Pending => "pending",
            CalendarStatus::Created => "created",
            CalendarStatus::Deleted => "deleted",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "created" => Some(Self::Created),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// One skipped candidate in a routing decision: the step that asked it (absent in traces stored before
/// account routing and rules), and the rule's name when a rule did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedAgent {
    pub agent_id: Uuid,
    pub reason: SkipReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<RoutingStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Why a meeting went to its agent: which step chose (and for a rule, which), the listed account domain
/// the visitor matched, and who was passed over, in the order they were asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingTrace {
    pub step: RoutingStep,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub skipped: Vec<SkippedAgent>,
}

/// The visitor a meeting is with, parsed once where it comes in (the booking request, or the stored row).
/// Serialized (in activities and webhooks) with the email and the zone as plain strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Visitor {
    pub email: EmailAddress,
    pub name: Option<String>,
    pub company: Option<String>,
    /// The zone times are shown to the visitor in (None: not given, or no longer known to chrono-tz).
    pub timezone: Option<IanaZone>,
    /// BCP 47 tag; emails are in Dutch for `nl…`, English otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Meeting {
    pub id: Uuid,
    pub team_id: Uuid,
    pub team_slug: String,
    /// The team's display name (read with the meeting, as its slug is; not stored on the meeting).
    pub team_name: String,
    pub agent_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub blocked: Span,
    pub status: MeetingStatus,
    pub visitor: Visitor,
    pub session_id: Option<String>,
    pub dialogue_id: Option<String>,
    /// The chat dialogue's name, as the booking gave it.
    pub dialogue_name: Option<String>,
    /// The http(s) page the chat ran on, as the booking gave it.
    pub page_url: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub routing: RoutingTrace,
    pub took_place: Option<bool>,
    pub cancel_reason: Option<String>,
    pub calendar_status: CalendarStatus,
    pub video_link: Option<String>,
    /// The agent whose calendar holds the meeting's event now (None: no event anywhere).
    pub calendar_agent_id: Option<Uuid>,
    /// A former holder whose calendar still has the meeting's event to delete.
    pub calendar_cleanup_agent_id: Option<Uuid>,
    /// Bumped by every change the calendar must follow; the calendar caught up with `calendar_synced`.
    pub calendar_version: i64,
    pub calendar_synced: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Meeting {
    /// Whether the meeting took place, as reports show it at `now` (API.md): unknown (None) until it has
    /// ended; after that a booked meeting took place unless an admin marked it a no-show; a cancelled one
    /// did not.
    pub fn took_place_at(&self, now: DateTime<Utc>) -> Option<bool> {
        match self.status {
            MeetingStatus::Cancelled => Some(false),
            MeetingStatus::Booked if now < self.end => None,
            MeetingStatus::Booked => Some(self.took_place.unwrap_or(true)),
        }
    }
}

/// The kinds of activity marketing automation receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityType {
    #[serde(rename = "meeting.scheduled")]
    Scheduled,
    #[serde(rename = "meeting.cancelled")]
    Cancelled,
    #[serde(rename = "meeting.rescheduled")]
    Rescheduled,
}

impl ActivityType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::Scheduled => "meeting.scheduled",
            ActivityType::Cancelled => "meeting.cancelled",
            ActivityType::Rescheduled => "meeting.rescheduled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Scheduled, Self::Cancelled, Self::Rescheduled]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What every activity's `data` carries: the meeting as marketing automation needs it (the facts of
/// Marketo's "Scheduled Meeting": agent, dialogue, page URL, routing, scheduled time, status).
pub fn activity_data(meeting: &Meeting, agent: &Agent) -> serde_json::Value {
    serde_json::json!({
        "meeting_id": meeting.id,
        "visitor": meeting.visitor,
        "session_id": meeting.session_id,
        "dialogue_id": meeting.dialogue_id,
        "dialogue_name": meeting.dialogue_name,
        "page_url": meeting.page_url,
        "agent": {"id": agent.id, "name": agent.name, "email": agent.email},
        "start": meeting.start.to_rfc3339(),
        "end": meeting.end.to_rfc3339(),
        "team": meeting.team_slug,
        "team_name": meeting.team_name,
        "status": meeting.status.as_str(),
        "routing": meeting.routing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_types_round_trip_through_their_names() {
        for k in [
            ActivityType::Scheduled,
            ActivityType::Cancelled,
            ActivityType::Rescheduled,
        ] {
            assert_eq!(ActivityType::parse(k.as_str()), Some(k));
        }
        assert_eq!(ActivityType::parse("meeting.booked"), None);
        assert_eq!(ActivityType::parse("Meeting.Scheduled"), None);
    }

    #[test]
    fn calendar_statuses_round_trip_through_their_stored_names() {
        for s in [
            CalendarStatus::Pending,
            CalendarStatus::Created,
            CalendarStatus::Deleted,
        ] {
            assert_eq!(CalendarStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(CalendarStatus::parse("Created"), None);
    }

    #[test]
    fn a_visitor_serializes_its_email_and_zone_as_plain_strings() {
        let v = Visitor {
            email: EmailAddress::parse("vera@example.org").unwrap(),
            name: Some("Vera".into()),
            company: None,
            timezone: Some(IanaZone::parse("America/Chicago").unwrap()),
            locale: None,
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"email":"vera@example.org","name":"Vera","company":null,"timezone":"America/Chicago"}"#
        );
        let v = Visitor {
            timezone: None,
            locale: Some("nl".into()),
            ..v
        };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"email":"vera@example.org","name":"Vera","company":null,"timezone":null,"locale":"nl"}"#
        );
    }
}
