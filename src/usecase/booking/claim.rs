//! Claiming a slot for one of a team's candidates: the one routine behind booking, moving (by the chat
//! service or on the visitor's page).
//!
//! First every candidate is screened outside the write lock: paused, disconnected, outside hours, or busy in
//! its calendar (read live, concurrently; DESIGN.md "Double booking"). Then, on the writer's connection,
//! the candidates are tried in order — the rotation from the pointer as it is at that moment, after the
//! meeting's own agent when a move keeps it if it can — and the first screened-free one with no overlapping
//! live meeting takes the slot. Passed-over candidates are kept with their reason for the routing trace.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::super::availability::{calendar_blocks, ordered_candidates, widen, Read};
use crate::app::App;
use crate::domain::availability::{check_slot, SlotCheck, SlotPolicy, Span};
use crate::domain::model::{ActivityType, Agent, Meeting, SkippedAgent};
use crate::domain::routing::{classify, CandidateState, SkipReason};
use crate::error::AppResult;
use crate::store::{ClaimFacts, ClaimedKey, Conn, StoreError, StoreResult};

/// What screening found for each candidate: free, or why not.
pub(super) type Verdicts = HashMap<Uuid, Result<(), SkipReason>>;

/// Screens `agents` for a meeting at `start`. A calendar that cannot be read counts as busy: never book
/// blind. `moving` is the meeting being moved, which is not in its own way.
pub(super) async fn screen(
    app: &App,
    agents: &[Agent],
    policy: &SlotPolicy,
    start: DateTime<Utc>,
    moving: Option<&Meeting>,
) -> AppResult<Verdicts> {
    let mut verdicts = HashMap::new();
    let mut still_in = Vec::new();
    for agent in agents {
        let state = CandidateState {
            paused: agent.paused,
            connected: agent.connected(),
            slot: check_slot(&agent.calendar_view(&[]), policy, start),
        };
        match classify(&state) {
            Err(reason) => {
                verdicts.insert(agent.id, Err(reason));
            }
            Ok(()) => still_in.push(agent.clone()),
        }
    }
    let slot = Span {
        start,
        end: start + Duration::minutes(policy.meeting_minutes as i64),
    };
    // The calendars only: rondo's own meetings are checked by `claim`, inside the write.
    let mut busy = calendar_blocks(app, &still_in, widen(slot, policy), Read::Live).await;
    for agent in still_in {
        let verdict = match busy.blocks.remove(&agent.id) {
            None if busy.disconnected.contains(&agent.id) => Err(SkipReason::Disconnected),
            None => Err(SkipReason::Busy),
            Some(mut blocks) => {
                if let Some(m) = moving.filter(|m| m.agent_id == agent.id) {
                    // The meeting being moved: drop its event and its blocked range.
                    let own_event = Span {
                        start: m.start,
                        end: m.end,
                    };
                    blocks.retain(|b| *b != own_event && *b != m.blocked);
                }
                match check_slot(&agent.calendar_view(&blocks), policy, start) {
                    SlotCheck::Free => Ok(()),
                    SlotCheck::Busy => Err(SkipReason::Busy),
                    SlotCheck::OutsideHours => Err(SkipReason::OutsideHours),
                }
            }
        };
        verdicts.insert(agent.id, verdict);
    }
    Ok(verdicts)
}

/// The order candidates are tried in.
pub(super) enum Order {
    /// The team's rotation, from the agent after the pointer.
    Rotation,
    /// This agent first (a moved meeting stays with its agent when it can); then, with `rotation`, the
    /// others in rotation order.
    AgentFirst { agent: Uuid, rotation: bool },
}

/// Who took the slot, and who was passed over before.
pub(super) struct Claimed {
    pub agent: Option<Agent>,
    /// True when the rotation chose (the pointer then moves to `agent`).
    pub by_rotation: bool,
    pub skipped: Vec<SkippedAgent>,
    /// The webhook endpoints subscribed to the change's activity (read in the same trip).
    pub endpoints: Vec<Uuid>,
}

/// A slot to claim: the team, its queue, the screening, the blocked range, and the meeting being moved.
pub(super) struct Slot {
    pub team: Uuid,
    pub queue: Vec<Agent>,
    pub verdicts: Verdicts,
    pub blocked: Span,
    pub moving: Option<Uuid>,
}

/// Tries the candidates in `order` on the writer's connection (see the module's doc). `event` is the
/// activity the change will record, whose subscribed endpoints are read along.
pub(super) async fn claim(
    c: &mut Conn,
    slot: Slot,
    order: Order,
    event: ActivityType,
    key: Option<&ClaimedKey>,
) -> StoreResult<Claimed> {
    let screened_free: Vec<Uuid> = slot
        .verdicts
        .iter()
        .filter(|(_, v)| v.is_ok())
        .map(|(id, _)| *id)
        .collect();
    let facts = ClaimFacts::read(
        c,
        slot.team,
        &screened_free,
        slot.blocked,
        slot.moving,
        event.as_str(),
        key,
    )
    .await?;
    if !facts.key_held {
        // Our lease on the key ran out and a retry took it over: it books, we do not.
        return Err(StoreError::Abandoned("the Idempotency-Key was taken over"));
    }
    let mut tries: Vec<(Agent, bool)> = Vec::new();
    let rotation = match order {
        Order::Rotation => true,
        Order::AgentFirst { agent, rotation } => {
            if let Some(a) = slot.queue.iter().find(|a| a.id == agent) {
                tries.push((a.clone(), false));
            }
            rotation
        }
    };
    if rotation {
        let first = tries.first().map(|(a, _)| a.id);
        tries.extend(
            ordered_candidates(facts.pointer, slot.queue)
                .into_iter()
                .filter(|a| Some(a.id) != first)
                .map(|a| (a, true)),
        );
    }
    let mut skipped = Vec::new();
    // Who left the team (or was deleted) since the queue was read is no candidate any more; who was paused
    // since is skipped as paused.
    tries.retain(|(a, _)| facts.members.contains_key(&a.id));
    for (agent, by_rotation) in tries {
        let verdict = match slot.verdicts.get(&agent.id) {
            Some(Ok(())) if facts.members.get(&agent.id) == Some(&true) => Err(SkipReason::Paused),
            Some(Ok(())) if facts.overlapping.contains(&agent.id) => Err(SkipReason::Busy),
            Some(v) => *v,
            None => Err(SkipReason::Busy),
        };
        match verdict {
            Ok(()) => {
                return Ok(Claimed {
                    agent: Some(agent),
                    by_rotation,
                    skipped,
                    endpoints: facts.endpoints,
                })
            }
            Err(reason) => skipped.push(SkippedAgent {
                agent_id: agent.id,
                reason,
            }),
        }
    }
    Ok(Claimed {
        agent: None,
        by_rotation: false,
        skipped,
        endpoints: facts.endpoints,
    })
}
