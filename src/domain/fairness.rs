//! Fairness at a glance (issue 15): how a team's meetings were shared among its agents over a window, and
//! why agents were passed over, counted from the meetings' routing traces. Pure counting; the caller reads
//! the meetings routed in the window (see `store::fairness`) and shows the result.

use std::collections::HashMap;

use uuid::Uuid;

use super::model::{MeetingStatus, RoutingTrace};
use super::routing::SkipReason;

/// Every skip reason, in the order reports show them (the rotation's own first, then the account owner's).
pub const REASONS: [SkipReason; 11] = [
    SkipReason::Busy,
    SkipReason::Paused,
    SkipReason::Disconnected,
    SkipReason::OutsideHours,
    SkipReason::DailyLimit,
    SkipReason::OwnerBusy,
    SkipReason::OwnerPaused,
    SkipReason::OwnerDisconnected,
    SkipReason::OwnerOutsideHours,
    SkipReason::OwnerDailyLimit,
    SkipReason::OwnerNotInTeam,
];

/// What fairness needs of one meeting a team routed: who holds it, whether it is still booked, and its
/// decision trace.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedMeeting {
    pub agent_id: Uuid,
    pub status: MeetingStatus,
    pub routing: RoutingTrace,
}

/// One agent's share: meetings it holds (booked, and cancelled since) and how often it was skipped, by
/// reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentTally {
    pub agent_id: Uuid,
    /// Booked meetings the agent holds.
    pub meetings: u32,
    /// Meetings the agent held that were cancelled since.
    pub cancelled: u32,
    /// Times the agent was passed over, by reason, in `REASONS` order.
    pub skips: [u32; REASONS.len()],
}

/// A reason's place in `REASONS`.
fn place(reason: SkipReason) -> usize {
    REASONS
        .iter()
        .position(|r| *r == reason)
        .expect("every reason is listed")
}

impl AgentTally {
    pub fn skipped(&self, reason: SkipReason) -> u32 {
        self.skips[place(reason)]
    }

    pub fn skipped_total(&self) -> u32 {
        self.skips.iter().sum()
    }
}

/// A team's fairness over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fairness {
    /// The queue's agents in queue order (each listed, even with nothing to count), then any other agent
    /// that holds one of the meetings or was skipped (it has left the queue since), in order of appearance.
    pub agents: Vec<AgentTally>,
    /// The most booked meetings any agent holds (the bar chart's scale).
    pub most_meetings: u32,
    /// Booked meetings in all.
    pub total_meetings: u32,
    /// The reasons any agent was skipped for, in `REASONS` order.
    pub reasons: Vec<SkipReason>,
}

/// Counts `meetings` per agent: booked meetings for the chart, cancelled ones apart, and every skip in
/// their traces by agent and reason (a skip happened whatever became of the meeting later).
pub fn tally(queue: &[Uuid], meetings: &[RoutedMeeting]) -> Fairness {
    let mut agents: Vec<AgentTally> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    let mut slot = |agents: &mut Vec<AgentTally>, id: Uuid| -> usize {
        *index.entry(id).or_insert_with(|| {
            agents.push(AgentTally {
                agent_id: id,
                ..AgentTally::default()
            });
            agents.len() - 1
        })
    };
    for id in queue {
        slot(&mut agents, *id);
    }
    for m in meetings {
        let i = slot(&mut agents, m.agent_id);
        match m.status {
            MeetingStatus::Booked => agents[i].meetings += 1,
            MeetingStatus::Cancelled => agents[i].cancelled += 1,
        }
        for s in &m.routing.skipped {
            let i = slot(&mut agents, s.agent_id);
            agents[i].skips[place(s.reason)] += 1;
        }
    }
    let reasons = REASONS
        .into_iter()
        .filter(|r| agents.iter().any(|a| a.skipped(*r) > 0))
        .collect();
    Fairness {
        most_meetings: agents.iter().map(|a| a.meetings).max().unwrap_or(0),
        total_meetings: agents.iter().map(|a| a.meetings).sum(),
        agents,
        reasons,
    }
}

/// A reason as people read it: `outside_hours` → "Outside hours", `owner_busy` → "Owner busy".
pub fn reason_label(r: SkipReason) -> &'static str {
    match r {
        SkipReason::Busy => "Busy",
        SkipReason::Paused => "Paused",
        SkipReason::Disconnected => "Disconnected",
        SkipReason::OutsideHours => "Outside hours",
        SkipReason::DailyLimit => "Daily limit",
        SkipReason::OwnerBusy => "Owner busy",
        SkipReason::OwnerPaused => "Owner paused",
        SkipReason::OwnerDisconnected => "Owner disconnected",
        SkipReason::OwnerOutsideHours => "Owner outside hours",
        SkipReason::OwnerDailyLimit => "Owner at daily limit",
        SkipReason::OwnerNotInTeam => "Owner not in team",
    }
}

/// The reason's stored name (`outside_hours`), as traces and the API spell it.
pub fn reason_name(r: SkipReason) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::SkippedAgent;
    use crate::domain::routing::RoutingStep;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn routed(agent: u128, status: MeetingStatus, skipped: &[(u128, SkipReason)]) -> RoutedMeeting {
        RoutedMeeting {
            agent_id: id(agent),
            status,
            routing: RoutingTrace {
                step: RoutingStep::RoundRobin,
                rule: None,
                account: None,
                skipped: skipped
                    .iter()
                    .map(|(a, r)| SkippedAgent {
                        agent_id: id(*a),
                        reason: *r,
                        step: Some(RoutingStep::RoundRobin),
                        rule: None,
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn meetings_are_counted_per_agent_in_queue_order_with_idle_agents_listed() {
        use MeetingStatus::*;
        let f = tally(
            &[id(1), id(2), id(3)],
            &[
                routed(2, Booked, &[]),
                routed(1, Booked, &[]),
                routed(2, Booked, &[]),
                routed(2, Cancelled, &[]),
            ],
        );
        let counts: Vec<_> = f
            .agents
            .iter()
            .map(|a| (a.agent_id, a.meetings, a.cancelled))
            .collect();
        assert_eq!(counts, [(id(1), 1, 0), (id(2), 2, 1), (id(3), 0, 0)]);
        assert_eq!(f.most_meetings, 2);
        assert_eq!(f.total_meetings, 3);
        assert!(f.reasons.is_empty());
    }

    #[test]
    fn skips_are_counted_per_agent_and_reason_even_on_cancelled_meetings() {
        use MeetingStatus::*;
        use SkipReason::*;
        let f = tally(
            &[id(1), id(2)],
            &[
                routed(2, Booked, &[(1, Busy)]),
                routed(2, Cancelled, &[(1, Busy)]),
                routed(1, Booked, &[(2, Paused), (1, OwnerOutsideHours)]),
            ],
        );
        let ann = &f.agents[0];
        assert_eq!(ann.skipped(Busy), 2);
        assert_eq!(ann.skipped(OwnerOutsideHours), 1);
        assert_eq!(ann.skipped(Paused), 0);
        assert_eq!(ann.skipped_total(), 3);
        assert_eq!(f.agents[1].skipped(Paused), 1);
        // Only the reasons seen, in report order.
        assert_eq!(f.reasons, [Busy, Paused, OwnerOutsideHours]);
    }

    #[test]
    fn agents_no_longer_in_the_queue_are_listed_after_it() {
        use MeetingStatus::*;
        let f = tally(
            &[id(1)],
            &[
                routed(9, Booked, &[(8, SkipReason::Disconnected)]),
                routed(9, Booked, &[]),
            ],
        );
        let order: Vec<_> = f.agents.iter().map(|a| a.agent_id).collect();
        assert_eq!(order, [id(1), id(9), id(8)]);
        assert_eq!(f.agents[1].meetings, 2);
        assert_eq!(f.agents[2].skipped(SkipReason::Disconnected), 1);
        assert_eq!(f.most_meetings, 2);
    }

    #[test]
    fn nothing_to_count_is_an_empty_chart() {
        let f = tally(&[], &[]);
        assert_eq!(f, Fairness::default());
    }

    #[test]
    fn every_reason_has_a_label_and_its_stored_name() {
        for r in REASONS {
            assert!(!reason_label(r).is_empty());
            assert!(!reason_name(r).is_empty());
        }
        assert_eq!(reason_name(SkipReason::OutsideHours), "outside_hours");
        assert_eq!(reason_name(SkipReason::OwnerNotInTeam), "owner_not_in_team");
    }
}
