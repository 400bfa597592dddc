//! What the API answers with: response shapes built from entities, shared by handlers and the OpenAPI
//! document.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::model::{Agent, Meeting, RoutingTrace, Visitor};
use crate::error::SlotView;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AgentBrief {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

impl From<&Agent> for AgentBrief {
    fn from(a: &Agent) -> Self {
        Self {
            id: a.id,
            name: a.name.clone(),
            email: a.email.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CalendarEventView {
    /// `created` once the event is in the agent's calendar, `pending` while rondo is still creating it.
    pub status: String,
    pub video_link: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BookingLinks {
    pub cancel: String,
    pub reschedule: String,
}

/// A booking as the chat service sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BookingView {
    pub id: Uuid,
    /// `booked` or `cancelled`.
    pub status: String,
    pub team: String,
    pub start: String,
    pub end: String,
    pub duration: i64,
    pub visitor: Visitor,
    pub agent: AgentBrief,
    pub routing: RoutingTrace,
    pub calendar_event: CalendarEventView,
    pub links: BookingLinks,
    pub session_id: Option<String>,
    pub dialogue_id: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub cancel_reason: Option<String>,
    pub created_at: String,
}

/// RFC 3339 in the visitor's zone when known, else UTC.
pub fn instant_in(t: DateTime<Utc>, tz: Option<Tz>) -> String {
    match tz {
        Some(tz) => t.with_timezone(&tz).to_rfc3339(),
        None => t.to_rfc3339(),
    }
}

pub fn visitor_tz(v: &Visitor) -> Option<Tz> {
    v.timezone.as_deref().and_then(|z| z.parse().ok())
}

pub fn booking_view(m: &Meeting, agent: &Agent, public_url: &str) -> BookingView {
    let tz = visitor_tz(&m.visitor);
    BookingView {
        id: m.id,
        status: m.status.as_str().to_owned(),
        team: m.team_slug.clone(),
        start: instant_in(m.start, tz),
        end: instant_in(m.end, tz),
        duration: (m.end - m.start).num_minutes(),
        visitor: m.visitor.clone(),
        agent: agent.into(),
        routing: m.routing.clone(),
        calendar_event: CalendarEventView {
            status: m.calendar_status.clone(),
            video_link: m.video_link.clone(),
        },
        links: BookingLinks {
            cancel: format!("{public_url}/v1/bookings/{}/cancel", m.id),
            reschedule: format!("{public_url}/v1/bookings/{}/reschedule", m.id),
        },
        session_id: m.session_id.clone(),
        dialogue_id: m.dialogue_id.clone(),
        attributes: m.attributes.clone(),
        cancel_reason: m.cancel_reason.clone(),
        created_at: m.created_at.to_rfc3339(),
    }
}

/// A slot labelled for a visitor in `tz`.
pub fn slot_view(start: DateTime<Utc>, minutes: u32, tz: Tz) -> SlotView {
    let local = start.with_timezone(&tz);
    SlotView {
        start: local.to_rfc3339(),
        end: (local + chrono::Duration::minutes(minutes as i64)).to_rfc3339(),
        local: local.format("%a %d %b %H:%M").to_string(),
    }
}
