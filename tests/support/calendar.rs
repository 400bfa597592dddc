//! A scriptable calendar behind rondo's `CalendarProvider` port, for tests that must decide exactly when an
//! agent is busy. Busy blocks are set per agent email; created events are recorded and count as busy, the
//! way a real calendar shows the events rondo wrote into it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use rondo::calendar::{CalendarError, CalendarProvider, CreatedEvent, EventRequest};
use rondo::domain::availability::Span;
use rondo::domain::model::Agent;
use uuid::Uuid;

#[derive(Default)]
pub struct ScriptedCalendars {
    busy: Mutex<HashMap<String, Vec<Span>>>,
    events: Mutex<HashMap<Uuid, (String, EventRequest)>>,
    creates: Mutex<u32>,
    /// Errors the next create calls answer with, in order.
    failing_creates: Mutex<Vec<Failure>>,
}

/// How a scripted calendar call fails.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// Like a 503: try again later.
    Unavailable,
    /// Like a 400: trying again will not help.
    Refused,
}

impl ScriptedCalendars {
    pub fn set_busy(&self, email: &str, blocks: Vec<Span>) {
        self.busy.lock().unwrap().insert(email.to_owned(), blocks);
    }
    /// Events currently in the calendars, as (agent email, meeting id, start).
    pub fn events(&self) -> Vec<(String, Uuid, chrono::DateTime<chrono::Utc>)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|(id, (email, e))| (email.clone(), *id, e.start))
            .collect()
    }
    /// The next `n` create calls fail this way.
    pub fn fail_next_creates(&self, n: usize, how: Failure) {
        self.failing_creates
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(how, n));
    }
    pub fn create_calls(&self) -> u32 {
        *self.creates.lock().unwrap()
    }
}

#[async_trait]
impl CalendarProvider for ScriptedCalendars {
    async fn free_busy(&self, agent: &Agent, window: Span) -> Result<Vec<Span>, CalendarError> {
        let mut out: Vec<Span> = self
            .busy
            .lock()
            .unwrap()
            .get(&agent.email)
            .cloned()
            .unwrap_or_default();
        out.extend(
            self.events
                .lock()
                .unwrap()
                .values()
                .filter(|(email, _)| email == &agent.email)
                .map(|(_, e)| Span {
                    start: e.start,
                    end: e.end,
                }),
        );
        out.retain(|s| s.start < window.end && s.end > window.start);
        Ok(out)
    }

    async fn create_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<CreatedEvent, CalendarError> {
        *self.creates.lock().unwrap() += 1;
        let failure = {
            let mut f = self.failing_creates.lock().unwrap();
            (!f.is_empty()).then(|| f.remove(0))
        };
        match failure {
            Some(Failure::Unavailable) => {
                return Err(CalendarError::Transient {
                    message: "503 backendError".into(),
                    retry_after: None,
                })
            }
            Some(Failure::Refused) => return Err(CalendarError::Rejected("400 badRequest".into())),
            None => {}
        }
        self.events
            .lock()
            .unwrap()
            .insert(event.meeting_id, (agent.email.clone(), event.clone()));
        Ok(CreatedEvent {
            provider_event_id: event.meeting_id.simple().to_string(),
            video_link: Some(format!("https://video.test/{}", event.meeting_id.simple())),
        })
    }

    async fn update_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<Option<String>, CalendarError> {
        self.events
            .lock()
            .unwrap()
            .insert(event.meeting_id, (agent.email.clone(), event.clone()));
        Ok(None)
    }

    async fn delete_event(&self, agent: &Agent, meeting_id: Uuid) -> Result<(), CalendarError> {
        // Each agent has its own calendar: only this agent's copy goes.
        let mut events = self.events.lock().unwrap();
        if events
            .get(&meeting_id)
            .is_some_and(|(email, _)| *email == agent.email)
        {
            events.remove(&meeting_id);
        }
        Ok(())
    }
}
