//! Google Calendar behind the calendar port, on the `google-calendar3` client pointed at
//! `RONDO_GOOGLE_API_URL`. Events are inserted with a client-chosen id (the meeting id's hex, which is valid
//! base32hex), so a retried insert answers 409 `duplicate` and rondo reads the event instead of making a
//! second one. A 401 refreshes the agent's token once; 429/403 rate limits and 5xx are transient (the outbox
//! retries them, honouring `Retry-After`); a deleted event (410) or one never made (404) counts as deleted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use google_calendar3::api::{
    ConferenceData, ConferenceSolutionKey, CreateConferenceRequest, Event, EventAttendee,
    EventDateTime, FreeBusyRequest, FreeBusyRequestItem,
};
use google_calendar3::hyper_rustls::HttpsConnector;
use google_calendar3::hyper_util::client::legacy::connect::HttpConnector;
use google_calendar3::{common, CalendarHub};
use uuid::Uuid;

use super::{retry_after_header, CalendarError, CalendarProvider, CreatedEvent, EventRequest};
use crate::domain::availability::Span;
use crate::domain::model::Agent;
use crate::oauth::OAuth;

type Client = common::Client<HttpsConnector<HttpConnector>>;
type Hub = CalendarHub<HttpsConnector<HttpConnector>>;

/// One provider call may take this long before it counts as a transient failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub struct GoogleCalendar {
    client: Client,
    api_url: String,
    oauth: Arc<OAuth>,
}

/// What a failed call said, caught by the client's delegate (its error value alone loses the status line
/// and headers).
#[derive(Default)]
struct Caught {
    status: Option<u16>,
    retry_after: Option<Duration>,
}

impl common::Delegate for Caught {
    fn http_failure(
        &mut self,
        response: &common::Response,
        _err: Option<&serde_json::Value>,
    ) -> common::Retry {
        self.status = Some(response.status().as_u16());
        self.retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_header);
        common::Retry::Abort
    }
}

/// Runs one request builder to its answer, with a `Caught` delegate for the status line and headers.
macro_rules! api_call {
    ($call:expr) => {
        async move {
            let mut caught = Caught::default();
            let r = $call.delegate(&mut caught).doit().await;
            (r, caught)
        }
    };
}

/// A failed call: an HTTP answer to look at, or a problem already classified (token, network, timeout).
enum Failure {
    Status {
        status: u16,
        reason: String,
        retry_after: Option<Duration>,
    },
    Calendar(CalendarError),
}

fn classify(e: common::Error, caught: &Caught) -> Failure {
    match e {
        common::Error::BadRequest(v) => Failure::Status {
            status: caught
                .status
                .or_else(|| v["error"]["code"].as_u64().map(|c| c as u16))
                .unwrap_or(400),
            reason: v["error"]["errors"][0]["reason"]
                .as_str()
                .or_else(|| v["error"]["message"].as_str())
                .unwrap_or("unknown")
                .to_owned(),
            retry_after: caught.retry_after,
        },
        common::Error::Failure(r) => Failure::Status {
            status: r.status().as_u16(),
            reason: r.status().canonical_reason().unwrap_or("error").to_owned(),
            retry_after: caught.retry_after,
        },
        other => Failure::Calendar(CalendarError::Transient {
            message: format!("Google unreachable: {other}"),
            retry_after: None,
        }),
    }
}

impl From<Failure> for CalendarError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Status {
                status,
                reason,
                retry_after,
            } => {
                let rate_limited = matches!(
                    reason.as_str(),
                    "rateLimitExceeded" | "userRateLimitExceeded"
                );
                if status >= 500
                    || status == 429
                    || status == 401
                    || (status == 403 && rate_limited)
                {
                    CalendarError::Transient {
                        message: format!("Google answered {status} {reason}"),
                        retry_after,
                    }
                } else {
                    CalendarError::Rejected(format!("Google answered {status} {reason}"))
                }
            }
            Failure::Calendar(e) => e,
        }
    }
}

/// The Google event id for a meeting: its UUID's 32 lowercase hex digits (base32hex allows `a-v0-9`), and
/// for the n-th re-creation in the same calendar, those and `v` and n (still base32hex).
pub fn event_id(meeting: Uuid, n: u32) -> String {
    match n {
        0 => meeting.simple().to_string(),
        n => format!("{}v{n}", meeting.simple()),
    }
}

fn video_link(e: &Event) -> Option<String> {
    e.hangout_link.clone().or_else(|| {
        e.conference_data
            .as_ref()?
            .entry_points
            .as_ref()?
            .iter()
            .find(|p| p.entry_point_type.as_deref() == Some("video"))?
            .uri
            .clone()
    })
}

fn conference_pending(e: &Event) -> bool {
    e.conference_data
        .as_ref()
        .and_then(|c| c.create_request.as_ref())
        .and_then(|r| r.status.as_ref())
        .and_then(|s| s.status_code.as_deref())
        == Some("pending")
}

fn when(t: chrono::DateTime<chrono::Utc>) -> EventDateTime {
    EventDateTime {
        date_time: Some(t),
        time_zone: Some("UTC".into()),
        ..Default::default()
    }
}

impl GoogleCalendar {
    pub fn new(api_url: &str, oauth: Arc<OAuth>) -> Self {
        let connector = google_calendar3::hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let client = google_calendar3::hyper_util::client::legacy::Client::builder(
            google_calendar3::hyper_util::rt::TokioExecutor::new(),
        )
        .build(connector);
        Self {
            client,
            api_url: api_url.to_owned(),
            oauth,
        }
    }

    fn hub(&self, token: String) -> Hub {
        let mut hub = CalendarHub::new(self.client.clone(), token);
        hub.base_url(self.api_url.clone());
        hub.root_url(self.api_url.clone());
        hub
    }

    /// Runs one API call with the agent's token; on 401 refreshes the token once and runs it again.
    async fn call<T, F, Fut>(&self, agent: Uuid, op: F) -> Result<T, Failure>
    where
        F: Fn(Hub) -> Fut,
        Fut: Future<Output = (common::Result<T>, Caught)>,
    {
        let mut stale: Option<String> = None;
        loop {
            let token = self
                .oauth
                .access_token(agent, stale.as_deref())
                .await
                .map_err(Failure::Calendar)?;
            let Ok((result, caught)) =
                tokio::time::timeout(CALL_TIMEOUT, op(self.hub(token.clone()))).await
            else {
                return Err(Failure::Calendar(CalendarError::Transient {
                    message: "Google did not answer in time".into(),
                    retry_after: None,
                }));
            };
            match result {
                Ok(v) => return Ok(v),
                Err(e) => match classify(e, &caught) {
                    Failure::Status { status: 401, .. } if stale.is_none() => stale = Some(token),
                    f => return Err(f),
                },
            }
        }
    }
}

#[async_trait]
impl CalendarProvider for GoogleCalendar {
    async fn free_busy(&self, agent: &Agent, window: Span) -> Result<Vec<Span>, CalendarError> {
        let request = FreeBusyRequest {
            time_min: Some(window.start),
            time_max: Some(window.end),
            time_zone: Some("UTC".into()),
            items: Some(vec![FreeBusyRequestItem {
                id: Some("primary".into()),
            }]),
            ..Default::default()
        };
        let answer = self
            .call(agent.id, |hub| {
                let request = request.clone();
                api_call!(hub.freebusy().query(request))
            })
            .await?
            .1;
        let primary = answer
            .calendars
            .and_then(|mut c| c.remove("primary"))
            .ok_or_else(|| {
                CalendarError::Rejected("Google's answer has no primary calendar".into())
            })?;
        if let Some(e) = primary.errors.as_ref().and_then(|e| e.first()) {
            let reason = e.reason.clone().unwrap_or_default();
            return Err(if reason == "backendError" {
                CalendarError::Transient {
                    message: format!("Google free/busy: {reason}"),
                    retry_after: None,
                }
            } else {
                CalendarError::Rejected(format!("Google free/busy: {reason}"))
            });
        }
        Ok(primary
            .busy
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(Span {
                    start: p.start?,
                    end: p.end?,
                })
            })
            .filter(|s| s.start < s.end)
            .collect())
    }

    async fn create_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<CreatedEvent, CalendarError> {
        // Google keeps a deleted id for good (a later insert with it answers 409), so a meeting whose
        // event was deleted from this calendar (it moved away and back) takes the next id of its sequence.
        for n in 0..MAX_IDS {
            let id = event_id(event.meeting_id, n);
            let body = Event {
                id: Some(id.clone()),
                attendees: Some(vec![EventAttendee {
                    email: Some(event.attendee_email.clone()),
                    display_name: event.attendee_name.clone(),
                    ..Default::default()
                }]),
                conference_data: Some(ConferenceData {
                    create_request: Some(CreateConferenceRequest {
                        request_id: Some(id.clone()),
                        conference_solution_key: Some(ConferenceSolutionKey {
                            type_: Some("hangoutsMeet".into()),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..content(event)
            };
            let inserted = self
                .call(agent.id, |hub| {
                    let body = body.clone();
                    api_call!(hub
                        .events()
                        .insert(body, "primary")
                        .conference_data_version(1)
                        .send_updates("none"))
                })
                .await;
            let stored = match inserted {
                // The Meet conference may still be in the making: read the event once more for its link.
                Ok((_, e)) if video_link(&e).is_none() && conference_pending(&e) => {
                    self.get(agent.id, &id).await?.unwrap_or(e)
                }
                Ok((_, e)) => e,
                // Made by an earlier try whose answer was lost (the meeting may have changed since: bring
                // it in line), or a tombstone of a deleted event (try the next id).
                Err(Failure::Status { status: 409, .. }) => match self.get(agent.id, &id).await? {
                    Some(live) => self.align(agent.id, &id, live, event).await?,
                    None => continue,
                },
                Err(f) => return Err(f.into()),
            };
            return Ok(CreatedEvent {
                provider_event_id: stored.id.clone().unwrap_or(id),
                video_link: video_link(&stored),
            });
        }
        Err(CalendarError::Rejected(format!(
            "meeting {} was deleted from this calendar {MAX_IDS} times",
            event.meeting_id
        )))
    }

    async fn update_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<Option<String>, CalendarError> {
        Ok(match self.live_event(agent.id, event.meeting_id).await? {
            Some((id, live)) => video_link(&self.align(agent.id, &id, live, event).await?),
            // Not there (its create was lost, or someone deleted it): make it.
            None => self.create_event(agent, event).await?.video_link,
        })
    }

    async fn delete_event(&self, agent: &Agent, meeting_id: Uuid) -> Result<(), CalendarError> {
        let Some((id, _)) = self.live_event(agent.id, meeting_id).await? else {
            return Ok(());
        };
        let deleted = self
            .call(agent.id, |hub| {
                let id = id.clone();
                api_call!(hub.events().delete("primary", &id).send_updates("none"))
            })
            .await;
        match deleted {
            Ok(_)
            | Err(Failure::Status {
                status: 404 | 410, ..
            }) => Ok(()),
            Err(f) => Err(f.into()),
        }
    }
}

/// How many ids one meeting may use in one calendar (see `create_event`).
const MAX_IDS: u32 = 16;

/// What the event says, from the meeting as it is now.
fn content(event: &EventRequest) -> Event {
    Event {
        summary: Some(event.summary.clone()),
        description: Some(event.description.clone()),
        start: Some(when(event.start)),
        end: Some(when(event.end)),
        ..Default::default()
    }
}

fn same_time(e: &Event, event: &EventRequest) -> bool {
    let at = |t: &Option<EventDateTime>| t.as_ref().and_then(|t| t.date_time);
    at(&e.start) == Some(event.start)
        && at(&e.end) == Some(event.end)
        && e.summary.as_deref() == Some(event.summary.as_str())
}

impl GoogleCalendar {
    /// The meeting's live event in this calendar and its id (None: none, or only deleted ones).
    async fn live_event(
        &self,
        agent: Uuid,
        meeting: Uuid,
    ) -> Result<Option<(String, Event)>, CalendarError> {
        for n in 0..MAX_IDS {
            let id = event_id(meeting, n);
            match self.get_raw(agent, &id).await {
                Ok(e) if e.status.as_deref() != Some("cancelled") => return Ok(Some((id, e))),
                // Deleted: a later id of the sequence may hold the live one.
                Ok(_) | Err(Failure::Status { status: 410, .. }) => continue,
                Err(Failure::Status { status: 404, .. }) => return Ok(None),
                Err(f) => return Err(f.into()),
            }
        }
        Ok(None)
    }

    /// The event, if it is live (None when deleted).
    async fn get(&self, agent: Uuid, id: &str) -> Result<Option<Event>, CalendarError> {
        match self.get_raw(agent, id).await {
            Ok(e) if e.status.as_deref() != Some("cancelled") => Ok(Some(e)),
            Ok(_) | Err(Failure::Status { status: 410, .. }) => Ok(None),
            Err(f) => Err(f.into()),
        }
    }

    /// Patches the event to say what the meeting says now (when it does not already).
    async fn align(
        &self,
        agent: Uuid,
        id: &str,
        live: Event,
        event: &EventRequest,
    ) -> Result<Event, CalendarError> {
        if same_time(&live, event) {
            return Ok(live);
        }
        let body = content(event);
        let (_, patched) = self
            .call(agent, |hub| {
                let (body, id) = (body.clone(), id.to_owned());
                api_call!(hub
                    .events()
                    .patch(body, "primary", &id)
                    .send_updates("none"))
            })
            .await?;
        Ok(patched)
    }

    async fn get_raw(&self, agent: Uuid, id: &str) -> Result<Event, Failure> {
        let (_, e) = self
            .call(agent, |hub| {
                let id = id.to_owned();
                api_call!(hub.events().get("primary", &id))
            })
            .await?;
        Ok(e)
    }
}
