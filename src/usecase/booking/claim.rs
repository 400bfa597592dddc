//! Claiming a slot for one of a team's candidates: the one routine behind booking, moving (by the chat
//! service or on the visitor's page).
//!
//! First every candidate is screened outside the write lock: paused, disconnected, outside hours, or busy in
//! its calendar (read live, concurrently; DESIGN.md "Double booking"). Then, on the writer's connection,
//! the candidates are tried in routing order — the visitor's account owner, the agents of the rules the
//! visitor matches, then the rotation, each from its pointer as it is at that moment, after the meeting's
//! own agent when a move keeps it if it can — and the first screened-free one that is not paused, not at
//! its daily limit and has no overlapping live meeting takes the slot. Passed-over candidates are kept with
//! their reason (and the step that asked them) for the routing trace.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::super::availability::{calendar_blocks, widen, Read};
use crate::app::App;
use crate::domain::availability::{check_slot, SlotCheck, SlotPolicy, Span};
use crate::domain::limits::{self, DailyLimit};
use crate::domain::model::{ActivityType, Agent, Meeting, RoutingTrace, SkippedAgent};
use crate::domain::routing::{
    self, classify, Ask, CandidateState, RoutingStep, RoutingTable, SkipReason, VisitorFacts,
};
use crate::error::AppResult;
use crate::store::{Batch, ClaimFacts, ClaimedKey, Conn, StoreError, StoreResult};

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
    /// Routing for the visitor: the account owner, the agents of the rules the visitor matches, then the
    /// team's rotation (DESIGN.md "Round robin").
    Route(VisitorFacts),
    /// This agent first (a moved meeting stays with its agent when it can); then, with `then`, routing for
    /// that visitor.
    AgentFirst {
        agent: Uuid,
        then: Option<VisitorFacts>,
    },
}

/// The routing step that chose, and the rule's name when a rule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chosen {
    pub step: RoutingStep,
    pub rule: Option<String>,
}

/// Who took the slot, and who was passed over before.
pub(super) struct Claimed {
    pub agent: Option<Agent>,
    /// The routing step that chose `agent`; None when the meeting's own agent kept it.
    pub chosen: Option<Chosen>,
    /// The listed account domain the visitor matched.
    pub account: Option<String>,
    pub skipped: Vec<SkippedAgent>,
    /// The webhook endpoints subscribed to the change's activity (read in the same trip).
    pub endpoints: Vec<Uuid>,
}

impl Claimed {
    /// Moves the pointer of the step that chose: the team's for the rotation, the rule's for a rule (an
    /// account owner takes its accounts' meetings outside any rotation).
    pub fn move_pointer(&self, batch: &mut Batch, team: Uuid) {
        let (Some(agent), Some(chosen)) = (&self.agent, &self.chosen) else {
            return;
        };
        match (chosen.step, &chosen.rule) {
            (RoutingStep::RoundRobin, _) => batch.set_team_pointer(team, agent.id),
            (RoutingStep::Rule, Some(rule)) => batch.set_rule_pointer(team, rule, agent.id),
            _ => {}
        }
    }

    /// The decision trace of a meeting this claim routed.
    pub fn trace(&self) -> Option<RoutingTrace> {
        let chosen = self.chosen.as_ref()?;
        Some(RoutingTrace {
            step: chosen.step,
            rule: chosen.rule.clone(),
            account: self.account.clone(),
            skipped: self.skipped.clone(),
        })
    }
}

/// A slot to claim: the team, its queue and routing table, the screening, the meeting's start and blocked
/// range, and the meeting being moved.
pub(super) struct Slot {
    pub team: Uuid,
    /// The team's daily limit (an agent's own overrides it).
    pub daily_limit: Option<DailyLimit>,
    pub queue: Vec<Agent>,
    pub routing: Arc<RoutingTable>,
    pub verdicts: Verdicts,
    pub start: DateTime<Utc>,
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
    let limit_of = |a: &Agent| limits::effective(a.daily_limit, slot.daily_limit);
    let limited = slot.queue.iter().any(|a| limit_of(a).is_some());
    let facts = ClaimFacts::read(
        c,
        slot.team,
        &screened_free,
        slot.blocked,
        slot.moving,
        event.as_str(),
        key,
        // Without rules in the table the claim asks none, so their pointers are not read.
        !slot.routing.rules.is_empty(),
        limited.then(|| limits::any_zone_day_around(slot.start)),
    )
    .await?;
    if !facts.key_held {
        // Our lease on the key ran out and a retry took it over: it books, we do not.
        return Err(StoreError::Abandoned("the Idempotency-Key was taken over"));
    }
    // (agent, the step asking it: None for a moved meeting's own agent)
    let mut tries: Vec<(Agent, Option<Ask>)> = Vec::new();
    let (first, visitor) = match order {
        Order::Route(visitor) => (None, Some(visitor)),
        Order::AgentFirst { agent, then } => (Some(agent), then),
    };
    if let Some(a) = first.and_then(|id| slot.queue.iter().find(|a| a.id == id)) {
        tries.push((a.clone(), None));
    }
    let mut skipped = Vec::new();
    let mut account = None;
    if let Some(visitor) = visitor {
        let ids: Vec<Uuid> = slot.queue.iter().map(|a| a.id).collect();
        let plan = routing::plan(&slot.routing, &visitor, &ids, facts.pointer, |rule| {
            facts.rule_pointers.get(rule).copied()
        });
        account = plan.account;
        if let Some(owner) = plan.owner_not_in_team {
            skipped.push(SkippedAgent {
                agent_id: owner,
                reason: SkipReason::OwnerNotInTeam,
                step: Some(RoutingStep::Account),
                rule: None,
            });
        }
        let by_id: HashMap<Uuid, &Agent> = slot.queue.iter().map(|a| (a.id, a)).collect();
        tries.extend(
            plan.asks
                .into_iter()
                .filter(|ask| Some(ask.agent) != first)
                .filter_map(|ask| Some(((*by_id.get(&ask.agent)?).clone(), Some(ask)))),
        );
    }
    // Who left the team (or was deleted) since the queue was read is no candidate any more; who was paused
    // since is skipped as paused.
    tries.retain(|(a, _)| facts.members.contains_key(&a.id));
    let no_starts = Vec::new();
    for (agent, ask) in tries {
        let full = || {
            limit_of(&agent).is_some_and(|limit| {
                let starts = facts.starts.get(&agent.id).unwrap_or(&no_starts);
                limits::is_full(agent.zone.tz(), limit, starts, slot.start)
            })
        };
        let verdict = match slot.verdicts.get(&agent.id) {
            Some(Ok(())) if facts.members.get(&agent.id) == Some(&true) => Err(SkipReason::Paused),
            Some(Ok(())) if full() => Err(SkipReason::DailyLimit),
            Some(Ok(())) if facts.overlapping.contains(&agent.id) => Err(SkipReason::Busy),
            Some(v) => *v,
            None => Err(SkipReason::Busy),
        };
        let rule = |ask: &Ask| ask.rule.map(|i| slot.routing.rules[i].name.clone());
        match verdict {
            Ok(()) => {
                let chosen = ask.as_ref().map(|ask| Chosen {
                    step: ask.step,
                    rule: rule(ask),
                });
                return Ok(Claimed {
                    agent: Some(agent),
                    chosen,
                    account,
                    skipped,
                    endpoints: facts.endpoints,
                });
            }
            Err(reason) => skipped.push(SkippedAgent {
                agent_id: agent.id,
                reason: match ask.as_ref().map(|a| a.step) {
                    Some(RoutingStep::Account) => reason.for_owner(),
                    _ => reason,
                },
                step: ask.as_ref().map(|a| a.step),
                rule: ask.as_ref().and_then(rule),
            }),
        }
    }
    Ok(Claimed {
        agent: None,
        chosen: None,
        account,
        skipped,
        endpoints: facts.endpoints,
    })
}
