//! Free slots (PLACEHOLDER signatures: being implemented).
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::values::{DateOverrides, WeeklyHours};

/// A half-open range of instants `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A team's slot rules, all in minutes (days for the horizon).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotPolicy {
    pub meeting_minutes: u32,
    pub step_minutes: u32,
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
    pub min_notice_minutes: u32,
    pub horizon_days: u32,
}

/// One agent's calendar as the domain sees it. `busy` may be in any order and may overlap.
#[derive(Debug, Clone, Copy)]
pub struct AgentCalendar<'a> {
    pub zone: Tz,
    pub weekly: &'a WeeklyHours,
    pub overrides: &'a DateOverrides,
    pub busy: &'a [Span],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotCheck {
    Free,
    Busy,
    OutsideHours,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    TooSoon,
    BeyondHorizon,
}

pub fn free_slots(_agent: &AgentCalendar, _policy: &SlotPolicy, _window: Span, _now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    unimplemented!()
}
pub fn pooled_slots(_agents: &[AgentCalendar], _policy: &SlotPolicy, _window: Span, _now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    unimplemented!()
}
pub fn strict_slots(_agents: &[AgentCalendar], _policy: &SlotPolicy, _window: Span, _now: DateTime<Utc>) -> Option<(usize, Vec<DateTime<Utc>>)> {
    unimplemented!()
}
pub fn check_slot(_agent: &AgentCalendar, _policy: &SlotPolicy, _start: DateTime<Utc>) -> SlotCheck {
    unimplemented!()
}
pub fn check_timing(_policy: &SlotPolicy, _start: DateTime<Utc>, _now: DateTime<Utc>) -> Result<(), Timing> {
    unimplemented!()
}
