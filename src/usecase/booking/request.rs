//! What the chat service sends to book, cancel and move a meeting, and the checks it must pass before
//! anything is read from a calendar or written.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::super::availability::{parse_duration, parse_instant};
use crate::app::App;
use crate::domain::availability::{check_slot, check_timing, SlotCheck, SlotPolicy, Timing};
use crate::domain::model::{Agent, Team, Visitor};
use std::sync::Arc;

use crate::domain::routing::RoutingTable;
use crate::domain::{EmailAddress, IanaZone, MeetingLength};
use crate::error::{AppResult, Problems};

/// Longest free-text field we keep (names, reasons, ids).
const MAX_TEXT: usize = 500;
/// Most attributes a booking may carry, as JSON.
pub(crate) const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorInput {
    pub email: String,
    pub name: Option<String>,
    pub company: Option<String>,
    /// IANA zone; times in answers are given in it.
    pub timezone: Option<String>,
    /// BCP 47 tag (`nl`, `en-GB`): the language of the emails (Dutch or English; English by default).
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub team: String,
    /// RFC 3339 start of a slot that availability offered.
    pub start: String,
    /// Minutes (default: the team's meeting length).
    pub duration: Option<i64>,
    pub visitor: VisitorInput,
    pub session_id: Option<String>,
    pub dialogue_id: Option<String>,
    /// The chat dialogue's name (at most 500 characters); repeated in the meeting's activities.
    pub dialogue_name: Option<String>,
    /// The http(s) page the chat ran on (at most 500 characters); repeated in the meeting's activities.
    pub page_url: Option<String>,
    /// Free-form facts about the visitor, for routing rules and reporting.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub start: String,
}

/// A booking request that passed validation, with the team's queue as it was read for the checks.
pub(super) struct ValidBooking {
    pub team: Team,
    pub queue: Vec<Agent>,
    /// The team's account owners and rules.
    pub routing: Arc<RoutingTable>,
    pub start: DateTime<Utc>,
    pub meeting: MeetingLength,
    pub visitor: Visitor,
    pub session_id: Option<String>,
    pub dialogue_id: Option<String>,
    pub dialogue_name: Option<String>,
    pub page_url: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// A trimmed, non-empty free text of at most `MAX_TEXT` characters (None when absent or blank).
pub(super) fn text(field: &str, v: &Option<String>, problems: &mut Problems) -> Option<String> {
    let v = v.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty())?;
    if v.chars().count() > MAX_TEXT {
        problems.add(field, format!("at most {MAX_TEXT} characters"));
        return None;
    }
    Some(v.to_owned())
}

/// An absolute http(s) URL with a host, as free text is kept (trimmed, at most `MAX_TEXT` characters).
fn page_url(v: &Option<String>, problems: &mut Problems) -> Option<String> {
    let v = text("page_url", v, problems)?;
    match url::Url::parse(&v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(v),
        _ => {
            problems.add("page_url", "must be an http(s) URL");
            None
        }
    }
}

fn parse_visitor(v: &VisitorInput, problems: &mut Problems) -> Option<Visitor> {
    let email = problems.check("visitor.email", EmailAddress::parse(&v.email));
    let zone = match &v.timezone {
        Some(z) => problems
            .check("visitor.timezone", IanaZone::parse(z))
            .map(Some),
        None => Some(None),
    };
    let name = text("visitor.name", &v.name, problems);
    let locale = match v.locale.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(l)
            if l.len() <= 35
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Some(l.to_owned())
        }
        Some(_) => {
            problems.add("visitor.locale", "must be a language tag like en or nl-NL");
            None
        }
        None => None,
    };
    let company = text("visitor.company", &v.company, problems);
    Some(Visitor {
        email: email?,
        name,
        company,
        timezone: zone?,
        locale,
    })
}

/// Checks that availability could offer `start` to this team: inside the notice and the horizon, and on
/// some queue agent's working grid. The one check of a start, for booking and moving alike.
pub(super) fn check_start(
    queue: &[Agent],
    policy: &SlotPolicy,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    problems: &mut Problems,
) {
    let on_some_grid = || {
        queue
            .iter()
            .any(|a| check_slot(&a.calendar_view(&[]), policy, start) != SlotCheck::OutsideHours)
    };
    match check_timing(policy, start, now) {
        Err(Timing::TooSoon) => problems.add(
            "start",
            "is inside the team's minimum notice; ask availability for bookable slots",
        ),
        Err(Timing::BeyondHorizon) => problems.add(
            "start",
            "is beyond the team's booking horizon; ask availability for bookable slots",
        ),
        Ok(()) if !on_some_grid() => problems.add(
            "start",
            "is not a slot this team offers (off the step or outside every agent's hours); ask availability",
        ),
        Ok(()) => {}
    }
}

/// Every check of a booking request, reporting all bad fields at once.
pub(super) async fn validate(
    app: &App,
    req: &BookingRequest,
    now: DateTime<Utc>,
) -> AppResult<ValidBooking> {
    let mut problems = Problems::default();
    // The team and its queue from the snapshot (settings changes made here invalidate it at once; other
    // replicas' within a second): the screening then reads every candidate's calendar live, and the claim
    // reads the pointer and the agents' meetings inside its own write.
    let snapshot = app.store.team_snapshot(req.team.trim()).await?;
    let team = snapshot.as_ref().map(|s| s.team.clone());
    if team.is_none() {
        problems.add("team", format!("no team `{}`", req.team));
    }
    let start = parse_instant("start", &req.start, &mut problems);
    let visitor = parse_visitor(&req.visitor, &mut problems);
    let session_id = text("session_id", &req.session_id, &mut problems);
    let dialogue_id = text("dialogue_id", &req.dialogue_id, &mut problems);
    let dialogue_name = text("dialogue_name", &req.dialogue_name, &mut problems);
    let page_url = page_url(&req.page_url, &mut problems);
    if serde_json::to_string(&req.attributes)
        .map(|s| s.len())
        .unwrap_or(0)
        > MAX_ATTRIBUTES_BYTES
    {
        problems.add("attributes", "at most 8 KiB of attributes");
    }
    let Some(team) = team else {
        return Err(problems
            .into_result()
            .expect_err("a missing team is a problem"));
    };
    let meeting = parse_duration(&team, req.duration, &mut problems);
    let (queue, routing) = snapshot
        .map(|s| (s.queue.clone(), s.routing.table.clone()))
        .unwrap_or_default();
    if let (Some(start), Some(meeting)) = (start, meeting) {
        check_start(&queue, &team.policy(meeting), start, now, &mut problems);
    }
    problems.into_result()?;
    Ok(ValidBooking {
        team,
        queue,
        routing,
        start: start.expect("checked"),
        meeting: meeting.expect("checked"),
        visitor: visitor.expect("checked"),
        session_id,
        dialogue_id,
        dialogue_name,
        page_url,
        attributes: req.attributes.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_of(raw: &str) -> (Option<String>, Problems) {
        let mut p = Problems::default();
        (page_url(&Some(raw.to_owned()), &mut p), p)
    }

    #[test]
    fn a_page_url_must_be_http_or_https_and_short() {
        assert_eq!(
            url_of("  https://example.com/pricing?x=1 ").0.as_deref(),
            Some("https://example.com/pricing?x=1")
        );
        assert_eq!(
            url_of("http://example.com").0.as_deref(),
            Some("http://example.com")
        );
        for bad in [
            "javascript:alert(1)",
            "ftp://example.com/",
            "/pricing",
            "example.com",
            "http://",
        ] {
            let (v, p) = url_of(bad);
            assert_eq!(v, None, "{bad}");
            assert!(p.into_result().is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(500));
        let (v, p) = url_of(&long);
        assert_eq!(v, None);
        assert!(p.into_result().is_err());
        assert_eq!(url_of("   ").0, None);
    }
}
