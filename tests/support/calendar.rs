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
        self.events
            .lock()
            .unwrap()
            .insert(event.meeting_id, (agent.email.clone(), event.clone()));
        Ok(CreatedEvent {
            provider_event_id: event.meeting_id.simple().to_string(),
            video_link: Some(format!("https://video.test/{}", event.meeting_id.simple())),
        })
    }

    async fn update_event(&self, agent: &Agent, event: &EventRequest) -> Result<(), CalendarError> {
        self.events
            .lock()
            .unwrap()
            .insert(event.meeting_id, (agent.email.clone(), event.clone()));
        Ok(())
    }

    async fn delete_event(&self, _agent: &Agent, meeting_id: Uuid) -> Result<(), CalendarError> {
        self.events.lock().unwrap().remove(&meeting_id);
        Ok(())
    }
}
