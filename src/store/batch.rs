//! The booking path's statements, gathered so each trip to SQLite carries many: sqlx runs a query of several
//! statements in one call to its SQLite worker thread, and on the hot path the hand-offs to that thread,
//! not SQLite's own work, are what costs (BENCHMARKS.md). `Batch` collects a meeting change with everything
//! it owes and writes it in one trip; `ClaimFacts` reads what claiming a slot needs in one trip.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::idempotency::{ClaimedKey, Recorded};
use super::jobs::encode;
use super::{rows, to_secs, Conn, NewActivity, StoreError, StoreResult};
use crate::domain::availability::Span;
use crate::domain::model::{Meeting, RoutingTrace};
use crate::outbox::Job;

/// How far before a range's start a live meeting's blocked range may begin and still reach into it (see
/// `meetings::MAX_BLOCK_SECONDS`).
use super::meetings::MAX_BLOCK_SECONDS;

enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
}

fn text(s: impl Into<String>) -> Arg {
    Arg::Text(Some(s.into()))
}

fn opt_text(s: Option<impl Into<String>>) -> Arg {
    Arg::Text(s.map(Into::into))
}

fn int(i: i64) -> Arg {
    Arg::Int(Some(i))
}

/// Statements to write in one trip, in order; each answers how many rows it changed.
#[derive(Default)]
pub struct Batch {
    sql: String,
    args: Vec<Arg>,
    statements: usize,
}

impl Batch {
    fn push(&mut self, sql: &str, args: impl IntoIterator<Item = Arg>) {
        self.sql.push_str(sql);
        self.sql.push_str(";\n");
        self.args.extend(args);
        self.statements += 1;
    }

    /// Runs every statement as one atomic step (sqlx's SQLite driver runs each statement of a query string,
    /// binding the arguments in order; the statements are wrapped in a savepoint, rolled back if one
    /// fails). Each statement here changes what it is given, so nothing is learnt from counts: whatever a
    /// statement depends on is read first, in the same transaction (`ClaimFacts`).
    pub async fn run(self, c: &mut Conn) -> StoreResult<()> {
        if self.statements == 0 {
            return Ok(());
        }
        let sql = format!("SAVEPOINT batch;\n{}RELEASE batch;", self.sql);
        let mut q = sqlx::query(&sql);
        for a in self.args {
            q = match a {
                Arg::Text(t) => q.bind(t),
                Arg::Int(i) => q.bind(i),
            };
        }
        match q.execute(&mut *c).await {
            Ok(_) => Ok(()),
            Err(failed) => {
                let undo = match sqlx::query("ROLLBACK TO batch").execute(&mut *c).await {
                    Ok(_) => sqlx::query("RELEASE batch").execute(&mut *c).await,
                    Err(e) => Err(e),
                };
                match undo {
                    Ok(_) => Err(failed.into()),
                    Err(undo) => Err(StoreError::Poisoned(format!("{failed}; undo: {undo}"))),
                }
            }
        }
    }

    /// A new meeting; with `calendar_lease`, its calendar sync lease is taken at once.
    pub fn insert_meeting(&mut self, m: &Meeting, calendar_lease: Option<DateTime<Utc>>) {
        self.push(
            "INSERT INTO meetings (id, team_id, agent_id, starts_at, ends_at, blocked_from, blocked_until, status, \
             lead_email, lead_name, lead_company, lead_timezone, lead_locale, session_id, dialogue_id, attributes, \
             routing, took_place, cancel_reason, calendar_status, video_link, created_at, updated_at, \
             calendar_agent_id, calendar_lock_until, dialogue_name, page_url) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                text(m.id.to_string()),
                text(m.team_id.to_string()),
                text(m.agent_id.to_string()),
                int(to_secs(m.start)),
                int(to_secs(m.end)),
                int(to_secs(m.blocked.start)),
                int(to_secs(m.blocked.end)),
                text(m.status.as_str()),
                text(m.visitor.email.as_str()),
                opt_text(m.visitor.name.clone()),
                opt_text(m.visitor.company.clone()),
                opt_text(m.visitor.timezone.map(|z| z.name())),
                opt_text(m.visitor.locale.clone()),
                opt_text(m.session_id.clone()),
                opt_text(m.dialogue_id.clone()),
                text(serde_json::Value::Object(m.attributes.clone()).to_string()),
                text(serde_json::to_string(&m.routing).expect("trace serializes")),
                Arg::Int(m.took_place.map(i64::from)),
                opt_text(m.cancel_reason.clone()),
                text(m.calendar_status.as_str()),
                opt_text(m.video_link.clone()),
                int(to_secs(m.created_at)),
                int(to_secs(m.updated_at)),
                text(m.agent_id.to_string()),
                Arg::Int(calendar_lease.map(to_secs)),
                opt_text(m.dialogue_name.clone()),
                opt_text(m.page_url.clone()),
            ],
        );
    }

    /// A booked meeting moved to `agent` at `start`..`end`; the calendar must follow (its version goes up).
    #[allow(clippy::too_many_arguments)]
    pub fn move_meeting(
        &mut self,
        id: Uuid,
        agent: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        blocked: Span,
        routing: &RoutingTrace,
        now: DateTime<Utc>,
    ) {
        self.push(
            "UPDATE meetings SET agent_id = ?, starts_at = ?, ends_at = ?, blocked_from = ?, blocked_until = ?, \
             routing = ?, updated_at = ?, calendar_version = calendar_version + 1 WHERE id = ?",
            [
                text(agent.to_string()),
                int(to_secs(start)),
                int(to_secs(end)),
                int(to_secs(blocked.start)),
                int(to_secs(blocked.end)),
                text(serde_json::to_string(routing).expect("trace serializes")),
                int(to_secs(now)),
                text(id.to_string()),
            ],
        );
    }

    /// The round-robin pointer: `agent` took the team's last meeting.
    pub fn set_team_pointer(&mut self, team: Uuid, agent: Uuid) {
        self.push(
            "UPDATE teams SET last_agent_id = ? WHERE id = ?",
            [text(agent.to_string()), text(team.to_string())],
        );
    }

    /// A custom rule's own pointer: `agent` took the last meeting the rule routed.
    pub fn set_rule_pointer(&mut self, team: Uuid, rule: &str, agent: Uuid) {
        self.push(
            "UPDATE routing_rules SET last_agent_id = ? WHERE team_id = ? AND name = ?",
            [text(agent.to_string()), text(team.to_string()), text(rule)],
        );
    }

    pub fn insert_activity(&mut self, a: &NewActivity) {
        self.push(
            "INSERT INTO activities (id, type, occurred_at, meeting_id, data) VALUES (?, ?, ?, ?, ?)",
            [
                text(a.id.to_string()),
                text(a.kind.as_str()),
                int(to_secs(a.occurred_at)),
                text(a.meeting_id.to_string()),
                text(a.data.to_string()),
            ],
        );
    }

    /// A pending delivery of `activity` to `endpoint`; its id.
    pub fn insert_delivery(&mut self, endpoint: Uuid, activity: Uuid, now: DateTime<Utc>) -> Uuid {
        let id = Uuid::now_v7();
        self.push(
            "INSERT INTO webhook_deliveries (id, endpoint_id, activity_id, status, created_at, updated_at) \
             VALUES (?, ?, ?, 'pending', ?, ?)",
            [
                text(id.to_string()),
                text(endpoint.to_string()),
                text(activity.to_string()),
                int(to_secs(now)),
                int(to_secs(now)),
            ],
        );
        id
    }

    /// `job`, due at `run_at`.
    pub fn insert_job(&mut self, job: &Job, run_at: DateTime<Utc>, now: DateTime<Utc>) {
        let (kind, meeting, target) = encode(job);
        self.push(
            "INSERT INTO jobs (id, kind, meeting_id, target, status, attempts, run_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
            [
                text(Uuid::now_v7().to_string()),
                text(kind),
                opt_text(meeting.map(|m| m.to_string())),
                opt_text(target),
                int(to_secs(run_at)),
                int(to_secs(now)),
                int(to_secs(now)),
            ],
        );
    }

    /// What the request did, under its key (which `ClaimFacts` found this request still holds).
    pub fn save_outcome(&mut self, claim: &ClaimedKey, outcome: &Recorded) {
        let (kind, body) = outcome.encode();
        self.push(
            "UPDATE idempotency_keys SET response_kind = ?, response_body = ? \
             WHERE scope = ? AND key = ? AND claim_token = ?",
            [
                text(kind),
                text(body),
                text(claim.scope.clone()),
                text(claim.key.clone()),
                text(claim.token().to_owned()),
            ],
        );
    }
}

/// What claiming a slot reads on the writer's connection, in one trip.
#[derive(Debug, Default)]
pub struct ClaimFacts {
    /// The agent who took the team's last meeting.
    pub pointer: Option<Uuid>,
    /// Candidates with a live meeting whose blocked range overlaps the slot's.
    pub overlapping: HashSet<Uuid>,
    /// Endpoints subscribed to the activity the change will write.
    pub endpoints: Vec<Uuid>,
    /// The team's members now, with whether each is paused (the queue the caller screened may be up to a
    /// snapshot's age old).
    pub members: HashMap<Uuid, bool>,
    /// Whether the request still holds its Idempotency-Key (its lease may have run out and a retry taken
    /// the key over); true when no key was asked about.
    pub key_held: bool,
    /// Each custom rule's pointer, by rule name.
    pub rule_pointers: HashMap<String, Uuid>,
    /// With `starts_around`: the starts of the candidates' live meetings in that range (for daily limits).
    pub starts: HashMap<Uuid, Vec<DateTime<Utc>>>,
}

impl ClaimFacts {
    /// Reads the pointer of `team`, which of `candidates` hold a live meeting overlapping `blocked` (the
    /// meeting `except` aside), the endpoints subscribed to `event` and the team's members as they are.
    /// With `key`, also whether this request still holds it; with `rules`, the team's rules' pointers; with
    /// `starts_around`, the starts of the candidates' live meetings in that range (`except` aside).
    #[allow(clippy::too_many_arguments)]
    pub async fn read(
        c: &mut Conn,
        team: Uuid,
        candidates: &[Uuid],
        blocked: Span,
        except: Option<Uuid>,
        event: &str,
        key: Option<&ClaimedKey>,
        rules: bool,
        starts_around: Option<Span>,
    ) -> StoreResult<Self> {
        let marks = vec!["?"; candidates.len().max(1)].join(",");
        let rule_pointers = if rules {
            ";\nSELECT 'rule' AS what, last_agent_id AS v, name AS events FROM routing_rules \
             WHERE team_id = ? AND last_agent_id IS NOT NULL"
        } else {
            ""
        };
        let starts = if starts_around.is_some() {
            format!(
                ";\nSELECT 'start' AS what, agent_id AS v, CAST(starts_at AS TEXT) AS events FROM meetings \
                 WHERE agent_id IN ({marks}) AND status = 'booked' AND blocked_from >= ? AND blocked_from < ? \
                 AND starts_at >= ? AND starts_at < ? AND id != ?"
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT 'key' AS what, claim_token AS v, NULL AS events FROM idempotency_keys \
             WHERE scope = ? AND key = ?;\n\
             SELECT 'pointer' AS what, last_agent_id AS v, NULL AS events FROM teams WHERE id = ?;\n\
             SELECT DISTINCT 'busy' AS what, agent_id AS v, NULL AS events FROM meetings WHERE agent_id IN ({marks}) \
             AND status = 'booked' AND blocked_from < ? AND blocked_from > ? AND blocked_until > ? AND id != ?;\n\
             SELECT 'endpoint' AS what, id AS v, events FROM webhook_endpoints \
             WHERE deleted_at IS NULL AND disabled_at IS NULL;\n\
             SELECT 'member' AS what, a.id AS v, CAST(a.paused AS TEXT) AS events FROM team_members m \
             JOIN agents a ON a.id = m.agent_id WHERE m.team_id = ? AND a.deleted_at IS NULL\
             {rule_pointers}{starts}"
        );
        let mut q = sqlx::query(&sql)
            .bind(key.map(|k| k.scope.clone()))
            .bind(key.map(|k| k.key.clone()))
            .bind(team.to_string());
        if candidates.is_empty() {
            q = q.bind(String::new());
        }
        for a in candidates {
            q = q.bind(a.to_string());
        }
        let q = q
            .bind(to_secs(blocked.end))
            .bind(to_secs(blocked.start) - MAX_BLOCK_SECONDS)
            .bind(to_secs(blocked.start))
            .bind(except.map(|u| u.to_string()).unwrap_or_default())
            .bind(team.to_string());
        let q = if rules { q.bind(team.to_string()) } else { q };
        let q = match starts_around {
            None => q,
            Some(range) => {
                let mut q = q;
                if candidates.is_empty() {
                    q = q.bind(String::new());
                }
                for a in candidates {
                    q = q.bind(a.to_string());
                }
                // A meeting's blocked range begins at most a day's buffers before its start.
                q.bind(to_secs(range.start) - MAX_BLOCK_SECONDS)
                    .bind(to_secs(range.end))
                    .bind(to_secs(range.start))
                    .bind(to_secs(range.end))
                    .bind(except.map(|u| u.to_string()).unwrap_or_default())
            }
        };
        let found: Vec<SqliteRow> = q.fetch_all(&mut *c).await?;
        let mut facts = ClaimFacts {
            key_held: key.is_none(),
            ..ClaimFacts::default()
        };
        for r in &found {
            let what: String = r.try_get("what")?;
            match what.as_str() {
                "key" => {
                    let token: Option<String> = r.try_get("v")?;
                    facts.key_held = key.is_some_and(|k| token.as_deref() == Some(k.token()));
                }
                "pointer" => {
                    let v: Option<String> = r.try_get("v")?;
                    facts.pointer = v.and_then(|s| Uuid::parse_str(&s).ok());
                }
                "busy" => {
                    facts.overlapping.insert(rows::uuid(r, "v")?);
                }
                "rule" => {
                    let name: String = r.try_get("events")?;
                    facts.rule_pointers.insert(name, rows::uuid(r, "v")?);
                }
                "start" => {
                    let at: String = r.try_get("events")?;
                    let at = at
                        .parse::<i64>()
                        .map_err(|e| StoreError::Corrupt(format!("starts_at: {e}")))?;
                    facts
                        .starts
                        .entry(rows::uuid(r, "v")?)
                        .or_default()
                        .push(super::from_secs(at));
                }
                "member" => {
                    let paused: Option<String> = r.try_get("events")?;
                    facts
                        .members
                        .insert(rows::uuid(r, "v")?, paused.as_deref() == Some("1"));
                }
                _ => {
                    let events: String = r.try_get("events")?;
                    let events: Vec<String> = serde_json::from_str(&events)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if events.iter().any(|e| e == event) {
                        facts.endpoints.push(rows::uuid(r, "v")?);
                    }
                }
            }
        }
        Ok(facts)
    }
}
