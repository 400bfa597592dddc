//! A `CalendarProvider` decorator that counts and times every call of the adapter it wraps, by provider,
//! operation and outcome (`Metrics::provider_calls`, `Metrics::provider_call_duration`). Labels are fixed
//! words only: never an agent's id, address or a provider URL.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use uuid::Uuid;

use super::{CalendarError, CalendarProvider, CreatedEvent, EventRequest};
use crate::domain::availability::Span;
use crate::domain::model::Agent;
use crate::metrics::Metrics;

/// Measures the calls of `inner`, labelled `provider` (`google`, `microsoft` or `demo`).
pub struct Metered {
    inner: Arc<dyn CalendarProvider>,
    provider: &'static str,
    metrics: Arc<Metrics>,
}

impl Metered {
    pub fn new(
        inner: Arc<dyn CalendarProvider>,
        provider: &'static str,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            inner,
            provider,
            metrics,
        }
    }

    async fn measure<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, CalendarError>>,
    ) -> Result<T, CalendarError> {
        let mut call_record = CallRecord {
            metered: self,
            operation,
            started: Instant::now(),
            outcome: "transient",
        };
        let result = call.await;
        call_record.outcome = outcome(&result);
        result
    }
}

/// The `outcome` label of a finished call.
fn outcome<T>(result: &Result<T, CalendarError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(CalendarError::Transient { .. }) => "transient",
        Err(CalendarError::Disconnected(_)) => "disconnected",
        Err(CalendarError::Rejected(_)) => "rejected",
    }
}

/// Records one call when dropped: with its outcome once it answered, or as `transient` when the caller
/// stopped waiting first (a deadline dropped the call), so the slowest calls are not left out of the
/// histogram.
struct CallRecord<'a> {
    metered: &'a Metered,
    operation: &'static str,
    started: Instant,
    outcome: &'static str,
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        self.metered.metrics.observe_provider_call(
            self.metered.provider,
            self.operation,
            self.outcome,
            self.started.elapsed(),
        );
    }
}

#[async_trait]
impl CalendarProvider for Metered {
    async fn free_busy(&self, agent: &Agent, window: Span) -> Result<Vec<Span>, CalendarError> {
        self.measure("free_busy", self.inner.free_busy(agent, window))
            .await
    }

    async fn create_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<CreatedEvent, CalendarError> {
        self.measure("create_event", self.inner.create_event(agent, event))
            .await
    }

    async fn update_event(
        &self,
        agent: &Agent,
        event: &EventRequest,
    ) -> Result<Option<String>, CalendarError> {
        self.measure("update_event", self.inner.update_event(agent, event))
            .await
    }

    async fn delete_event(&self, agent: &Agent, meeting_id: Uuid) -> Result<(), CalendarError> {
        self.measure("delete_event", self.inner.delete_event(agent, meeting_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::model::CalendarKind;
    use crate::domain::{DateOverrides, IanaZone, WeeklyHours};
    use crate::metrics::OutboxSnapshot;

    /// Fails each call with the next scripted error (`Ok` once the script runs out); `hang` never answers.
    #[derive(Default)]
    struct Fake {
        script: Mutex<Vec<CalendarError>>,
        hang: bool,
    }

    impl Fake {
        async fn answer(&self) -> Result<(), CalendarError> {
            if self.hang {
                std::future::pending::<()>().await;
            }
            let mut script = self.script.lock().unwrap();
            if script.is_empty() {
                Ok(())
            } else {
                Err(script.remove(0))
            }
        }
    }

    #[async_trait]
    impl CalendarProvider for Fake {
        async fn free_busy(&self, _: &Agent, _: Span) -> Result<Vec<Span>, CalendarError> {
            self.answer().await.map(|()| Vec::new())
        }
        async fn create_event(
            &self,
            _: &Agent,
            _: &EventRequest,
        ) -> Result<CreatedEvent, CalendarError> {
            self.answer().await.map(|()| CreatedEvent {
                provider_event_id: "ev-1".into(),
                video_link: None,
            })
        }
        async fn update_event(
            &self,
            _: &Agent,
            _: &EventRequest,
        ) -> Result<Option<String>, CalendarError> {
            self.answer().await.map(|()| None)
        }
        async fn delete_event(&self, _: &Agent, _: Uuid) -> Result<(), CalendarError> {
            self.answer().await
        }
    }

    fn agent() -> Agent {
        Agent {
            id: Uuid::from_u128(7),
            name: "Ann".into(),
            email: "ann@example.com".into(),
            zone: IanaZone::parse("Europe/Amsterdam").unwrap(),
            weekly: WeeklyHours::default(),
            overrides: DateOverrides::default(),
            paused: false,
            calendar: CalendarKind::Google,
            invitation: None,
            daily_limit: None,
            created_at: Utc::now(),
        }
    }

    fn window() -> Span {
        Span {
            start: Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 11, 23, 16, 0, 0).unwrap(),
        }
    }

    fn calls(m: &Metrics, operation: &str, outcome: &str) -> u64 {
        m.provider_calls
            .with_label_values(&["google", operation, outcome])
            .get()
    }

    #[tokio::test]
    async fn calls_are_counted_by_operation_and_outcome_and_timed() {
        let metrics = Arc::new(Metrics::new());
        let fake = Fake {
            script: Mutex::new(vec![
                CalendarError::Transient {
                    message: "503".into(),
                    retry_after: None,
                },
                CalendarError::Disconnected("invalid_grant".into()),
                CalendarError::Rejected("400".into()),
            ]),
            hang: false,
        };
        let cal = Metered::new(Arc::new(fake), "google", metrics.clone());
        let a = agent();
        assert!(cal.free_busy(&a, window()).await.is_err());
        assert!(cal.free_busy(&a, window()).await.is_err());
        assert!(cal.delete_event(&a, Uuid::from_u128(1)).await.is_err());
        assert!(cal.free_busy(&a, window()).await.unwrap().is_empty());
        cal.delete_event(&a, Uuid::from_u128(1)).await.unwrap();

        assert_eq!(calls(&metrics, "free_busy", "transient"), 1);
        assert_eq!(calls(&metrics, "free_busy", "disconnected"), 1);
        assert_eq!(calls(&metrics, "free_busy", "ok"), 1);
        assert_eq!(calls(&metrics, "free_busy", "rejected"), 0);
        assert_eq!(calls(&metrics, "delete_event", "rejected"), 1);
        assert_eq!(calls(&metrics, "delete_event", "ok"), 1);
        let timed = |op: &str| {
            metrics
                .provider_call_duration
                .with_label_values(&["google", op])
                .get_sample_count()
        };
        assert_eq!(timed("free_busy"), 3);
        assert_eq!(timed("delete_event"), 2);
        assert_eq!(timed("create_event"), 0);

        let text = metrics.render(&OutboxSnapshot::default());
        assert!(
            text.contains(
                r#"rondo_provider_calls_total{operation="free_busy",outcome="ok",provider="google"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"rondo_provider_call_duration_seconds_count{operation="free_busy",provider="google"} 3"#),
            "{text}"
        );
        assert!(!text.contains("ann@example.com") && !text.contains(&a.id.to_string()));
    }

    #[tokio::test]
    async fn a_call_its_caller_stopped_waiting_for_counts_as_transient() {
        let metrics = Arc::new(Metrics::new());
        let fake = Fake {
            hang: true,
            ..Fake::default()
        };
        let cal = Metered::new(Arc::new(fake), "google", metrics.clone());
        let a = agent();
        let deadline = std::time::Duration::from_millis(20);
        assert!(tokio::time::timeout(deadline, cal.free_busy(&a, window()))
            .await
            .is_err());
        assert_eq!(calls(&metrics, "free_busy", "transient"), 1);
        let timed = metrics
            .provider_call_duration
            .with_label_values(&["google", "free_busy"]);
        assert_eq!(timed.get_sample_count(), 1);
        assert!(timed.get_sample_sum() >= deadline.as_secs_f64());
    }
}
