//! Cached free/busy per agent, so an availability answer does not wait on N provider calls. An entry is
//! served while it is younger than `RONDO_FREEBUSY_TTL_SECONDS` and covers the asked range; a background
//! task refreshes the agents in rotation before their entries go stale. While a provider is down, an entry
//! up to `RONDO_FREEBUSY_STALE_LIMIT_SECONDS` old is still served (and counted as stale); older ones are not.
//! A cache only: bookings re-read the chosen agent's calendar live, and nothing needs it for correctness.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, DurationRound, Utc};
use uuid::Uuid;

use crate::domain::availability::Span;

/// How far ahead a fetch for the cache reaches (covering the usual two-week availability windows and the
/// default 30-day horizon, so one provider call serves many different windows).
pub const FETCH_AHEAD_DAYS: i64 = 35;

#[derive(Clone)]
struct Entry {
    range: Span,
    blocks: Arc<Vec<Span>>,
    fetched_at: DateTime<Utc>,
}

pub enum Lookup {
    /// Younger than the TTL.
    Fresh(Arc<Vec<Span>>),
    /// Older than the TTL but within the stale limit: usable only if a fresh read fails.
    Stale(Arc<Vec<Span>>),
    Missing,
}

pub struct FreeBusyCache {
    entries: Mutex<HashMap<Uuid, Entry>>,
    ttl: Duration,
    stale_limit: Duration,
}

impl FreeBusyCache {
    pub fn new(ttl_seconds: u64, stale_limit_seconds: u64) -> Self {
        Self {
            entries: Mutex::default(),
            ttl: Duration::seconds(ttl_seconds as i64),
            stale_limit: Duration::seconds(stale_limit_seconds.max(ttl_seconds) as i64),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The range to fetch when `asked` is not cached: from the start of the hour (or the ask, if earlier)
    /// to `FETCH_AHEAD_DAYS` ahead (or the ask's end, if later).
    pub fn fetch_range(asked: Span, now: DateTime<Utc>) -> Span {
        let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        Span {
            start: asked.start.min(hour),
            end: asked.end.max(hour + Duration::days(FETCH_AHEAD_DAYS)),
        }
    }

    pub fn get(&self, agent: Uuid, asked: Span, now: DateTime<Utc>) -> Lookup {
        let entries = self.entries.lock().expect("free/busy cache");
        let Some(e) = entries.get(&agent) else {
            return Lookup::Missing;
        };
        if e.range.start > asked.start || e.range.end < asked.end {
            return Lookup::Missing;
        }
        let age = now - e.fetched_at;
        if age <= self.ttl {
            Lookup::Fresh(e.blocks.clone())
        } else if age <= self.stale_limit {
            Lookup::Stale(e.blocks.clone())
        } else {
            Lookup::Missing
        }
    }

    /// Whether the agent's entry should be refreshed now (missing, or past half its TTL).
    pub fn due(&self, agent: Uuid, now: DateTime<Utc>) -> bool {
        let entries = self.entries.lock().expect("free/busy cache");
        entries.get(&agent).is_none_or(|e| {
            now - e.fetched_at >= self.ttl / 2
                || e.range.end < now + Duration::days(FETCH_AHEAD_DAYS - 1)
        })
    }

    pub fn put(&self, agent: Uuid, range: Span, blocks: Vec<Span>, now: DateTime<Utc>) {
        let mut entries = self.entries.lock().expect("free/busy cache");
        if entries.len() > 50_000 {
            entries.retain(|_, e| now - e.fetched_at <= self.stale_limit);
        }
        entries.insert(
            agent,
            Entry {
                range,
                blocks: Arc::new(blocks),
                fetched_at: now,
            },
        );
    }

    /// Drops an agent's entry (its calendar changed hands: a reconnect or disconnect).
    pub fn forget(&self, agent: Uuid) {
        self.entries.lock().expect("free/busy cache").remove(&agent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    #[test]
    fn entries_are_fresh_then_stale_then_gone() {
        let c = FreeBusyCache::new(60, 900);
        let a = Uuid::now_v7();
        let asked = Span {
            start: at(9),
            end: at(17),
        };
        assert!(matches!(c.get(a, asked, at(8)), Lookup::Missing));
        let range = FreeBusyCache::fetch_range(asked, at(8));
        c.put(a, range, vec![asked], at(8));
        assert!(matches!(
            c.get(a, asked, at(8) + Duration::seconds(60)),
            Lookup::Fresh(_)
        ));
        assert!(matches!(
            c.get(a, asked, at(8) + Duration::seconds(61)),
            Lookup::Stale(_)
        ));
        assert!(matches!(
            c.get(a, asked, at(8) + Duration::seconds(901)),
            Lookup::Missing
        ));
        let beyond = Span {
            start: at(9),
            end: at(9) + Duration::days(40),
        };
        assert!(matches!(c.get(a, beyond, at(8)), Lookup::Missing));
        assert!(!c.due(a, at(8) + Duration::seconds(29)));
        assert!(c.due(a, at(8) + Duration::seconds(30)));
    }
}
