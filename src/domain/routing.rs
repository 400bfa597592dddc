//! Round robin (PLACEHOLDER signatures: being implemented).
use serde::{Deserialize, Serialize};

use super::availability::SlotCheck;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Busy,
    Paused,
    Disconnected,
    OutsideHours,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStep {
    RoundRobin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CandidateState {
    pub paused: bool,
    pub connected: bool,
    pub slot: SlotCheck,
}

pub fn rotation<T: PartialEq + Clone>(_queue: &[T], _pointer: Option<&T>) -> Vec<T> {
    unimplemented!()
}
pub fn classify(_state: &CandidateState) -> Result<(), SkipReason> {
    unimplemented!()
}
