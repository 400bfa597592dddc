//! Idempotency keys of the chat API (PROVIDERS.md "Idempotency-Key"). The first request with a key claims
//! it with a lease; its final response is saved under the key; a retry gets that response again. A claim
//! whose lease ran out (the process died mid-request) may be taken over.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{from_secs, sql, to_secs, Conn, Store, StoreError, StoreResult};

/// How long keys are kept; PROVIDERS.md asks for at least 24 hours.
pub const KEY_LIFETIME_HOURS: i64 = 48;
/// How long a request may hold its key before another may take it over.
pub const LEASE_SECONDS: i64 = 60;

/// What a finished request with a key did, kept so that a retry answers the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// It booked this meeting.
    Booked { meeting: Uuid },
    /// No agent was free: these were the alternatives (their starts, the meeting's length, the visitor's
    /// zone for labelling them).
    SlotTaken {
        starts: Vec<DateTime<Utc>>,
        minutes: u32,
        timezone: Option<String>,
    },
    /// Kept by an earlier version as the answer's bytes: whether it was a booking (else a slot taken), and
    /// the JSON body as it was sent.
    Legacy { booked: bool, body: String },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAlternatives {
    starts: Vec<i64>,
    minutes: u32,
    timezone: Option<String>,
}

impl Recorded {
    pub(super) fn encode(&self) -> (&'static str, String) {
        match self {
            Recorded::Booked { meeting } => ("booked", meeting.to_string()),
            Recorded::SlotTaken {
                starts,
                minutes,
                timezone,
            } => (
                "slot_taken",
                serde_json::to_string(&StoredAlternatives {
                    starts: starts.iter().map(|t| to_secs(*t)).collect(),
                    minutes: *minutes,
                    timezone: timezone.clone(),
                })
                .expect("alternatives serialize"),
            ),
            Recorded::Legacy { .. } => unreachable!("legacy answers are only read"),
        }
    }

    fn decode(kind: Option<&str>, status: Option<i64>, body: String) -> StoreResult<Option<Self>> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("idempotent answer: {what}"));
        Ok(Some(match (kind, status) {
            (Some("booked"), _) => Recorded::Booked {
                meeting: Uuid::parse_str(&body).map_err(|_| corrupt("meeting id"))?,
            },
            (Some("slot_taken"), _) => {
                let a: StoredAlternatives =
                    serde_json::from_str(&body).map_err(|_| corrupt("alternatives"))?;
                Recorded::SlotTaken {
                    starts: a.starts.into_iter().map(from_secs).collect(),
                    minutes: a.minutes,
                    timezone: a.timezone,
                }
            }
            (Some(other), _) => return Err(corrupt(other)),
            (None, Some(status)) => Recorded::Legacy {
                booked: status == 201,
                body,
            },
            (None, None) => return Ok(None),
        }))
    }
}

/// A key this request holds: its scope, the key, and the token of this claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKey {
    pub scope: String,
    pub key: String,
    token: String,
}

impl ClaimedKey {
    pub(super) fn token(&self) -> &str {
        &self.token
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: process the request.
    Started(ClaimedKey),
    /// The first request finished: answer as it did.
    Replay(Recorded),
    /// The key was used with another body.
    Mismatch,
    /// The first request is still being processed.
    InFlight,
}

impl Store {
    /// Claims the key for this request (through the group commit: a claim is a write like any other).
    pub async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Claim> {
        let claimed = ClaimedKey {
            scope: scope.to_owned(),
            key: key.to_owned(),
            token: Uuid::now_v7().to_string(),
        };
        let hash = request_hash.to_owned();
        // A claim that starts the request (or finds another in flight) is answered before the commit: a
        // concurrent request with the key sees it on the writer's connection at once, and the booking reads
        // it again inside its own write, so a claim lost with a failed commit only turns into "in flight",
        // never into a second booking. A replay or a mismatch is a final answer read from what the batch
        // may not have committed yet: it waits for the commit.
        self.write_early(
            move |c| Box::pin(async move { claim_on(c, claimed, &hash, now).await }),
            |claim| matches!(claim, Claim::Started(_) | Claim::InFlight),
        )
        .await
    }

    /// Records what the request did under its key, in the transaction that made the change it reports.
    /// False when this request no longer holds the claim (its lease ran out and another took over): the
    /// caller must roll back.
    pub async fn save_outcome_in(
        &self,
        c: &mut Conn,
        claim: &ClaimedKey,
        outcome: &Recorded,
    ) -> StoreResult<bool> {
        let (kind, body) = outcome.encode();
        let done = sql(
            "UPDATE idempotency_keys SET response_kind = ?, response_body = ? \
             WHERE scope = ? AND key = ? AND claim_token = ?",
        )
        .bind(kind)
        .bind(body)
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(&claim.token)
        .execute(c)
        .await?;
        Ok(done == 1)
    }

    /// `save_outcome_in` on its own (an answer that changed nothing else: a slot taken).
    pub async fn save_outcome(&self, claim: &ClaimedKey, outcome: Recorded) -> StoreResult<bool> {
        let (db, claim) = (self.clone(), claim.clone());
        self.write_atomic(move |c| {
            Box::pin(async move { db.save_outcome_in(c, &claim, &outcome).await })
        })
        .await
    }

    /// Lets the key go after a failure that must not be replayed (bad input, a server error): a retry
    /// starts afresh. Only this request's own, unfinished claim is removed.
    pub async fn release_idempotency_key(&self, claim: &ClaimedKey) -> StoreResult<()> {
        sql(
            "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND claim_token = ? \
             AND response_status IS NULL AND response_kind IS NULL",
        )
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(&claim.token)
        .execute(self.direct())
        .await?;
        Ok(())
    }

    /// Forgets keys older than their lifetime.
    pub async fn purge_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        sql("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(now - Duration::hours(KEY_LIFETIME_HOURS))
            .execute(self.direct())
            .await
    }
}

/// The claim itself, on the writer's connection: a new key is one statement; anything else is decided from
/// the row as it is, locked (`Backend::for_update`) so that on PostgreSQL a request of another replica
/// deciding about the same key waits for this decision and then sees it.
async fn claim_on(
    c: &mut Conn,
    claimed: ClaimedKey,
    request_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Claim> {
    let expired_before = to_secs(now - Duration::hours(KEY_LIFETIME_HOURS));
    loop {
        if insert_claim(c, &claimed, request_hash, now, "DO NOTHING").await? {
            return Ok(Claim::Started(claimed));
        }
        let existing = sql(format!(
            "SELECT request_hash, response_kind, response_status, response_body, locked_until, created_at \
             FROM idempotency_keys WHERE scope = ? AND key = ?{}",
            c.backend().for_update()
        ))
        .bind(&claimed.scope)
        .bind(&claimed.key)
        .fetch_optional(&mut *c)
        .await?;
        // The key was released or purged by another transaction since the insert found it (PostgreSQL; on
        // SQLite the write transaction sees the row it conflicted with): claim it afresh.
        let Some(row) = existing else { continue };
        if to_secs(row.time("created_at")?) >= expired_before {
            if row.text("request_hash")? != request_hash {
                return Ok(Claim::Mismatch);
            }
            let kind = row.opt_text("response_kind")?;
            let status = row.opt_int("response_status")?;
            let body = row.opt_text("response_body")?;
            if let Some(done) = Recorded::decode(kind.as_deref(), status, body.unwrap_or_default())?
            {
                return Ok(Claim::Replay(done));
            }
            if to_secs(row.time("locked_until")?) > to_secs(now) {
                return Ok(Claim::InFlight);
            }
        }
        // Expired, or a claim whose lease ran out: take it over with a new token (the row stays locked
        // until this transaction ends).
        insert_claim(
            c,
            &claimed,
            request_hash,
            now,
            "DO UPDATE SET request_hash = excluded.request_hash, response_status = NULL, response_kind = NULL, \
             response_body = NULL, locked_until = excluded.locked_until, created_at = excluded.created_at, \
             claim_token = excluded.claim_token",
        )
        .await?;
        return Ok(Claim::Started(claimed));
    }
}

/// Writes this request's claim of the key; `on_conflict` says what an existing row gets. True when a row was
/// written.
async fn insert_claim(
    c: &mut Conn,
    claimed: &ClaimedKey,
    request_hash: &str,
    now: DateTime<Utc>,
    on_conflict: &'static str,
) -> StoreResult<bool> {
    let done = sql(format!(
        "INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body, locked_until, \
         created_at, claim_token) VALUES (?, ?, ?, NULL, NULL, ?, ?, ?) ON CONFLICT (scope, key) {on_conflict}"
    ))
    .bind(&claimed.scope)
    .bind(&claimed.key)
    .bind(request_hash)
    .bind(now + Duration::seconds(LEASE_SECONDS))
    .bind(now)
    .bind(&claimed.token)
    .execute(c)
    .await?;
    Ok(done == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_back_as_written_and_older_answers_as_they_were_sent() {
        let booked = Recorded::Booked {
            meeting: Uuid::from_u128(7),
        };
        let taken = Recorded::SlotTaken {
            starts: vec![from_secs(1_800_000_000), from_secs(1_800_001_800)],
            minutes: 30,
            timezone: Some("Europe/Amsterdam".into()),
        };
        for outcome in [booked, taken] {
            let (kind, body) = outcome.encode();
            assert_eq!(
                Recorded::decode(Some(kind), None, body).unwrap(),
                Some(outcome)
            );
        }
        // Rows an earlier version wrote: the status and the JSON it answered.
        assert_eq!(
            Recorded::decode(None, Some(201), "{\"id\":1}".into()).unwrap(),
            Some(Recorded::Legacy {
                booked: true,
                body: "{\"id\":1}".into()
            })
        );
        assert_eq!(
            Recorded::decode(None, Some(409), "{}".into()).unwrap(),
            Some(Recorded::Legacy {
                booked: false,
                body: "{}".into()
            })
        );
        // Still in flight, or written by something else.
        assert_eq!(Recorded::decode(None, None, String::new()).unwrap(), None);
        assert!(Recorded::decode(Some("booked"), None, "not a uuid".into()).is_err());
        assert!(Recorded::decode(Some("refunded"), None, String::new()).is_err());
    }
}
