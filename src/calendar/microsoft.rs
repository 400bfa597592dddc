//! Outlook / Microsoft 365 calendars behind the calendar port, on `graph-rs-sdk` pointed at
//! `RONDO_MICROSOFT_GRAPH_URL`. Free/busy comes from `getSchedule`; events carry the meeting id as their
//! `transactionId`, and rondo looks an event up by it before creating one (what Graph does with a repeated
//! `transactionId` is undocumented), so a retried create never makes a second event. A 401 refreshes the
//! agent's token once; 429/503/5xx are transient and their `Retry-After` (fractional seconds) is honoured.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use graph_rs_sdk::{GraphClient, GraphClientConfiguration, ODataQuery};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{retry_after_header, CalendarError, CalendarProvider, CreatedEvent, EventRequest};
use crate::domain::availability::Span;
use crate::domain::model::Agent;
use crate::oauth::OAuth;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);

pub struct MicrosoftCalendar {
    graph_url: graph_rs_sdk::http::Url,
    loopback: bool,
    oauth: Arc<OAuth>,
    /// A Graph client per access token (each holds its own connection pool; building one sets up TLS), so
    /// calls with the same token reuse connections. Tokens live about an hour; the map is bounded.
    clients: std::sync::Mutex<std::collections::HashMap<[u8; 32], GraphClient>>,
}

const MAX_CLIENTS: usize = 256;

/// An answer that was not 2xx: its status, Graph's error `code`, and `Retry-After`.
struct Refusal {
    status: u16,
    code: String,
    retry_after: Option<Duration>,
}

impl From<Refusal> for CalendarError {
    fn from(r: Refusal) -> Self {
        if r.status >= 500 || r.status == 429 || r.status == 401 {
            CalendarError::Transient {
                message: format!("Microsoft Graph answered {} {}", r.status, r.code),
                retry_after: r.retry_after,
            }
        } else {
            CalendarError::Rejected(format!("Microsoft Graph answered {} {}", r.status, r.code))
        }
    }
}

enum Failure {
    Refused(Refusal),
    Calendar(CalendarError),
}

impl From<Failure> for CalendarError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Refused(r) => r.into(),
            Failure::Calendar(e) => e,
        }
    }
}

/// Which request to make; each attempt builds it anew on a client holding the current token.
#[derive(Clone)]
enum Call {
    Me,
    Schedule(Value),
    FindByTransaction(String),
    Create(Value),
    Update(String, Value),
    Delete(String),
}

fn graph_time(t: DateTime<Utc>) -> Value {
    json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"})
}

/// A Graph `dateTimeTimeZone` (seven fraction digits, no offset) as an instant.
fn parse_graph_time(v: &Value) -> Option<DateTime<Utc>> {
    let naive =
        NaiveDateTime::parse_from_str(v["dateTime"].as_str()?, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    match v["timeZone"].as_str().unwrap_or("UTC") {
        "UTC" | "Etc/UTC" | "" => Some(Utc.from_utc_datetime(&naive)),
        zone => {
            let tz: chrono_tz::Tz = zone.parse().ok()?;
            tz.from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

/// `free` and `workingElsewhere` leave the agent available; everything else blocks.
fn blocks(status: &str) -> bool {
    !matches!(status, "free" | "workingElsewhere")
}

impl MicrosoftCalendar {
    /// `graph_url` was checked at start-up (a Microsoft Graph host, or loopback for the test fakes).
    pub fn new(graph_url: &str, oauth: Arc<OAuth>) -> anyhow::Result<Self> {
        let url = graph_rs_sdk::http::Url::parse(graph_url)?;
        let loopback = crate::config::is_loopback(&url);
        Ok(Self {
            graph_url: url,
            loopback,
            oauth,
            clients: Default::default(),
        })
    }

    fn client(&self, token: &str) -> GraphClient {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let mut clients = self.clients.lock().expect("graph clients");
        if let Some(c) = clients.get(&key) {
            return c.clone();
        }
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        let c = self.new_client(token);
        clients.insert(key, c.clone());
        c
    }

    fn new_client(&self, token: &str) -> GraphClient {
        let mut graph = GraphClient::from(
            GraphClientConfiguration::new()
                .access_token(token)
                .timeout(CALL_TIMEOUT)
                .https_only(!self.loopback),
        );
        if self.loopback {
            graph.use_test_endpoint(&self.graph_url);
        } else {
            // Only Microsoft's own hosts reach here (checked at start-up), which this call accepts.
            graph.use_endpoint(&self.graph_url);
        }
        graph
    }

    async fn send(&self, token: &str, call: &Call) -> Result<reqwest::Response, Failure> {
        let g = self.client(token);
        let me = g.me();
        let request = match call {
            Call::Me => me.get_user(),
            Call::Schedule(body) => me.default_calendar().get_schedule(body),
            Call::FindByTransaction(id) => me
                .events()
                .list_events()
                .filter(&[&format!("transactionId eq '{id}'")]),
            Call::Create(body) => me.events().create_events(body),
            Call::Update(id, body) => me.event(id).update_events(body),
            Call::Delete(id) => me.event(id).delete_events(),
        };
        request.send().await.map_err(|e| {
            Failure::Calendar(CalendarError::Transient {
                message: format!("Microsoft Graph unreachable: {e}"),
                retry_after: None,
            })
        })
    }

    /// Runs the call with the agent's token (refreshed once after a 401) and returns the JSON body of a
    /// 2xx answer (Null when empty).
    async fn call(&self, agent: Uuid, call: Call) -> Result<Value, Failure> {
        let token = self
            .oauth
            .access_token(agent, None)
            .await
            .map_err(Failure::Calendar)?;
        self.call_with(agent, token, call).await
    }

    async fn call_with(&self, agent: Uuid, token: String, call: Call) -> Result<Value, Failure> {
        let mut token = token;
        let mut refreshed = false;
        loop {
            let resp = self.send(&token, &call).await?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_header);
            let body = resp.bytes().await.unwrap_or_default();
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if (200..300).contains(&status) {
                return Ok(json);
            }
            if status == 401 && !refreshed {
                refreshed = true;
                token = self
                    .oauth
                    .access_token(agent, Some(&token))
                    .await
                    .map_err(Failure::Calendar)?;
                continue;
            }
            return Err(Failure::Refused(Refusal {
                status,
                code: json["error"]["code"]
                    .as_str()
                    .unwrap_or("unknown")
                    .to_owned(),
                retry_after,
            }));
        }
    }

    /// The signed-in account's address (`mail`, or `userPrincipalName` when `mail` is null), read with a
    /// fresh access token during the connect flow.
    pub async fn account_email(&self, access_token: &str) -> Result<String, CalendarError> {
        let resp = self
            .send(access_token, &Call::Me)
            .await
            .map_err(CalendarError::from)?;
        let status = resp.status();
        let me: Value = resp
            .json()
            .await
            .map_err(|e| CalendarError::Rejected(e.to_string()))?;
        if !status.is_success() {
            return Err(CalendarError::Rejected(format!(
                "Microsoft Graph answered {status} to GET me"
            )));
        }
        me["mail"]
            .as_str()
            .or_else(|| me["userPrincipalName"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| CalendarError::Rejected("GET me named no address".into()))
    }

    async fn find(&self, agent: Uuid, meeting: Uuid) -> Result<Option<Value>, CalendarError> {
        let found = self
            .call(agent, Call::FindByTransaction(meeting.to_string()))
            .await?;
        Ok(found["value"].as_array().and_then(|v| v.first()).cloned())
    }
}

impl MicrosoftCalendar {
    /// Patches the event to the meeting's times and subject when it says otherwise.
    async fn align(
        &self,
        agent: Uuid,
        existing: Value,
        event: &EventRequest,
    ) -> Result<CreatedEvent, CalendarError> {
        let same = parse_graph_time(&existing["start"]) == Some(event.start)
            && parse_graph_time(&existing["end"]) == Some(event.end)
            && existing["subject"].as_str() == Some(event.summary.as_str());
        if same {
            return Ok(created(&existing));
        }
        let id = existing["id"].as_str().unwrap_or_default().to_owned();
        let body = json!({
            "subject": event.summary,
            "start": graph_time(event.start),
            "end": graph_time(event.end),
        });
        let patched = self.call(agent, Call::Update(id, body)).await?;
        Ok(created(if patched.is_object() {
            &patched
        } else {
            &existing
        }))
    }
}

fn created(event: &Value) -> CreatedEvent {
    CreatedEvent {
        provider_event_id: event["id"].as_str().unwrap_or_default().to_owned(),
        video_link: event["onlineMeeting"]["joinUrl"]
            .as_str()
            .map(str::to_owned),
    }
}

#[async_trait]
impl CalendarProvider for MicrosoftCalendar {
    async fn free_busy(&self, agent: &Agent, window: Span) -> Result<Vec<Span>, CalendarError> {
        let (token, account) = self.oauth.access_token_and_account(agent.id).await?;
        let body = json!({
            "schedules": [account],
            "startTime": graph_time(window.start),
            "endTime": graph_time(window.end),
            "availabilityViewInterval": 15,
        });
        let answer = self
            .call_with(agent.id, token, Call::Schedule(body))
            .await?;
        let schedule = answer["value"]
            .as_array()
            .and_then(|v| v.first())
            .ok_or_else(|| CalendarError::Rejected("getSchedule answered no schedule".into()))?;
        if let Some(e) = schedule.get("error").filter(|e| !e.is_null()) {
            return Err(CalendarError::Rejected(format!(
                "getSchedule: {}",
                e["responseCode"].as_str().unwrap_or("error")
            )));
        }
        Ok(schedule["scheduleItems"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|i| blocks(i["status"].as_str().unwrap_or("busy")))
            .filter_map(|i| {
                Some(Span {
                    start: parse_graph_time(&i["start"])?,
                    end: parse_graph_time(&i["end"])?,
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
        // An earlier try may have created it and lost the answer (and the meeting may have moved since).
        if let Some(existing) = self.find(agent.id, event.meeting_id).await? {
            return self.align(agent.id, existing, event).await;
        }
        let mut attendee =
            json!({"emailAddress": {"address": event.attendee_email}, "type": "required"});
        if let Some(name) = &event.attendee_name {
            attendee["emailAddress"]["name"] = json!(name);
        }
        let body = json!({
            "subject": event.summary,
            "body": {"contentType": "HTML", "content": html_escape(&event.description).replace('\n', "<br>")},
            "start": graph_time(event.start),
            "end": graph_time(event.end),
            "attendees": [attendee],
            "isOnlineMeeting": true,
            "onlineMeetingProvider": "teamsForBusiness",
            "transactionId": event.meeting_id.to_string(),
        });
        let made = self.call(agent.id, Call::Create(body)).await?;
        Ok(created(&made))
    }

    async fn update_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<Option<String>, CalendarError> {
        Ok(match self.find(agent.id, event.meeting_id).await? {
            Some(existing) => self.align(agent.id, existing, event).await?.video_link,
            // Not there (its create was lost, or someone deleted it): make it.
            None => self.create_event(agent, event).await?.video_link,
        })
    }

    async fn delete_event(&self, agent: &Agent, meeting_id: Uuid) -> Result<(), CalendarError> {
        let Some(existing) = self.find(agent.id, meeting_id).await? else {
            return Ok(());
        };
        let id = existing["id"].as_str().unwrap_or_default().to_owned();
        match self.call(agent.id, Call::Delete(id)).await {
            Ok(_) | Err(Failure::Refused(Refusal { status: 404, .. })) => Ok(()),
            Err(f) => Err(f.into()),
        }
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_read_with_seven_fraction_digits() {
        let t = parse_graph_time(
            &json!({"dateTime": "2026-11-23T12:00:00.0000000", "timeZone": "UTC"}),
        );
        assert_eq!(t.unwrap().to_rfc3339(), "2026-11-23T12:00:00+00:00");
        let t = parse_graph_time(
            &json!({"dateTime": "2026-11-23T12:00:00", "timeZone": "Europe/Amsterdam"}),
        );
        assert_eq!(t.unwrap().to_rfc3339(), "2026-11-23T11:00:00+00:00");
        assert!(blocks("busy") && blocks("tentative") && blocks("oof") && blocks("unknown"));
        assert!(!blocks("free") && !blocks("workingElsewhere"));
    }
}
