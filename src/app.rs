//! `App`: what the use cases share — the store, the calendar, mail and webhook ports, the clock, the keys —
//! built once by `lib.rs` and handed to every HTTP worker and background task.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::calendar::Calendars;
use crate::config::Config;
use crate::store::Store;

/// Where use cases read the time; tests set it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Everything a request needs, shared by all workers.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub calendars: Calendars,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Sends (or files) emails: the mail port.
    pub mailer: Arc<dyn crate::mail::MailSender>,
    /// The sender of emails (`RONDO_MAIL_FROM`).
    pub mail_from: lettre::message::Mailbox,
    /// The email templates (bundled, and agents' own are checked against it).
    pub templates: Arc<minijinja::Environment<'static>>,
    /// POSTs signed webhook deliveries: the webhook port. Its HTTP adapter follows no redirect and, unless
    /// `RONDO_WEBHOOK_ALLOW_PRIVATE`, connects to no internal address (`outbox::webhook::client`).
    pub webhooks: Arc<dyn crate::outbox::webhook_sender::WebhookSender>,
    /// Keys derived from RONDO_SECRET_KEY: sealing secrets at rest, signing connect and visitor links.
    pub keys: crate::crypto::Keys,
    /// OAuth with Google and Microsoft, and the vault of agents' tokens.
    pub oauth: Arc<crate::oauth::OAuth>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Recent free/busy per agent (availability reads it; bookings never do).
    pub freebusy: Arc<crate::calendar::cache::FreeBusyCache>,
}

impl App {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
