//! Simulated calendars for dev mode. Each agent gets a believable, deterministic working life — two to four
//! meetings on most working days, derived from a hash of the agent id and the date, so every run and every
//! replica sees the same calendar — plus the events rondo itself created in it. The created events live in
//! memory: they are a convenience of the simulation, not a source of truth (rondo's own meetings are always
//! read from the database as well).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{CalendarError, CalendarProvider, CreatedEvent, EventRequest};
use crate::domain::availability::Span;
use crate::domain::model::Agent;

#[derive(Default)]
pub struct DemoCalendars {
    events: Mutex<Events>,
    public_url: String,
}

/// The events rondo created, per agent in start order (a free/busy read looks at its window only, however
/// many meetings were booked), and where each meeting's event is.
#[derive(Default)]
struct Events {
    by_agent: HashMap<Uuid, BTreeMap<(chrono::DateTime<Utc>, Uuid), Span>>,
    by_meeting: HashMap<Uuid, (Uuid, Span)>,
}

/// Longest event the demo calendar holds (a meeting of at most 8 hours): how far before a window an event
/// may start and still reach into it.
const LONGEST_EVENT_HOURS: i64 = 24;

impl Events {
    fn remove(&mut self, meeting: Uuid) {
        if let Some((agent, span)) = self.by_meeting.remove(&meeting) {
            if let Some(list) = self.by_agent.get_mut(&agent) {
                list.remove(&(span.start, meeting));
            }
        }
    }
    fn insert(&mut self, meeting: Uuid, agent: Uuid, span: Span) {
        self.remove(meeting);
        self.by_meeting.insert(meeting, (agent, span));
        self.by_agent
            .entry(agent)
            .or_default()
            .insert((span.start, meeting), span);
    }
}

impl DemoCalendars {
    pub fn new(public_url: &str) -> Self {
        Self {
            events: Mutex::default(),
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// The simulated meetings of one agent on one local date: 0 to 4 blocks of 30, 45 or 60 minutes between
/// 08:00 and 18:00 local time, on quarter hours. Weekends are mostly empty.
pub fn simulated_busy(agent: &Agent, date: NaiveDate) -> Vec<Span> {
    let mut h = Sha256::new();
    h.update(agent.id.as_bytes());
    h.update(date.to_string().as_bytes());
    let seed = h.finalize();
    let weekend = date.weekday().number_from_monday() >= 6;
    let count = if weekend {
        (seed[0] % 8 == 0) as usize
    } else {
        2 + (seed[0] % 3) as usize
    };
    let tz = agent.zone.tz();
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let slot = seed[1 + i * 2] as u32 % 40; // quarter hours from 08:00 to 17:45
        let length = [30, 45, 60][seed[2 + i * 2] as usize % 3];
        let minute = 8 * 60 + slot * 15;
        let Some(local) = date.and_hms_opt(minute / 60, minute % 60, 0) else {
            continue;
        };
        let start = match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => continue,
        };
        out.push(Span {
            start,
            end: start + Duration::minutes(length),
        });
    }
    out
}

#[async_trait]
impl CalendarProvider for DemoCalendars {
    async fn free_busy(&self, agent: &Agent, window: Span) -> Result<Vec<Span>, CalendarError> {
        let tz = agent.zone.tz();
        let first = window.start.with_timezone(&tz).date_naive() - Duration::days(1);
        let last = window.end.with_timezone(&tz).date_naive() + Duration::days(1);
        let mut busy: Vec<Span> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .flat_map(|d| simulated_busy(agent, d))
            .filter(|b| b.start < window.end && b.end > window.start)
            .collect();
        let events = self.events.lock().expect("demo calendar lock");
        if let Some(list) = events.by_agent.get(&agent.id) {
            let from = (
                window.start - Duration::hours(LONGEST_EVENT_HOURS),
                Uuid::nil(),
            );
            let to = (window.end, Uuid::nil());
            busy.extend(
                list.range(from..to)
                    .map(|(_, s)| *s)
                    .filter(|s| s.start < window.end && s.end > window.start),
            );
        }
        Ok(busy)
    }

    async fn create_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<CreatedEvent, CalendarError> {
        let span = Span {
            start: event.start,
            end: event.end,
        };
        self.events
            .lock()
            .expect("demo calendar lock")
            .insert(event.meeting_id, agent.id, span);
        Ok(CreatedEvent {
            provider_event_id: event.meeting_id.simple().to_string(),
            video_link: Some(format!(
                "{}/demo/meet/{}",
                self.public_url,
                event.meeting_id.simple()
            )),
        })
    }

    async fn update_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<Option<String>, CalendarError> {
        Ok(self.create_event(agent, event).await?.video_link)
    }

    async fn delete_event(&self, agent: &Agent, meeting_id: Uuid) -> Result<(), CalendarError> {
        // Each agent has its own calendar: only this agent's copy goes (the meeting may have moved on).
        let mut events = self.events.lock().expect("demo calendar lock");
        if events
            .by_meeting
            .get(&meeting_id)
            .is_some_and(|(a, _)| *a == agent.id)
        {
            events.remove(meeting_id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::CalendarKind;
    use crate::domain::{DateOverrides, IanaZone, WeeklyHours};

    fn agent(id: u128) -> Agent {
        Agent {
            id: Uuid::from_u128(id),
            name: "A".into(),
            email: "a@example.com".into(),
            zone: IanaZone::parse("Europe/Amsterdam").unwrap(),
            weekly: WeeklyHours::default(),
            overrides: DateOverrides::default(),
            paused: false,
            calendar: CalendarKind::Demo,
            invitation: None,
            daily_limit: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn simulation_is_deterministic_and_believable() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(); // a Monday
        let a = simulated_busy(&agent(1), d);
        assert_eq!(a, simulated_busy(&agent(1), d));
        assert!((2..=4).contains(&a.len()));
        for b in &a {
            let local = b.start.with_timezone(&chrono_tz::Europe::Amsterdam);
            assert!((8..18).contains(&chrono::Timelike::hour(&local)));
        }
        let week: Vec<_> = (0..5)
            .map(|i| simulated_busy(&agent(2), d + Duration::days(i)))
            .collect();
        assert_ne!(week[0], week[1]);
    }
}
