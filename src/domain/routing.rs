//! Round robin (DESIGN.md "Round robin"): the order in which a team's agents are asked for a slot, and why an
//! agent asked was passed over. Pure decisions; the caller loads the queue and pointer and stores the result.

use serde::{Deserialize, Serialize};

use super::availability::SlotCheck;

/// Why a candidate did not get the meeting; stored in the meeting's decision trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Busy,
    Paused,
    Disconnected,
    OutsideHours,
}

/// Which routing step chose the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStep {
    RoundRobin,
}

/// What is known about one candidate for one requested slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateState {
    pub paused: bool,
    pub connected: bool,
    pub slot: SlotCheck,
}

/// The queue in the order candidates are asked: starting right after `pointer` (the agent who took the last
/// meeting), wrapping around, each member once. Without a pointer in the queue, plain queue order.
pub fn rotation<T: PartialEq + Clone>(queue: &[T], pointer: Option<&T>) -> Vec<T> {
    let first = pointer
        .and_then(|p| queue.iter().position(|q| q == p))
        .map_or(0, |i| i + 1);
    let (before, after) = queue.split_at(first);
    after.iter().chain(before).cloned().collect()
}

/// Whether a candidate may take the slot, or the one reason it is skipped (checked in the order paused,
/// disconnected, outside hours, busy, so the trace names the most basic cause).
pub fn classify(state: &CandidateState) -> Result<(), SkipReason> {
    if state.paused {
        return Err(SkipReason::Paused);
    }
    if !state.connected {
        return Err(SkipReason::Disconnected);
    }
    match state.slot {
        SlotCheck::OutsideHours => Err(SkipReason::OutsideHours),
        SlotCheck::Busy => Err(SkipReason::Busy),
        SlotCheck::Free => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rotation_starts_right_after_the_pointer_and_wraps() {
        let queue = [1, 2, 3, 4, 5];
        assert_eq!(rotation(&queue, Some(&3)), [4, 5, 1, 2, 3]);
        assert_eq!(rotation(&queue, Some(&5)), [1, 2, 3, 4, 5]);
        assert_eq!(rotation(&queue, None), [1, 2, 3, 4, 5]);
        assert_eq!(rotation(&queue, Some(&9)), [1, 2, 3, 4, 5]);
        assert!(rotation::<i32>(&[], Some(&1)).is_empty());
    }

    #[test]
    fn classify_names_the_most_basic_reason() {
        let state = |paused, connected, slot| CandidateState {
            paused,
            connected,
            slot,
        };
        assert_eq!(
            classify(&state(true, false, SlotCheck::Busy)),
            Err(SkipReason::Paused)
        );
        assert_eq!(
            classify(&state(false, false, SlotCheck::OutsideHours)),
            Err(SkipReason::Disconnected)
        );
        assert_eq!(
            classify(&state(false, true, SlotCheck::OutsideHours)),
            Err(SkipReason::OutsideHours)
        );
        assert_eq!(
            classify(&state(false, true, SlotCheck::Busy)),
            Err(SkipReason::Busy)
        );
        assert_eq!(classify(&state(false, true, SlotCheck::Free)), Ok(()));
    }

    #[test]
    fn skip_reasons_serialize_in_snake_case() {
        let json = serde_json::to_string(&[SkipReason::OutsideHours, SkipReason::Busy]).unwrap();
        assert_eq!(json, r#"["outside_hours","busy"]"#);
        assert_eq!(
            serde_json::to_string(&RoutingStep::RoundRobin).unwrap(),
            r#""round_robin""#
        );
    }

    proptest! {
        #[test]
        fn rotation_asks_everyone_once_starting_after_the_pointer(
            queue in prop::collection::btree_set(0u8..50, 0..12).prop_map(|s| s.into_iter().collect::<Vec<_>>()),
            pointer in prop::option::of(0u8..60),
        ) {
            let order = rotation(&queue, pointer.as_ref());
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(&sorted, &queue);
            match pointer.and_then(|p| queue.iter().position(|&q| q == p)) {
                Some(i) => prop_assert_eq!(order[0], queue[(i + 1) % queue.len()]),
                None => prop_assert_eq!(&order, &queue),
            }
        }

        #[test]
        fn free_agents_share_meetings_evenly(agents in 1usize..12, rounds in 1usize..6) {
            let queue: Vec<usize> = (0..agents).collect();
            let mut taken = vec![0; agents];
            let mut pointer = None;
            for _ in 0..agents * rounds {
                let chosen = rotation(&queue, pointer.as_ref())[0];
                taken[chosen] += 1;
                pointer = Some(chosen);
            }
            prop_assert!(taken.iter().all(|&n| n == rounds));
        }
    }
}
