//! Recording a change to a meeting and the effects it owes, in the change's own transaction: the activity
//! for marketing automation (and one webhook delivery per subscribed endpoint), the calendar sync, and the
//! visitor's email for this version of the meeting. Book, cancel and move all end here.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::domain::model::{activity_data, ActivityType, Agent, Meeting};
use crate::mail::render::MailKind;
use crate::outbox::{self, Job};
use crate::store::{Conn, NewActivity, Store, StoreResult};

/// A change to record: what happened to the meeting, and which email it owes the visitor.
pub(super) struct Change<'a> {
    pub kind: ActivityType,
    pub meeting: &'a Meeting,
    pub agent: &'a Agent,
    pub mail: MailKind,
    pub now: DateTime<Utc>,
}

pub(super) async fn record(c: &mut Conn, store: &Store, change: Change<'_>) -> StoreResult<()> {
    let Change {
        kind,
        meeting,
        agent,
        mail,
        now,
    } = change;
    let activity = NewActivity {
        id: Uuid::now_v7(),
        kind,
        occurred_at: now,
        meeting_id: meeting.id,
        data: activity_data(meeting, agent),
    };
    store.insert_activity_in(c, &activity).await?;
    for endpoint in store.endpoints_for_in(c, kind.as_str()).await? {
        let delivery = store
            .insert_delivery_in(c, endpoint, activity.id, now)
            .await?;
        store
            .insert_job_in(c, &Job::WebhookDelivery { delivery }, now, now)
            .await?;
    }
    // The calendar is synced inline right after the commit; the job is the path of record. The email waits
    // a few seconds, so it usually carries the video link.
    let later = now + Duration::seconds(outbox::FIRST_RUN_DELAY_SECONDS);
    let calendar = Job::CalendarSync {
        meeting: meeting.id,
    };
    store.insert_job_in(c, &calendar, later, now).await?;
    let email = Job::Email {
        meeting: meeting.id,
        kind: mail,
        version: meeting.calendar_version,
    };
    store.insert_job_in(c, &email, later, now).await?;
    Ok(())
}
