//! The booking path's statements, gathered so each trip to SQLite carries many: sqlx runs a query of several
//! statements in one call to its SQLite worker thread, and on the hot path the hand-offs to that thread,
//! not SQLite's own work, are what costs (BENCHMARKS.md). `Batch` collects a meeting change with everything
//! it owes and writes it in one trip; `ClaimFacts` reads what claiming a slot needs in one trip (on
//! PostgreSQL, after locking the team's row).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::idempotency::{ClaimedKey, Recorded};
use super::jobs::encode;
use super::sql::Arg;
use super::{map_overlap, sql, Backend, Conn, NewActivity, StoreError, StoreResult};
use crate::domain::availability::Span;
use crate::domain::model::{Meeting, RoutingTrace};
use crate::outbox::Job;

/// How far before a range's start a live meeting's blocked range may begin and still reach into it (see
/// `meetings::MAX_BLOCK_SECONDS`).
use super::meetings::MAX_BLOCK_SECONDS;

fn json(text: String) -> Arg {
    Arg::Json(Some(text))
}

/// Statements to write in one trip, in order.
#[derive(Default)]
pub struct Batch {
    statements: Vec<(&'static str, Vec<Arg>)>,
}

impl Batch {
    fn push<const N: usize>(&mut self, sql: &'static str, args: [Arg; N]) {
        self.statements.push((sql, args.into()));
    }

    /// Runs every statement as one atomic step. Each statement here changes what it is given, so nothing
    /// is learnt from counts: whatever a statement depends on is read first, in the same transaction
    /// (`ClaimFacts`).
    ///
    /// On SQLite the statements go in one trip (sqlx's SQLite driver runs each statement of a query
    /// string, binding the arguments in order), wrapped in a savepoint that is rolled back if one fails. On
    /// PostgreSQL, which prepares one statement at a time, they run one after another in the caller's
    /// transaction, which a failure aborts as a whole; a meeting refused by `meetings_no_overlap` is
    /// `StoreError::Overlap`.
    pub async fn run(self, c: &mut Conn) -> StoreResult<()> {
        if self.statements.is_empty() {
            return Ok(());
        }
        if c.backend() == Backend::Postgres {
            // One statement, one trip: each write is a data-modifying part of a `WITH`. They change
            // different rows, and foreign keys are checked at the statement's end, so a delivery may name
            // the activity written beside it.
            let mut text = String::from("WITH ");
            let mut all = Vec::new();
            for (i, (statement, args)) in self.statements.into_iter().enumerate() {
                if i > 0 {
                    text.push_str(",\n");
                }
                text.push_str(&format!("w{i} AS ({statement})"));
                all.extend(args);
            }
            text.push_str("\nSELECT 1");
            sql(text)
                .bind_all(all)
                .execute(&mut *c)
                .await
                .map_err(map_overlap)?;
            return Ok(());
        }
        let mut text = String::from("SAVEPOINT batch;\n");
        let mut all = Vec::new();
        for (statement, args) in self.statements {
            text.push_str(statement);
            text.push_str(";\n");
            all.extend(args);
        }
        text.push_str("RELEASE batch;");
        match sql(text).bind_all(all).execute(&mut *c).await {
            Ok(_) => Ok(()),
            Err(failed) => {
                let undo = match sql("ROLLBACK TO batch").execute(&mut *c).await {
                    Ok(_) => sql("RELEASE batch").execute(&mut *c).await,
                    Err(e) => Err(e),
                };
                match undo {
                    Ok(_) => Err(failed),
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
                m.id.into(),
                m.team_id.into(),
                m.agent_id.into(),
                m.start.into(),
                m.end.into(),
                m.blocked.start.into(),
                m.blocked.end.into(),
                Arg::from(m.status.as_str()),
                Arg::from(m.visitor.email.as_str()),
                Arg::from(m.visitor.name.clone()),
                Arg::from(m.visitor.company.clone()),
                Arg::from(m.visitor.timezone.map(|z| z.name())),
                Arg::from(m.visitor.locale.clone()),
                Arg::from(m.session_id.clone()),
                Arg::from(m.dialogue_id.clone()),
                json(serde_json::Value::Object(m.attributes.clone()).to_string()),
                json(serde_json::to_string(&m.routing).expect("trace serializes")),
                m.took_place.into(),
                Arg::from(m.cancel_reason.clone()),
                Arg::from(m.calendar_status.as_str()),
                Arg::from(m.video_link.clone()),
                m.created_at.into(),
                m.updated_at.into(),
                m.agent_id.into(),
                calendar_lease.into(),
                Arg::from(m.dialogue_name.clone()),
                Arg::from(m.page_url.clone()),
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
                agent.into(),
                start.into(),
                end.into(),
                blocked.start.into(),
                blocked.end.into(),
                json(serde_json::to_string(routing).expect("trace serializes")),
                now.into(),
                id.into(),
            ],
        );
    }

    /// The round-robin pointer: `agent` took the team's last meeting.
    pub fn set_team_pointer(&mut self, team: Uuid, agent: Uuid) {
        self.push(
            "UPDATE teams SET last_agent_id = ? WHERE id = ?",
            [agent.into(), team.into()],
        );
    }

    /// A custom rule's own pointer: `agent` took the last meeting the rule routed.
    pub fn set_rule_pointer(&mut self, team: Uuid, rule: &str, agent: Uuid) {
        self.push(
            "UPDATE routing_rules SET last_agent_id = ? WHERE team_id = ? AND name = ?",
            [agent.into(), team.into(), Arg::from(rule)],
        );
    }

    pub fn insert_activity(&mut self, a: &NewActivity) {
        self.push(
            "INSERT INTO activities (id, type, occurred_at, meeting_id, data) VALUES (?, ?, ?, ?, ?)",
            [
                a.id.into(),
                Arg::from(a.kind.as_str()),
                a.occurred_at.into(),
                a.meeting_id.into(),
                json(a.data.to_string()),
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
                id.into(),
                endpoint.into(),
                activity.into(),
                now.into(),
                now.into(),
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
                Uuid::now_v7().into(),
                Arg::from(kind),
                meeting.into(),
                Arg::from(target),
                run_at.into(),
                now.into(),
                now.into(),
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
                Arg::from(kind),
                Arg::from(body),
                Arg::from(claim.scope.clone()),
                Arg::from(claim.key.clone()),
                Arg::from(claim.token().to_owned()),
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
        let backend = c.backend();
        if backend == Backend::Postgres {
            // The request's key first (claims lock only the key): a retry on another replica that takes
            // over a lapsed claim waits for this booking to end, or this booking sees it was taken over.
            if let Some(k) = key {
                sql("SELECT claim_token FROM idempotency_keys WHERE scope = ? AND key = ? FOR UPDATE")
                    .bind(k.scope.as_str())
                    .bind(k.key.as_str())
                    .fetch_optional(&mut *c)
                    .await?;
            }
            // The team's row is the rotation's lock: bookings of one team, on any replica, take turns from
            // here to their commit, and each reads the pointer and the calendars the one before it left.
            // The candidates' rows are locked with it, in one order everywhere (rows are locked as they
            // leave the sort: the team's, then the agents' by id), so a booking of another team that shares
            // an agent waits here and then sees this one's meeting, and no two bookings deadlock.
            // `meetings_no_overlap` stays the last word if anything slips past.
            let text = if candidates.is_empty() {
                "SELECT t.id FROM teams t WHERE t.id = ? FOR UPDATE".to_owned()
            } else {
                let marks = vec!["?"; candidates.len()].join(",");
                format!(
                    "SELECT t.id FROM teams t JOIN agents a ON a.id IN ({marks}) WHERE t.id = ? \
                     ORDER BY a.id FOR UPDATE"
                )
            };
            sql(text)
                .bind_all(candidates)
                .bind(team)
                .fetch_all(&mut *c)
                .await?;
            // A meeting being moved: a cancel that commits meanwhile is seen (the move is abandoned), and
            // one that comes later waits for the move.
            if let Some(moving) = except {
                sql("SELECT id FROM meetings WHERE id = ? FOR UPDATE")
                    .bind(moving)
                    .fetch_optional(&mut *c)
                    .await?;
            }
        }
        // No candidate: a list that matches nothing.
        let candidates = if candidates.is_empty() {
            &[Uuid::nil()][..]
        } else {
            candidates
        };
        let marks = vec!["?"; candidates.len()].join(",");
        let except = except.unwrap_or(Uuid::nil());
        let rule_pointers = if rules {
            "\nUNION ALL SELECT 'rule', CAST(last_agent_id AS TEXT), name FROM routing_rules \
             WHERE team_id = ? AND last_agent_id IS NOT NULL"
        } else {
            ""
        };
        let starts = if starts_around.is_some() {
            format!(
                "\nUNION ALL SELECT 'start', CAST(agent_id AS TEXT), CAST({} AS TEXT) FROM meetings \
                 WHERE agent_id IN ({marks}) AND status = 'booked' AND blocked_from >= ? AND blocked_from < ? \
                 AND starts_at >= ? AND starts_at < ? AND id != ?",
                backend.epoch("starts_at")
            )
        } else {
            String::new()
        };
        // One statement (PostgreSQL prepares one at a time), one trip.
        let text = format!(
            "SELECT 'key' AS what, claim_token AS v, CAST(NULL AS TEXT) AS events FROM idempotency_keys \
             WHERE scope = ? AND key = ?\n\
             UNION ALL SELECT 'pointer', CAST(last_agent_id AS TEXT), NULL FROM teams WHERE id = ?\n\
             UNION ALL SELECT DISTINCT 'busy', CAST(agent_id AS TEXT), NULL FROM meetings \
             WHERE agent_id IN ({marks}) AND status = 'booked' AND blocked_from < ? AND blocked_from > ? \
             AND blocked_until > ? AND id != ?\n\
             UNION ALL SELECT 'endpoint', CAST(id AS TEXT), CAST(events AS TEXT) FROM webhook_endpoints \
             WHERE deleted_at IS NULL AND disabled_at IS NULL\n\
             UNION ALL SELECT 'member', CAST(a.id AS TEXT), CAST(a.paused AS TEXT) FROM team_members m \
             JOIN agents a ON a.id = m.agent_id WHERE m.team_id = ? AND a.deleted_at IS NULL\
             {rule_pointers}{starts}"
        );
        let margin = Duration::seconds(MAX_BLOCK_SECONDS);
        let mut q = sql(text)
            .bind(key.map(|k| k.scope.clone()))
            .bind(key.map(|k| k.key.clone()))
            .bind(team)
            .bind_all(candidates)
            .bind(blocked.end)
            .bind(blocked.start - margin)
            .bind(blocked.start)
            .bind(except)
            .bind(team);
        if rules {
            q = q.bind(team);
        }
        if let Some(range) = starts_around {
            // A meeting's blocked range begins at most a day's buffers before its start.
            q = q
                .bind_all(candidates)
                .bind(range.start - margin)
                .bind(range.end)
                .bind(range.start)
                .bind(range.end)
                .bind(except);
        }
        let found = q.fetch_all(&mut *c).await?;
        let mut facts = ClaimFacts {
            key_held: key.is_none(),
            ..ClaimFacts::default()
        };
        for r in &found {
            let what = r.text("what")?;
            match what.as_str() {
                "key" => {
                    let token = r.opt_text("v")?;
                    facts.key_held = key.is_some_and(|k| token.as_deref() == Some(k.token()));
                }
                "pointer" => facts.pointer = r.opt_uuid("v")?,
                "busy" => {
                    facts.overlapping.insert(r.uuid("v")?);
                }
                "rule" => {
                    facts.rule_pointers.insert(r.text("events")?, r.uuid("v")?);
                }
                "start" => {
                    let at = r.text("events")?;
                    let at = at
                        .parse::<i64>()
                        .map_err(|e| StoreError::Corrupt(format!("starts_at: {e}")))?;
                    facts
                        .starts
                        .entry(r.uuid("v")?)
                        .or_default()
                        .push(super::from_secs(at));
                }
                "member" => {
                    // SQLite's flag reads "1", PostgreSQL's boolean "true".
                    let paused = r.opt_text("events")?;
                    let paused = matches!(paused.as_deref(), Some("1" | "true"));
                    facts.members.insert(r.uuid("v")?, paused);
                }
                _ => {
                    let events: Vec<String> = serde_json::from_str(&r.text("events")?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if events.iter().any(|e| e == event) {
                        facts.endpoints.push(r.uuid("v")?);
                    }
                }
            }
        }
        Ok(facts)
    }
}
