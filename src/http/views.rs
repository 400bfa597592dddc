//! What the API answers with: response shapes built from the use cases' outcomes, shared by handlers and
//! the OpenAPI document. The domain's types are shown through these, never serialized as they are.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::model::{Agent, Meeting, RoutingTrace, SkippedAgent, Visitor};
use crate::domain::routing::{RoutingStep, SkipReason};
use crate::domain::IanaZone;
use crate::usecase::availability::{Availability, CalendarHealth};
use crate::usecase::booking::{Alternatives, Booking};

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, ToSchema)]
#[schema(as = Visitor)]
pub struct VisitorView {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    /// BCP 47 tag; emails are in Dutch for `nl…`, English otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl From<&Visitor> for VisitorView {
    fn from(v: &Visitor) -> Self {
        Self {
            email: v.email.to_string(),
            name: v.name.clone(),
            company: v.company.clone(),
            timezone: v.timezone.map(|z| z.name().to_owned()),
            locale: v.locale.clone(),
        }
    }
}

/// One skipped candidate in a routing decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = SkippedAgent)]
pub struct SkippedView {
    pub agent_id: Uuid,
    /// `busy`, `paused`, `disconnected`, `outside_hours`, `daily_limit`; for the account owner
    /// `owner_busy`, `owner_paused`, `owner_disconnected`, `owner_outside_hours`, `owner_daily_limit` or
    /// `owner_not_in_team`.
    #[schema(value_type = String, example = "busy")]
    pub reason: SkipReason,
    /// The step that asked the agent: `account`, `rule` or `round_robin` (absent for the meeting's own agent
    /// on a move, and in meetings routed before rules existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "rule")]
    pub step: Option<RoutingStep>,
    /// The rule's name, when a rule asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Why a meeting went to its agent: which step chose and who was passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = RoutingTrace)]
pub struct RoutingView {
    /// `account` (the visitor's account owner), `rule` (a custom rule) or `round_robin`.
    #[schema(value_type = String, example = "round_robin")]
    pub step: RoutingStep,
    /// With `step` = `rule`: the rule's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The listed account domain the visitor matched (whether or not its owner took the meeting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Agents passed over, in the order they were asked.
    pub skipped: Vec<SkippedView>,
}

impl From<&RoutingTrace> for RoutingView {
    fn from(r: &RoutingTrace) -> Self {
        Self {
            step: r.step,
            rule: r.rule.clone(),
            account: r.account.clone(),
            skipped: r
                .skipped
                .iter()
                .map(|s: &SkippedAgent| SkippedView {
                    agent_id: s.agent_id,
                    reason: s.reason,
                    step: s.step,
                    rule: s.rule.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CalendarEventView {
    /// `created` once the event is in the agent's calendar, `pending` while rondo is still creating it.
    pub status: String,
    pub video_link: Option<String>,
}

/// The visitor's own pages for the booking (signed links, as in the emails).
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
    pub visitor: VisitorView,
    pub agent: AgentBrief,
    pub routing: RoutingView,
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

pub fn booking_view(b: &Booking, config: &crate::config::Config) -> BookingView {
    let Booking { meeting: m, agent } = b;
    let tz = m.visitor.timezone.map(IanaZone::tz);
    BookingView {
        id: m.id,
        status: m.status.as_str().to_owned(),
        team: m.team_slug.clone(),
        start: instant_in(m.start, tz),
        end: instant_in(m.end, tz),
        duration: (m.end - m.start).num_minutes(),
        visitor: (&m.visitor).into(),
        agent: agent.into(),
        routing: (&m.routing).into(),
        calendar_event: CalendarEventView {
            status: m.calendar_status.as_str().to_owned(),
            video_link: m.video_link.clone(),
        },
        links: links(m, config),
        session_id: m.session_id.clone(),
        dialogue_id: m.dialogue_id.clone(),
        attributes: m.attributes.clone(),
        cancel_reason: m.cancel_reason.clone(),
        created_at: m.created_at.to_rfc3339(),
    }
}

fn links(m: &Meeting, config: &crate::config::Config) -> BookingLinks {
    let manage = crate::usecase::visitor::manage_url(config, m.id);
    BookingLinks {
        cancel: format!("{manage}/cancel"),
        reschedule: format!("{manage}/reschedule"),
    }
}

/// One offered slot, as shown to the chat service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct SlotView {
    /// RFC 3339, in the visitor's zone.
    pub start: String,
    pub end: String,
    /// Short label in the visitor's zone, e.g. `Mon 23 Nov 10:00`.
    pub local: String,
}

/// The alternatives of a slot taken meanwhile, labelled for the visitor.
pub fn alternative_views(a: &Alternatives) -> Vec<SlotView> {
    a.starts
        .iter()
        .map(|s| slot_view(*s, a.minutes, a.zone))
        .collect()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AvailabilityAnswer {
    pub team: String,
    pub timezone: String,
    pub duration: u32,
    /// Sorted, distinct, each bookable at the moment of the answer.
    #[schema(value_type = Vec<SlotView>)]
    pub slots: SlotList,
    /// Only when some calendars could not be read fresh (a provider is down).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendars: Option<CalendarHealthView>,
}

/// Present when some agents' calendars could not be read fresh: how many were answered from free/busy
/// older than the TTL (`stale`), and how many were left out entirely (`unavailable`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CalendarHealth)]
pub struct CalendarHealthView {
    pub stale: usize,
    pub unavailable: usize,
}

impl From<Availability> for AvailabilityAnswer {
    fn from(a: Availability) -> Self {
        let minutes = a.meeting.minutes();
        Self {
            team: a.team,
            timezone: a.zone.name().to_owned(),
            duration: minutes,
            slots: SlotList::new(a.starts, minutes, a.zone.tz()),
            calendars: a.calendars.map(|CalendarHealth { stale, unavailable }| {
                CalendarHealthView { stale, unavailable }
            }),
        }
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

/// Slots of an availability answer, serialized straight from their instants into the response: the hot
/// path of the chat API, so no strings are built per slot (DESIGN.md "Scale": keep slots lean).
#[derive(Debug, Clone)]
pub struct SlotList {
    starts: Vec<DateTime<Utc>>,
    minutes: u32,
    tz: Tz,
}

impl SlotList {
    pub fn new(starts: Vec<DateTime<Utc>>, minutes: u32, tz: Tz) -> Self {
        Self {
            starts,
            minutes,
            tz,
        }
    }
    pub fn len(&self) -> usize {
        self.starts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

impl Serialize for SlotList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use chrono::Offset;
        use serde::ser::{SerializeMap, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.starts.len()))?;
        let length = self.minutes as i64 * 60;
        for start in &self.starts {
            let offset = self
                .tz
                .offset_from_utc_datetime(&start.naive_utc())
                .fix()
                .local_minus_utc();
            let end_offset = self
                .tz
                .offset_from_utc_datetime(&(start.naive_utc() + chrono::Duration::seconds(length)))
                .fix()
                .local_minus_utc();
            let local = start.timestamp() + offset as i64;
            let mut a = Ascii::default();
            let mut b = Ascii::default();
            let mut c = Ascii::default();
            struct Slot<'a>(&'a str, &'a str, &'a str);
            impl Serialize for Slot<'_> {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    let mut m = s.serialize_map(Some(3))?;
                    m.serialize_entry("start", self.0)?;
                    m.serialize_entry("end", self.1)?;
                    m.serialize_entry("local", self.2)?;
                    m.end()
                }
            }
            seq.serialize_element(&Slot(
                a.rfc3339(local, offset),
                b.rfc3339(start.timestamp() + length + end_offset as i64, end_offset),
                c.label(local),
            ))?;
        }
        seq.end()
    }
}

/// A small stack buffer for ASCII date text.
struct Ascii {
    buf: [u8; 40],
    len: usize,
}

impl Default for Ascii {
    fn default() -> Self {
        Self {
            buf: [0; 40],
            len: 0,
        }
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Calendar fields of a count of local seconds since the epoch (proleptic Gregorian; days-from-civil inverse).
fn civil(local_secs: i64) -> (i64, u32, u32, u32, u32, u32, usize) {
    let days = local_secs.div_euclid(86_400);
    let secs = local_secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    (
        year,
        month,
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        weekday,
    )
}

impl Ascii {
    fn push(&mut self, s: &str) {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len();
    }
    fn push2(&mut self, n: u32) {
        self.buf[self.len] = b'0' + (n / 10 % 10) as u8;
        self.buf[self.len + 1] = b'0' + (n % 10) as u8;
        self.len += 2;
    }
    fn text(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("ASCII only")
    }

    /// `2026-11-23T10:00:00+01:00`, as chrono's `to_rfc3339` writes it for whole-minute offsets.
    fn rfc3339(&mut self, local_secs: i64, offset: i32) -> &str {
        let (y, mo, d, h, mi, s, _) = civil(local_secs);
        self.push2((y / 100) as u32);
        self.push2((y % 100) as u32);
        self.push("-");
        self.push2(mo);
        self.push("-");
        self.push2(d);
        self.push("T");
        self.push2(h);
        self.push(":");
        self.push2(mi);
        self.push(":");
        self.push2(s);
        self.push(if offset < 0 { "-" } else { "+" });
        let off = offset.unsigned_abs();
        self.push2(off / 3600);
        self.push(":");
        self.push2(off / 60 % 60);
        if !off.is_multiple_of(60) {
            self.push(":");
            self.push2(off % 60);
        }
        self.text()
    }

    /// `Mon 23 Nov 10:00`.
    fn label(&mut self, local_secs: i64) -> &str {
        let (_, mo, d, h, mi, _, wd) = civil(local_secs);
        self.push(WEEKDAYS[wd]);
        self.push(" ");
        self.push2(d);
        self.push(" ");
        self.push(MONTHS[mo as usize - 1]);
        self.push(" ");
        self.push2(h);
        self.push(":");
        self.push2(mi);
        self.text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn slot_list_matches_chrono(secs in 946_684_800i64..4_102_444_800, minutes in 5u32..480, zone in 0usize..6) {
            let zones = [chrono_tz::UTC, chrono_tz::Europe::Amsterdam, chrono_tz::America::New_York,
                chrono_tz::Asia::Kolkata, chrono_tz::Australia::Lord_Howe, chrono_tz::Pacific::Chatham];
            let tz = zones[zone];
            let start = DateTime::from_timestamp(secs - secs % 60, 0).unwrap();
            let fast = serde_json::to_value(SlotList::new(vec![start], minutes, tz)).unwrap();
            let slow = serde_json::to_value(vec![slot_view(start, minutes, tz)]).unwrap();
            prop_assert_eq!(fast, slow);
        }
    }
}
