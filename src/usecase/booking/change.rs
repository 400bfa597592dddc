//! Recording a change to a meeting and the effects it owes, in the change's own write: the activity for
//! marketing automation (and one webhook delivery per subscribed endpoint), the calendar sync, and the
//! visitor's email for this version of the meeting. Book, cancel and move all end here.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::domain::model::{activity_data, ActivityType, Agent, Meeting};
use crate::mail::render::MailKind;
use crate::outbox::{self, Job};
use crate::store::{Batch, NewActivity};

/// A change to record: what happened to the meeting (as it is after the change), and which email it owes
/// the visitor.
pub(super) struct Change<'a> {
    pub kind: ActivityType,
    pub meeting: &'a Meeting,
    pub agent: &'a Agent,
    pub mail: MailKind,
    pub now: DateTime<Utc>,
}

/// Adds the change's activity, its deliveries to `endpoints` (those subscribed to it) and its jobs to
/// `batch`.
pub(super) fn record(batch: &mut Batch, change: Change<'_>, endpoints: &[Uuid]) {
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
    batch.insert_activity(&activity);
    for endpoint in endpoints {
        let delivery = batch.insert_delivery(*endpoint, activity.id, now);
        batch.insert_job(&Job::WebhookDelivery { delivery }, now, now);
    }
    // The calendar is synced inline right after the commit; the job is the path of record. The email waits
    // a few seconds, so it usually carries the video link.
    let later = now + Duration::seconds(outbox::FIRST_RUN_DELAY_SECONDS);
    batch.insert_job(
        &Job::CalendarSync {
            meeting: meeting.id,
        },
        later,
        now,
    );
    let email = Job::Email {
        meeting: meeting.id,
        kind: mail,
        version: meeting.calendar_version,
    };
    batch.insert_job(&email, later, now);
}
