//! The calendar port: what rondo needs from an agent's calendar (free/busy for a window; create, update and
//! delete the meeting's event), and the adapters behind it. `demo` simulates calendars for dev mode; the
//! Google and Microsoft adapters plug in here with the same trait.

pub mod cache;
pub mod demo;
pub mod google;
pub mod metered;
pub mod microsoft;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::availability::Span;
use crate::domain::model::{Agent, CalendarKind};
use crate::metrics::Metrics;

/// What the event in the agent's calendar says.
#[derive(Debug, Clone)]
pub struct EventRequest {
    /// rondo's meeting id; adapters derive their idempotency keys from it.
    pub meeting_id: Uuid,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    pub attendee_email: String,
    pub attendee_name: Option<String>,
}

/// The event as the provider stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedEvent {
    pub provider_event_id: String,
    pub video_link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// Worth trying again later (provider down, rate limited); `retry_after` when the provider said.
    #[error("calendar temporarily unavailable: {message}")]
    Transient {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    /// The agent's grant is gone: the connection must be renewed by the agent.
    #[error("calendar disconnected: {0}")]
    Disconnected(String),
    /// Anything else the provider refused.
    #[error("calendar refused: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait CalendarProvider: Send + Sync {
    /// Busy blocks of the agent's calendar that touch the window (half-open, any order).
    async fn free_busy(&self, agent: &Agent, window: Span) -> Result<Vec<Span>, CalendarError>;
    /// Creates the meeting's event; creating the same meeting again returns the existing event.
    async fn create_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<CreatedEvent, CalendarError>;
    /// Moves the meeting's event to the request's times (making it if it is not there); the video link when
    /// the provider says.
    async fn update_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<Option<String>, CalendarError>;
    /// Deletes the meeting's event; an event already gone counts as deleted.
    async fn delete_event(&self, agent: &Agent, meeting_id: Uuid) -> Result<(), CalendarError>;
}

/// A `Retry-After` value in seconds, possibly fractional (Graph sends `2.128`); anything past a day counts
/// as a day (the retry schedule clamps it anyway). HTTP dates are not used by these providers.
pub fn retry_after_header(v: &str) -> Option<std::time::Duration> {
    let secs = v
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)?;
    std::time::Duration::try_from_secs_f64(secs.min(86_400.0)).ok()
}

/// Picks the adapter for each agent by the kind of calendar it has connected.
#[derive(Clone)]
pub struct Calendars {
    demo: Arc<dyn CalendarProvider>,
    google: Option<Arc<dyn CalendarProvider>>,
    microsoft: Option<Arc<dyn CalendarProvider>>,
}

impl Calendars {
    pub fn new(demo: Arc<dyn CalendarProvider>) -> Self {
        Self {
            demo,
            google: None,
            microsoft: None,
        }
    }

    /// Adds the real providers (when rondo is registered with them).
    pub fn with_providers(
        mut self,
        google: Option<Arc<dyn CalendarProvider>>,
        microsoft: Option<Arc<dyn CalendarProvider>>,
    ) -> Self {
        self.google = google;
        self.microsoft = microsoft;
        self
    }

    /// Counts and times every adapter's calls in `metrics` (see `metered`); call it once, after
    /// `with_providers`.
    pub fn metered(self, metrics: &Arc<Metrics>) -> Self {
        let meter = |inner, provider| {
            Arc::new(metered::Metered::new(inner, provider, metrics.clone()))
                as Arc<dyn CalendarProvider>
        };
        Self {
            demo: meter(self.demo, "demo"),
            google: self.google.map(|p| meter(p, "google")),
            microsoft: self.microsoft.map(|p| meter(p, "microsoft")),
        }
    }

    /// The agent's calendar, or None when it has none connected (it is then out of rotation).
    pub fn for_agent(&self, agent: &Agent) -> Option<&dyn CalendarProvider> {
        match agent.calendar {
            CalendarKind::Demo => Some(self.demo.as_ref()),
            CalendarKind::None => None,
            CalendarKind::Google => self.google.as_deref(),
            CalendarKind::Microsoft => self.microsoft.as_deref(),
        }
    }
}
