//! Free slots: which meeting starts an agent (or a team) can offer, given weekly hours and date overrides in
//! the agent's own zone, busy blocks in UTC, and a team's slot policy (DESIGN.md "Time" and "Scale").
//!
//! Everything runs on i64 Unix seconds. Each zone's UTC offsets over the asked range are resolved once into a
//! short list of constant-offset pieces (a [`ZoneTimeline`]), so the local→UTC conversion of every grid point
//! is plain arithmetic while DST gaps and overlaps still follow chrono-tz exactly. Busy blocks are sorted and
//! merged once per agent and walked with a single forward pointer, and a team's union is a bitset over the
//! window at one-minute granularity: the whole computation is O(busy blocks + slots).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::values::{DateOverrides, LocalSpan, WeeklyHours};

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

/// Whether one agent can take a meeting at a given start, ignoring notice and horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotCheck {
    Free,
    Busy,
    OutsideHours,
}

/// Why a start is refused by the team's notice or horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timing {
    TooSoon,
    BeyondHorizon,
}

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;
/// How far apart the zone's offset is sampled; a pair of transitions closer than this that cancel out would
/// be missed, which no modern tzdata rule does.
const OFFSET_PROBE: i64 = DAY / 2;
/// Days from 0001-01-01 (chrono's CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i64 = 719_163;
/// Above this many one-minute bits, the team union sorts instead (only absurdly long windows get there).
const MAX_BITSET_BITS: i64 = 1 << 24;

/// The agent's free slot starts: from `window.start` on, with the meeting over by `window.end`, at least
/// `min_notice` after `now` and before the horizon; sorted and distinct.
pub fn free_slots(
    agent: &AgentCalendar,
    policy: &SlotPolicy,
    window: Span,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let Some(range) = SlotRange::new(policy, window, now) else {
        return Vec::new();
    };
    let timeline = ZoneTimeline::covering(agent.zone, &range);
    let mut busy = Vec::new();
    let mut out = Vec::new();
    push_runs(agent, policy, &timeline, &range, &mut busy, &mut out);
    out
}

/// The union of every agent's free slots: sorted and distinct (DESIGN.md "pooled" mode).
pub fn pooled_slots(
    agents: &[AgentCalendar],
    policy: &SlotPolicy,
    window: Span,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let Some(range) = SlotRange::new(policy, window, now) else {
        return Vec::new();
    };
    let mut zones = ZoneCache::default();
    let mut busy = Vec::new();
    // Starts off the whole minute exist only under historic offsets with seconds; they are merged apart
    // so the bitset stays one bit per minute.
    let mut off_minute: Vec<i64> = Vec::new();
    let base = range.lo.div_euclid(MINUTE) * MINUTE;
    let bits = (range.hi - base + MINUTE - 1) / MINUTE;
    let step = step_seconds(policy);
    let bit_step = (step / MINUTE) as usize;
    if bits > MAX_BITSET_BITS {
        for agent in agents {
            let timeline = zones.get(agent.zone, &range);
            for_each_free_run(
                agent,
                policy,
                timeline,
                &range,
                &mut busy,
                |first, count| off_minute.extend((0..count).map(|k| first + k * step)),
            );
        }
        off_minute.sort_unstable();
        off_minute.dedup();
        let mut instants = Instants::default();
        return off_minute.into_iter().map(|u| instants.at(u)).collect();
    }
    let mut words = vec![0u64; (bits as usize).div_ceil(64)];
    for agent in agents {
        let timeline = zones.get(agent.zone, &range);
        for_each_free_run(
            agent,
            policy,
            timeline,
            &range,
            &mut busy,
            |first, count| {
                // The step is whole minutes, so a run is either all on the minute or all off it.
                if first.rem_euclid(MINUTE) == 0 {
                    let mut bit = ((first - base) / MINUTE) as usize;
                    for _ in 0..count {
                        words[bit >> 6] |= 1 << (bit & 63);
                        bit += bit_step;
                    }
                } else {
                    off_minute.extend((0..count).map(|k| first + k * step));
                }
            },
        );
    }
    off_minute.sort_unstable();
    off_minute.dedup();
    let on_minute = words.iter().enumerate().flat_map(|(w, &word)| {
        let mut rest = word;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let bit = rest.trailing_zeros() as i64;
                rest &= rest - 1;
                base + ((w as i64) * 64 + bit) * MINUTE
            })
        })
    });
    let mut instants = Instants::default();
    merge_sorted(on_minute, off_minute.into_iter())
        .map(|u| instants.at(u))
        .collect()
}

/// "Strict" mode: the first agent, in the given (rotation) order, with any free slot, its index and its slots.
pub fn strict_slots(
    agents: &[AgentCalendar],
    policy: &SlotPolicy,
    window: Span,
    now: DateTime<Utc>,
) -> Option<(usize, Vec<DateTime<Utc>>)> {
    let range = SlotRange::new(policy, window, now)?;
    let mut zones = ZoneCache::default();
    let mut busy = Vec::new();
    agents.iter().enumerate().find_map(|(i, agent)| {
        let timeline = zones.get(agent.zone, &range);
        let mut out = Vec::new();
        push_runs(agent, policy, timeline, &range, &mut busy, &mut out);
        (!out.is_empty()).then_some((i, out))
    })
}

/// Whether `start` is one of the agent's working-slot starts and free of busy blocks (buffers included).
/// Notice, horizon and window are the caller's concern ([`check_timing`]); this agrees with [`free_slots`].
pub fn check_slot(agent: &AgentCalendar, policy: &SlotPolicy, start: DateTime<Utc>) -> SlotCheck {
    if start.timestamp_subsec_nanos() != 0 {
        return SlotCheck::OutsideHours;
    }
    let s = start.timestamp();
    // The same generator as free_slots, narrowed to this one second, so the two can never disagree.
    let range = SlotRange { lo: s, hi: s + 1 };
    let timeline = ZoneTimeline::covering(agent.zone, &range);
    let mut working = false;
    for_each_working_run(agent, policy, &timeline, &range, |_, count| {
        working |= count > 0
    });
    if !working {
        return SlotCheck::OutsideHours;
    }
    let (from, to) = guarded(policy, s);
    let busy = agent
        .busy
        .iter()
        .filter_map(busy_seconds)
        .any(|(a, b)| from < b && a < to);
    if busy {
        SlotCheck::Busy
    } else {
        SlotCheck::Free
    }
}

/// Whether `start` respects the team's minimum notice and booking horizon as seen at `now`.
pub fn check_timing(
    policy: &SlotPolicy,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Timing> {
    let earliest =
        now.checked_add_signed(chrono::Duration::minutes(policy.min_notice_minutes.into()));
    if earliest.is_none_or(|earliest| start < earliest) {
        return Err(Timing::TooSoon);
    }
    let horizon = now.checked_add_signed(chrono::Duration::days(policy.horizon_days.into()));
    // A horizon past chrono's last instant is no limit at all.
    if horizon.is_some_and(|horizon| start >= horizon) {
        return Err(Timing::BeyondHorizon);
    }
    Ok(())
}

/// The part of `window` that slots can come from at `now`: starts from the notice on and before the
/// horizon, meetings over by the window's end. `None` when that is empty, so a window outside the team's
/// bookable range costs nothing: no calendar is read. The slots offered for the returned span are exactly
/// those offered for `window`.
pub fn bookable_window(policy: &SlotPolicy, window: Span, now: DateTime<Utc>) -> Option<Span> {
    let range = SlotRange::new(policy, window, now)?;
    let start = DateTime::from_timestamp(range.lo, 0)?;
    // Starts are below `hi`; their meetings end before `hi + meeting`, and by the window's end.
    let end = DateTime::from_timestamp(range.hi + i64::from(policy.meeting_minutes) * MINUTE, 0)?
        .min(window.end);
    Some(Span { start, end })
}

/// Slot starts `s` allowed by window, notice and horizon: `lo <= s < hi`, in whole seconds. The window
/// takes starts from `window.start` on and meetings that end by `window.end`.
#[derive(Debug, Clone, Copy)]
struct SlotRange {
    lo: i64,
    hi: i64,
}

impl SlotRange {
    fn new(policy: &SlotPolicy, window: Span, now: DateTime<Utc>) -> Option<Self> {
        // Starts are whole seconds, so `s >= t` is `s >= ceil(t)` and `s < t` is `s < ceil(t)`.
        let now = ceil_seconds(now);
        let lo =
            ceil_seconds(window.start).max(now + i64::from(policy.min_notice_minutes) * MINUTE);
        // The whole meeting must fit in the window, not just its start: a visitor asking up to `to` means
        // meetings over by then (and this is what gives the bench fixture its 4,307).
        let fits = window.end.timestamp() - i64::from(policy.meeting_minutes) * MINUTE + 1;
        let hi = ceil_seconds(window.end)
            .min(fits)
            .min(now + i64::from(policy.horizon_days) * DAY);
        (lo < hi).then_some(Self { lo, hi })
    }

    /// Local dates (days since 1970-01-01) whose working spans can hold a start in the range, with a day's
    /// margin either side since no UTC offset reaches a full day.
    fn local_days(&self) -> std::ops::RangeInclusive<i64> {
        (self.lo.div_euclid(DAY) - 2)..=((self.hi - 1).div_euclid(DAY) + 2)
    }
}

fn ceil_seconds(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

fn to_datetime(u: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(u, 0).expect("slot starts lie inside the window, a valid instant")
}

/// Turns increasing Unix seconds into instants, reusing the last date: slots come many to a day, and the
/// calendar arithmetic is the costly part.
#[derive(Default)]
struct Instants {
    last: Option<(i64, NaiveDate)>,
}

impl Instants {
    fn at(&mut self, u: i64) -> DateTime<Utc> {
        let day = u.div_euclid(DAY);
        let date = match self.last {
            Some((d, date)) if d == day => date,
            _ => {
                let date = to_datetime(u).date_naive();
                self.last = Some((day, date));
                date
            }
        };
        let time = NaiveTime::from_num_seconds_from_midnight_opt(u.rem_euclid(DAY) as u32, 0)
            .expect("a second of the day");
        date.and_time(time).and_utc()
    }
}

/// A busy span in whole seconds, widened outward; an empty or inverted span blocks nothing.
fn busy_seconds(span: &Span) -> Option<(i64, i64)> {
    (span.end > span.start).then(|| (span.start.timestamp(), ceil_seconds(span.end)))
}

/// The stretch a meeting at `s` keeps the agent from other meetings: `[s - before, s + meeting + after)`.
fn guarded(policy: &SlotPolicy, s: i64) -> (i64, i64) {
    let before = i64::from(policy.buffer_before_minutes) * MINUTE;
    let after = i64::from(policy.meeting_minutes + policy.buffer_after_minutes) * MINUTE;
    (s - before, s + after)
}

fn push_runs(
    agent: &AgentCalendar,
    policy: &SlotPolicy,
    timeline: &ZoneTimeline,
    range: &SlotRange,
    busy: &mut Vec<(i64, i64)>,
    out: &mut Vec<DateTime<Utc>>,
) {
    let step = step_seconds(policy);
    let mut instants = Instants::default();
    for_each_free_run(agent, policy, timeline, range, busy, |first, count| {
        out.extend((0..count).map(|k| instants.at(first + k * step)))
    });
}

fn merge_sorted(
    a: impl Iterator<Item = i64>,
    b: impl Iterator<Item = i64>,
) -> impl Iterator<Item = i64> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(&x), Some(&y)) if x == y => {
            b.next();
            a.next()
        }
        (Some(&x), Some(&y)) if y < x => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

/// The team's step in seconds; a zero step would never advance, and one minute is the finest grid meant.
fn step_seconds(policy: &SlotPolicy) -> i64 {
    i64::from(policy.step_minutes.max(1)) * MINUTE
}

/// Emits the agent's free slot starts within `range` as increasing runs `(first, count)` of starts one step
/// apart. `busy` is scratch space reused across agents.
fn for_each_free_run(
    agent: &AgentCalendar,
    policy: &SlotPolicy,
    timeline: &ZoneTimeline,
    range: &SlotRange,
    busy: &mut Vec<(i64, i64)>,
    mut emit: impl FnMut(i64, i64),
) {
    let (reach_lo, _) = guarded(policy, range.lo);
    let (_, reach_hi) = guarded(policy, range.hi);
    busy.clear();
    busy.reserve(agent.busy.len());
    let mut seconds = SecondsCache::default();
    for block in agent.busy {
        let (start, start_nanos) = seconds.split(block.start);
        let (end, end_nanos) = seconds.split(block.end);
        let end = end + i64::from(end_nanos > 0);
        if (end, end_nanos) > (start, start_nanos) && end > reach_lo && start < reach_hi {
            busy.push((start, end));
        }
    }
    busy.sort_unstable();
    // Merging overlapping and touching blocks keeps "the next block that ends after the guard's start" the
    // only one that can overlap it, so one forward pointer decides every slot.
    let mut merged = 0;
    for i in 0..busy.len() {
        let (a, b) = busy[i];
        if merged > 0 && a <= busy[merged - 1].1 {
            busy[merged - 1].1 = busy[merged - 1].1.max(b);
        } else {
            busy[merged] = (a, b);
            merged += 1;
        }
    }
    busy.truncate(merged);
    let busy = &busy[..];
    let step = step_seconds(policy);
    let before = i64::from(policy.buffer_before_minutes) * MINUTE;
    let after = i64::from(policy.meeting_minutes + policy.buffer_after_minutes) * MINUTE;
    let mut next = 0;
    for_each_working_run(agent, policy, timeline, range, |first, count| {
        let mut k = 0;
        while k < count {
            let u = first + k * step;
            while next < busy.len() && busy[next].1 <= u - before {
                next += 1;
            }
            let Some(&(busy_start, busy_end)) = busy.get(next) else {
                emit(u, count - k);
                return;
            };
            if busy_start >= u + after {
                // Free up to the last start whose meeting and buffer end by this block's start.
                let last = count.min((busy_start - after - first).div_euclid(step) + 1);
                emit(u, last - k);
                k = last;
            } else {
                // Blocked until the guard's start clears this block's end: the first such grid point.
                k = (k + 1).max((busy_end + before - first + step - 1).div_euclid(step));
            }
        }
    });
}

/// Emits the agent's working-slot starts within `range` (on the local step grid, meeting inside the span)
/// as runs `(first, count)` one step apart, increasing: local dates and spans come in order, and local→UTC
/// (first occurrence) is strictly increasing.
fn for_each_working_run(
    agent: &AgentCalendar,
    policy: &SlotPolicy,
    timeline: &ZoneTimeline,
    range: &SlotRange,
    mut emit: impl FnMut(i64, i64),
) {
    let step = step_seconds(policy);
    let meeting = i64::from(policy.meeting_minutes) * MINUTE;
    let days = range.local_days();
    let Some(mut date) = i32::try_from(days.start() + UNIX_EPOCH_CE_DAYS)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
    else {
        return;
    };
    for day in days {
        let spans: &[LocalSpan] = if agent.overrides.is_empty() {
            agent.weekly.on(date.weekday())
        } else {
            agent
                .overrides
                .get(date)
                .unwrap_or_else(|| agent.weekly.on(date.weekday()))
        };
        let midnight = day * DAY;
        for span in spans {
            let local_start = midnight + i64::from(span.start_minute()) * MINUTE;
            let local_end = midnight + i64::from(span.end_minute()) * MINUTE;
            let end = timeline.resolve(local_end).instant();
            if let Some(offset) = timeline.sole_offset(local_start, local_end) {
                // No transition touches the span: the grid is plain UTC arithmetic.
                let grid = local_start - offset;
                let skip = if grid < range.lo {
                    (range.lo - grid + step - 1) / step
                } else {
                    0
                };
                // `u < end` is the grid's own bound (local time before the span's end) for a zero meeting.
                let stop = range.hi.min(end - meeting + 1).min(end);
                let first = grid + skip * step;
                if first < stop {
                    emit(first, (stop - first + step - 1) / step);
                }
            } else {
                let mut local = local_start;
                while local < local_end {
                    if let Local::At(u) = timeline.resolve(local) {
                        if u >= range.hi {
                            break;
                        }
                        if u >= range.lo && u + meeting <= end {
                            emit(u, 1);
                        }
                    }
                    local += step;
                }
            }
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => return,
        }
    }
}

/// Whole Unix seconds of busy-block ends, remembering the last date's day count: blocks come in bursts on
/// the same date, and the calendar arithmetic is the costly part.
#[derive(Default)]
struct SecondsCache {
    last: Option<(NaiveDate, i64)>,
}

impl SecondsCache {
    /// Whole seconds (floored) and the nanoseconds past them.
    fn split(&mut self, t: DateTime<Utc>) -> (i64, u32) {
        let t = t.naive_utc();
        let date = t.date();
        let midnight = match self.last {
            Some((d, m)) if d == date => m,
            _ => {
                let m = date.and_time(NaiveTime::MIN).and_utc().timestamp();
                self.last = Some((date, m));
                m
            }
        };
        let time = t.time();
        (
            midnight + i64::from(time.num_seconds_from_midnight()),
            time.nanosecond(),
        )
    }
}

/// Where a local wall-clock time (seconds since 1970-01-01 local) falls in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    /// The instant, the earliest one when the local time happens twice.
    At(i64),
    /// The local time does not exist; the first instant after the gap.
    Gap(i64),
}

impl Local {
    fn instant(self) -> i64 {
        match self {
            Local::At(u) | Local::Gap(u) => u,
        }
    }
}

/// One stretch of UTC `[start, end)` with a constant offset, and the local times `[local_lo, local_hi)` that
/// map into it and into no other stretch.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: i64,
    end: i64,
    offset: i64,
    local_lo: i64,
    local_hi: i64,
}

/// A zone's UTC offsets over a bounded range as constant-offset pieces; the first and last piece reach out
/// to the ends of time, which only matters outside the range it was built for.
#[derive(Debug, Clone)]
struct ZoneTimeline {
    pieces: Vec<Piece>,
}

impl ZoneTimeline {
    /// A timeline good for every local date `range` can need, with a day to spare on each side.
    fn covering(tz: Tz, range: &SlotRange) -> Self {
        let days = range.local_days();
        Self::build(
            tz,
            days.start() * DAY - 2 * DAY,
            (days.end() + 1) * DAY + 2 * DAY,
        )
    }

    fn build(tz: Tz, lo: i64, hi: i64) -> Self {
        let mut pieces = Vec::with_capacity(3);
        let mut start = i64::MIN;
        let mut offset = offset_at(tz, lo);
        let mut probe = lo;
        while probe < hi {
            let next = (probe + OFFSET_PROBE).min(hi);
            if offset_at(tz, next) == offset {
                probe = next;
                continue;
            }
            // Bisect to the second: offset(before) is the current one, offset(after) is not.
            let (mut before, mut after) = (probe, next);
            while after - before > 1 {
                let mid = before + (after - before) / 2;
                if offset_at(tz, mid) == offset {
                    before = mid;
                } else {
                    after = mid;
                }
            }
            pieces.push(Piece {
                start,
                end: after,
                offset,
                local_lo: 0,
                local_hi: 0,
            });
            start = after;
            offset = offset_at(tz, after);
            probe = after;
        }
        pieces.push(Piece {
            start,
            end: i64::MAX,
            offset,
            local_lo: 0,
            local_hi: 0,
        });
        for i in 0..pieces.len() {
            let own = pieces[i];
            let local_lo = pieces[..i]
                .iter()
                .map(|p| p.end.saturating_add(p.offset))
                .fold(own.start.saturating_add(own.offset), i64::max);
            let local_hi = pieces[i + 1..]
                .iter()
                .map(|p| p.start.saturating_add(p.offset))
                .fold(own.end.saturating_add(own.offset), i64::min);
            pieces[i].local_lo = local_lo;
            pieces[i].local_hi = local_hi;
        }
        Self { pieces }
    }

    /// chrono-tz's local→UTC with rondo's rule: earliest when ambiguous, the gap's end when skipped.
    fn resolve(&self, local: i64) -> Local {
        let mut gap = None;
        for p in &self.pieces {
            let u = local - p.offset;
            if u < p.start {
                gap.get_or_insert(p.start);
            } else if u < p.end {
                return Local::At(u);
            }
        }
        Local::Gap(gap.expect("pieces cover all of time, so a missing local time lies before one"))
    }

    /// The single offset of every local time in `[local_start, local_end]`, when no transition comes near.
    fn sole_offset(&self, local_start: i64, local_end: i64) -> Option<i64> {
        self.pieces
            .iter()
            .find(|p| p.local_lo <= local_start && local_end <= p.local_hi)
            .map(|p| p.offset)
    }
}

fn offset_at(tz: Tz, u: i64) -> i64 {
    DateTime::from_timestamp(u, 0)
        .map(|t| {
            i64::from(
                tz.offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc(),
            )
        })
        .unwrap_or(0)
}

/// Timelines per zone for one team request: teams share a handful of zones.
#[derive(Default)]
struct ZoneCache {
    zones: Vec<(Tz, ZoneTimeline)>,
}

impl ZoneCache {
    fn get(&mut self, tz: Tz, range: &SlotRange) -> &ZoneTimeline {
        let i = match self.zones.iter().position(|(z, _)| *z == tz) {
            Some(i) => i,
            None => {
                self.zones.push((tz, ZoneTimeline::covering(tz, range)));
                self.zones.len() - 1
            }
        };
        &self.zones[i].1
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, NaiveDate};

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("RFC 3339")
            .with_timezone(&Utc)
    }

    fn span(from: &str, to: &str) -> Span {
        Span {
            start: at(from),
            end: at(to),
        }
    }

    fn local(spans: &[(&str, &str)]) -> Vec<LocalSpan> {
        spans
            .iter()
            .map(|(a, b)| LocalSpan::parse(a, b).expect("valid span"))
            .collect()
    }

    fn every_day(spans: &[(&str, &str)]) -> WeeklyHours {
        WeeklyHours::from_days(std::array::from_fn(|_| local(spans))).expect("valid hours")
    }

    fn overrides(days: &[(&str, &[(&str, &str)])]) -> DateOverrides {
        DateOverrides::from_map(
            days.iter()
                .map(|(d, spans)| (d.parse::<NaiveDate>().expect("a date"), local(spans)))
                .collect::<BTreeMap<_, _>>(),
        )
        .expect("valid overrides")
    }

    fn policy(meeting: u32, step: u32) -> SlotPolicy {
        SlotPolicy {
            meeting_minutes: meeting,
            step_minutes: step,
            buffer_before_minutes: 0,
            buffer_after_minutes: 0,
            min_notice_minutes: 0,
            horizon_days: 365,
        }
    }

    const LONG_AGO: &str = "2020-01-01T00:00:00Z";

    /// Free slots as `HH:MM` (UTC) of one agent, asked long before.
    fn slots_of(agent: &AgentCalendar, policy: &SlotPolicy, window: Span) -> Vec<String> {
        let mut policy = *policy;
        policy.horizon_days = 10_000;
        free_slots(agent, &policy, window, at(LONG_AGO))
            .iter()
            .map(|t| t.format("%m-%d %H:%M").to_string())
            .collect()
    }

    fn calendar<'a>(
        zone: Tz,
        weekly: &'a WeeklyHours,
        overrides: &'a DateOverrides,
        busy: &'a [Span],
    ) -> AgentCalendar<'a> {
        AgentCalendar {
            zone,
            weekly,
            overrides,
            busy,
        }
    }

    // 2026-03-02 is a Monday.
    const MONDAY: (&str, &str) = ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z");

    #[test]
    fn simple_day_and_lunch_break() {
        let none = DateOverrides::default();
        let weekly = every_day(&[("09:00", "11:00")]);
        let agent = calendar(Tz::UTC, &weekly, &none, &[]);
        let day = span(MONDAY.0, MONDAY.1);
        assert_eq!(
            slots_of(&agent, &policy(30, 30), day),
            ["03-02 09:00", "03-02 09:30", "03-02 10:00", "03-02 10:30"]
        );

        let weekly = every_day(&[("09:00", "12:00"), ("13:00", "15:00")]);
        let agent = calendar(Tz::UTC, &weekly, &none, &[]);
        assert_eq!(
            slots_of(&agent, &policy(60, 30), day),
            [
                "03-02 09:00",
                "03-02 09:30",
                "03-02 10:00",
                "03-02 10:30",
                "03-02 11:00",
                "03-02 13:00",
                "03-02 13:30",
                "03-02 14:00"
            ]
        );
    }

    #[test]
    fn overrides_replace_the_weekly_hours_that_day() {
        let weekly = every_day(&[("09:00", "10:00")]);
        let two_days = span("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z");
        let off = overrides(&[("2026-03-02", &[])]);
        let agent = calendar(Tz::UTC, &weekly, &off, &[]);
        assert_eq!(
            slots_of(&agent, &policy(30, 30), two_days),
            ["03-03 09:00", "03-03 09:30"]
        );
        let other = overrides(&[("2026-03-02", &[("14:00", "15:00")])]);
        let agent = calendar(Tz::UTC, &weekly, &other, &[]);
        assert_eq!(
            slots_of(&agent, &policy(30, 30), two_days),
            ["03-02 14:00", "03-02 14:30", "03-03 09:00", "03-03 09:30"]
        );
    }

    #[test]
    fn buffers_keep_a_distance_from_busy_blocks_and_touching_is_fine() {
        let none = DateOverrides::default();
        let weekly = every_day(&[("09:00", "12:00")]);
        let busy = [span("2026-03-02T10:00:00Z", "2026-03-02T10:30:00Z")];
        let agent = calendar(Tz::UTC, &weekly, &none, &busy);
        let day = span(MONDAY.0, MONDAY.1);
        let all = |p| slots_of(&agent, &p, day);
        assert_eq!(
            all(policy(30, 30)),
            [
                "03-02 09:00",
                "03-02 09:30",
                "03-02 10:30",
                "03-02 11:00",
                "03-02 11:30"
            ]
        );
        let before = SlotPolicy {
            buffer_before_minutes: 15,
            ..policy(30, 30)
        };
        assert_eq!(
            all(before),
            ["03-02 09:00", "03-02 09:30", "03-02 11:00", "03-02 11:30"]
        );
        let after = SlotPolicy {
            buffer_after_minutes: 15,
            ..policy(30, 30)
        };
        assert_eq!(
            all(after),
            ["03-02 09:00", "03-02 10:30", "03-02 11:00", "03-02 11:30"]
        );
    }

    #[test]
    fn a_busy_block_ending_between_grid_points_moves_the_next_start_to_the_following_point() {
        let none = DateOverrides::default();
        let weekly = every_day(&[("09:00", "11:00")]);
        let busy = [
            span("2026-03-02T09:10:00Z", "2026-03-02T09:40:00Z"),
            span("2026-03-02T09:00:00Z", "2026-03-02T09:20:00Z"),
        ];
        let agent = calendar(Tz::UTC, &weekly, &none, &busy);
        assert_eq!(
            slots_of(&agent, &policy(30, 30), span(MONDAY.0, MONDAY.1)),
            ["03-02 10:00", "03-02 10:30"]
        );
    }

    #[test]
    fn notice_and_horizon_cut_the_list() {
        let none = DateOverrides::default();
        let weekly = every_day(&[("09:00", "11:00")]);
        let agent = calendar(Tz::UTC, &weekly, &none, &[]);
        let p = SlotPolicy {
            min_notice_minutes: 30,
            horizon_days: 1,
            ..policy(30, 30)
        };
        let got: Vec<_> = free_slots(
            &agent,
            &p,
            span("2026-03-02T00:00:00Z", "2026-03-06T00:00:00Z"),
            at("2026-03-02T09:10:00Z"),
        )
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
        assert_eq!(
            got,
            [
                "2026-03-02T10:00:00+00:00",
                "2026-03-02T10:30:00+00:00",
                "2026-03-03T09:00:00+00:00"
            ]
        );
        assert_eq!(
            check_timing(&p, at("2026-03-02T09:39:59Z"), at("2026-03-02T09:10:00Z")),
            Err(Timing::TooSoon)
        );
        assert_eq!(
            check_timing(&p, at("2026-03-02T09:40:00Z"), at("2026-03-02T09:10:00Z")),
            Ok(())
        );
        assert_eq!(
            check_timing(&p, at("2026-03-03T09:09:59Z"), at("2026-03-02T09:10:00Z")),
            Ok(())
        );
        assert_eq!(
            check_timing(&p, at("2026-03-03T09:10:00Z"), at("2026-03-02T09:10:00Z")),
            Err(Timing::BeyondHorizon)
        );
    }

    #[test]
    fn window_takes_starts_from_its_start_and_meetings_that_end_by_its_end() {
        let none = DateOverrides::default();
        let weekly = every_day(&[("09:00", "12:00")]);
        let agent = calendar(Tz::UTC, &weekly, &none, &[]);
        let p = policy(30, 30);
        let w = |a, b| slots_of(&agent, &p, span(a, b));
        assert_eq!(
            w("2026-03-02T09:30:00Z", "2026-03-02T10:30:00Z"),
            ["03-02 09:30", "03-02 10:00"]
        );
        assert_eq!(
            w("2026-03-02T09:15:00Z", "2026-03-02T10:45:00Z"),
            ["03-02 09:30", "03-02 10:00"]
        );
        assert!(w("2026-03-02T09:15:00Z", "2026-03-02T09:30:00Z").is_empty());
    }

    #[test]
    fn a_span_may_end_at_midnight() {
        let none = DateOverrides::default();
        let weekly = every_day(&[("22:00", "24:00")]);
        let agent = calendar(Tz::UTC, &weekly, &none, &[]);
        assert_eq!(
            slots_of(&agent, &policy(60, 30), span(MONDAY.0, MONDAY.1)),
            ["03-02 22:00", "03-02 22:30", "03-02 23:00"]
        );
    }

    #[test]
    fn daylight_saving_moves_the_utc_start_of_local_hours() {
        let none = DateOverrides::default();
        let weekly = every_day(&[("09:00", "10:00")]);
        let p = policy(30, 60);
        let new_york = calendar(chrono_tz::America::New_York, &weekly, &none, &[]);
        assert_eq!(
            slots_of(
                &new_york,
                &p,
                span("2027-03-12T00:00:00Z", "2027-03-16T00:00:00Z")
            ),
            ["03-12 14:00", "03-13 14:00", "03-14 13:00", "03-15 13:00"]
        );
        assert_eq!(
            slots_of(
                &new_york,
                &p,
                span("2026-10-31T00:00:00Z", "2026-11-03T00:00:00Z")
            ),
            ["10-31 13:00", "11-01 14:00", "11-02 14:00"]
        );
        let amsterdam = calendar(chrono_tz::Europe::Amsterdam, &weekly, &none, &[]);
        assert_eq!(
            slots_of(
                &amsterdam,
                &p,
                span("2027-03-27T00:00:00Z", "2027-03-29T00:00:00Z")
            ),
            ["03-27 08:00", "03-28 07:00"]
        );
        assert_eq!(
            slots_of(
                &amsterdam,
                &p,
                span("2026-10-24T00:00:00Z", "2026-10-26T00:00:00Z")
            ),
            ["10-24 07:00", "10-25 08:00"]
        );
    }

    #[test]
    fn local_times_in_a_gap_are_skipped_and_a_span_ending_in_one_ends_after_it() {
        let weekly = WeeklyHours::default();
        let p = policy(30, 30);
        let day = span("2027-03-14T00:00:00Z", "2027-03-15T00:00:00Z");
        let across = overrides(&[("2027-03-14", &[("01:00", "04:00")])]);
        let agent = calendar(chrono_tz::America::New_York, &weekly, &across, &[]);
        assert_eq!(
            slots_of(&agent, &p, day),
            ["03-14 06:00", "03-14 06:30", "03-14 07:00", "03-14 07:30"]
        );
        let into = overrides(&[("2027-03-14", &[("00:00", "02:30")])]);
        let agent = calendar(chrono_tz::America::New_York, &weekly, &into, &[]);
        assert_eq!(
            slots_of(&agent, &p, day),
            ["03-14 05:00", "03-14 05:30", "03-14 06:00", "03-14 06:30"]
        );
    }

    #[test]
    fn an_ambiguous_local_time_uses_its_first_occurrence() {
        let weekly = WeeklyHours::default();
        let p = policy(30, 30);
        let fall_back = overrides(&[("2026-11-01", &[("01:00", "03:00")])]);
        let agent = calendar(chrono_tz::America::New_York, &weekly, &fall_back, &[]);
        let day = span("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z");
        assert_eq!(
            slots_of(&agent, &p, day),
            ["11-01 05:00", "11-01 05:30", "11-01 07:00", "11-01 07:30"]
        );
        // 01:00 EST, the second 01:00 that day, is not on the grid.
        assert_eq!(
            check_slot(&agent, &p, at("2026-11-01T06:00:00Z")),
            SlotCheck::OutsideHours
        );
        assert_eq!(
            check_slot(&agent, &p, at("2026-11-01T05:30:00Z")),
            SlotCheck::Free
        );
    }

    #[test]
    fn check_slot_agrees_with_free_slots() {
        let weekly = every_day(&[("08:30", "12:00"), ("13:00", "17:30")]);
        let days_off = overrides(&[("2027-03-15", &[]), ("2027-03-16", &[("01:00", "03:30")])]);
        let busy = [
            span("2027-03-12T14:10:00Z", "2027-03-12T15:00:00Z"),
            span("2027-03-14T13:00:00Z", "2027-03-14T13:45:00Z"),
            span("2027-03-14T12:00:00Z", "2027-03-14T13:05:00Z"),
        ];
        let p = SlotPolicy {
            buffer_before_minutes: 5,
            buffer_after_minutes: 10,
            ..policy(45, 15)
        };
        let agent = calendar(chrono_tz::America::New_York, &weekly, &days_off, &busy);
        let window = span("2027-03-12T00:00:00Z", "2027-03-18T00:00:00Z");
        let free = free_slots(
            &agent,
            &SlotPolicy {
                horizon_days: 10_000,
                ..p
            },
            window,
            at(LONG_AGO),
        );
        assert!(!free.is_empty());
        let mut t = window.start;
        let (mut busy_seen, mut outside_seen) = (false, false);
        while t < window.end - Duration::minutes(45) {
            let check = check_slot(&agent, &p, t);
            assert_eq!(check == SlotCheck::Free, free.contains(&t), "{t}");
            busy_seen |= check == SlotCheck::Busy;
            outside_seen |= check == SlotCheck::OutsideHours;
            t += Duration::minutes(5);
        }
        assert!(busy_seen && outside_seen);
        assert_eq!(
            check_slot(&agent, &p, at("2027-03-12T13:30:00.5Z")),
            SlotCheck::OutsideHours
        );
    }

    #[test]
    fn strict_offers_the_first_agent_with_slots_and_pooled_the_union() {
        let none = DateOverrides::default();
        let nothing = WeeklyHours::default();
        let morning = every_day(&[("09:00", "10:00")]);
        let noon = every_day(&[("09:30", "10:30")]);
        let agents = [
            calendar(Tz::UTC, &nothing, &none, &[]),
            calendar(Tz::UTC, &noon, &none, &[]),
            calendar(Tz::UTC, &morning, &none, &[]),
        ];
        let p = policy(30, 30);
        let day = span(MONDAY.0, MONDAY.1);
        let now = at(LONG_AGO);
        let p = SlotPolicy {
            horizon_days: 10_000,
            ..p
        };
        let (index, slots) = strict_slots(&agents, &p, day, now).expect("someone has slots");
        assert_eq!(index, 1);
        assert_eq!(
            slots,
            [at("2026-03-02T09:30:00Z"), at("2026-03-02T10:00:00Z")]
        );
        assert_eq!(strict_slots(&agents[..1], &p, day, now), None);
        assert_eq!(
            pooled_slots(&agents, &p, day, now),
            [
                at("2026-03-02T09:00:00Z"),
                at("2026-03-02T09:30:00Z"),
                at("2026-03-02T10:00:00Z")
            ]
        );
    }

    #[test]
    fn zone_timeline_matches_chrono_tz_around_transitions() {
        for tz in [
            chrono_tz::America::New_York,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Europe::Amsterdam,
        ] {
            let range = SlotRange {
                lo: at("2026-01-01T00:00:00Z").timestamp(),
                hi: at("2027-12-31T00:00:00Z").timestamp(),
            };
            let timeline = ZoneTimeline::covering(tz, &range);
            let mut local = NaiveDate::from_ymd_opt(2026, 1, 2)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap();
            while local.year() < 2028 {
                let seconds = local.and_utc().timestamp();
                let expected = tz
                    .from_local_datetime(&local)
                    .earliest()
                    .map(|t| t.timestamp());
                match timeline.resolve(seconds) {
                    Local::At(u) => assert_eq!(Some(u), expected, "{local}"),
                    Local::Gap(_) => assert_eq!(None, expected, "{local}"),
                }
                local += Duration::minutes(15);
            }
        }
    }
}

#[cfg(test)]
mod properties {
    //! Generated calendars checked against a slow oracle that converts every local grid time with chrono-tz
    //! and scans every busy block.

    use std::collections::{BTreeMap, BTreeSet};

    use chrono::{Duration, DurationRound, NaiveDateTime};
    use proptest::prelude::*;

    use super::*;

    const ZONES: &[Tz] = &[
        Tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::America::Los_Angeles,
        chrono_tz::America::St_Johns,
        chrono_tz::America::Santiago,
        chrono_tz::Europe::Amsterdam,
        chrono_tz::Europe::London,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Asia::Kathmandu,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Australia::Sydney,
        chrono_tz::Pacific::Chatham,
    ];

    /// Days near DST changes in the zones above, so windows often straddle one.
    const ANCHORS: &[&str] = &[
        "2026-03-08",
        "2026-03-29",
        "2026-04-05",
        "2026-06-15",
        "2026-09-06",
        "2026-10-04",
        "2026-10-25",
        "2026-11-01",
        "2027-03-14",
        "2027-03-28",
        "2027-04-04",
    ];

    fn day_spans() -> impl Strategy<Value = Vec<LocalSpan>> {
        prop::collection::btree_set(0u16..=288, 0..=6).prop_map(|cuts| {
            let cuts: Vec<u16> = cuts.into_iter().map(|c| c * 5).collect();
            cuts.chunks_exact(2)
                .map(|pair| LocalSpan::new(pair[0], pair[1]).expect("increasing cuts"))
                .collect()
        })
    }

    #[derive(Debug, Clone)]
    struct Agent {
        zone: Tz,
        weekly: WeeklyHours,
        overrides: DateOverrides,
        busy: Vec<Span>,
    }

    impl Agent {
        fn calendar(&self) -> AgentCalendar<'_> {
            AgentCalendar {
                zone: self.zone,
                weekly: &self.weekly,
                overrides: &self.overrides,
                busy: &self.busy,
            }
        }
    }

    #[derive(Debug, Clone)]
    struct Case {
        agents: Vec<Agent>,
        policy: SlotPolicy,
        window: Span,
        now: DateTime<Utc>,
    }

    fn agent(anchor: DateTime<Utc>) -> impl Strategy<Value = Agent> {
        let weekly = prop::array::uniform7(day_spans())
            .prop_map(|days| WeeklyHours::from_days(days).expect("disjoint spans"));
        let overrides = prop::collection::vec((-3i64..6, day_spans()), 0..3);
        let busy = prop::collection::vec(
            (
                -4 * 1440i64..7 * 1440,
                1i64..300,
                prop_oneof![3 => Just(0i64), 1 => 0i64..60],
            ),
            0..20,
        );
        (prop::sample::select(ZONES), weekly, overrides, busy).prop_map(
            move |(zone, weekly, overrides, busy)| {
                let overrides = overrides
                    .into_iter()
                    .map(|(day, spans)| ((anchor + Duration::days(day)).date_naive(), spans))
                    .collect::<BTreeMap<_, _>>();
                Agent {
                    zone,
                    weekly,
                    overrides: DateOverrides::from_map(overrides).expect("disjoint spans"),
                    busy: busy
                        .into_iter()
                        .map(|(start, len, seconds)| {
                            let start =
                                anchor + Duration::minutes(start) + Duration::seconds(seconds);
                            Span {
                                start,
                                end: start + Duration::minutes(len),
                            }
                        })
                        .collect(),
                }
            },
        )
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            prop::sample::select(ANCHORS),
            -3 * 1440i64..1440,
            1i64..5 * 1440,
        )
            .prop_flat_map(|(anchor, shift, length)| {
                let anchor: DateTime<Utc> = format!("{anchor}T00:00:00Z").parse().expect("anchor");
                let window = Span {
                    start: anchor + Duration::minutes(shift),
                    end: anchor + Duration::minutes(shift + length),
                };
                let policy = (
                    prop::sample::select(&[5u32, 10, 15, 20, 30, 60][..]),
                    1u32..=24,
                    0u32..=30,
                    0u32..=30,
                    0u32..=240,
                    0u32..=8,
                )
                    .prop_map(
                        |(step, meeting, before, after, notice, horizon)| SlotPolicy {
                            meeting_minutes: meeting * 5,
                            step_minutes: step,
                            buffer_before_minutes: before,
                            buffer_after_minutes: after,
                            min_notice_minutes: notice,
                            horizon_days: horizon,
                        },
                    );
                let now = -2 * 1440i64..1440;
                (
                    prop::collection::vec(agent(window.start), 1..4),
                    policy,
                    now,
                )
                    .prop_map(move |(agents, policy, now)| Case {
                        agents,
                        policy,
                        window,
                        now: window.start + Duration::minutes(now),
                    })
            })
    }

    fn utc_of_end(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
        let mut after = local;
        loop {
            if let Some(t) = tz.from_local_datetime(&after).earliest() {
                return t.with_timezone(&Utc);
            }
            after += Duration::minutes(1);
        }
    }

    /// The rules read literally: every local grid time of every span, converted on its own.
    fn oracle(
        agent: &AgentCalendar,
        p: &SlotPolicy,
        window: Span,
        now: DateTime<Utc>,
    ) -> BTreeSet<DateTime<Utc>> {
        let minutes = |m: u32| Duration::minutes(m.into());
        let tz = agent.zone;
        let mut out = BTreeSet::new();
        let mut date = window
            .start
            .with_timezone(&tz)
            .date_naive()
            .pred_opt()
            .unwrap();
        let last = window
            .end
            .with_timezone(&tz)
            .date_naive()
            .succ_opt()
            .unwrap();
        while date <= last {
            let spans = agent
                .overrides
                .get(date)
                .unwrap_or_else(|| agent.weekly.on(date.weekday()));
            let midnight = date.and_hms_opt(0, 0, 0).unwrap();
            for s in spans {
                let local_end = midnight + minutes(s.end_minute().into());
                let end = utc_of_end(tz, local_end);
                let mut local = midnight + minutes(s.start_minute().into());
                while local < local_end {
                    if let Some(start) = tz.from_local_datetime(&local).earliest() {
                        let start = start.with_timezone(&Utc);
                        let meeting_end = start + minutes(p.meeting_minutes);
                        let (from, to) = (
                            start - minutes(p.buffer_before_minutes),
                            meeting_end + minutes(p.buffer_after_minutes),
                        );
                        let ok = meeting_end <= end
                            && start >= window.start
                            && start < window.end
                            && meeting_end <= window.end
                            && start >= now + minutes(p.min_notice_minutes)
                            && start < now + Duration::days(p.horizon_days.into())
                            && !agent
                                .busy
                                .iter()
                                .any(|b| b.end > b.start && from < b.end && b.start < to);
                        if ok {
                            out.insert(start);
                        }
                    }
                    local += minutes(p.step_minutes);
                }
            }
            date = date.succ_opt().unwrap();
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn free_slots_follow_the_rules(case in case()) {
            let Case { agents, policy, window, now } = case;
            let calendars: Vec<_> = agents.iter().map(Agent::calendar).collect();
            let mut union = BTreeSet::new();
            let mut first_with_slots = None;
            for (i, agent) in calendars.iter().enumerate() {
                let got = free_slots(agent, &policy, window, now);
                prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
                for &s in &got {
                    prop_assert!(window.start <= s && s < window.end);
                    prop_assert_eq!(check_timing(&policy, s, now), Ok(()));
                    prop_assert_eq!(check_slot(agent, &policy, s), SlotCheck::Free);
                }
                let expected = oracle(agent, &policy, window, now);
                prop_assert_eq!(&got, &expected.iter().copied().collect::<Vec<_>>());
                if first_with_slots.is_none() && !got.is_empty() {
                    first_with_slots = Some((i, got.clone()));
                }
                union.extend(expected);
            }
            prop_assert_eq!(pooled_slots(&calendars, &policy, window, now), union.into_iter().collect::<Vec<_>>());
            prop_assert_eq!(strict_slots(&calendars, &policy, window, now), first_with_slots);
        }

        /// Reading calendars only inside the bookable window (and its buffers) changes no answer, and a
        /// window with no bookable part offers nothing.
        #[test]
        fn the_bookable_window_offers_the_same_slots(case in case()) {
            let Case { agents, policy, window, now } = case;
            let calendars: Vec<_> = agents.iter().map(Agent::calendar).collect();
            let all = pooled_slots(&calendars, &policy, window, now);
            match bookable_window(&policy, window, now) {
                None => prop_assert!(all.is_empty()),
                Some(b) => {
                    prop_assert!(window.start <= b.start && b.end <= window.end && b.start < b.end);
                    let read = Span {
                        start: b.start - Duration::minutes(policy.buffer_before_minutes.into()),
                        end: b.end + Duration::minutes(policy.buffer_after_minutes.into()),
                    };
                    let clipped: Vec<Vec<Span>> = calendars
                        .iter()
                        .map(|c| c.busy.iter().filter(|s| s.end > read.start && s.start < read.end).copied().collect())
                        .collect();
                    let narrowed: Vec<_> = calendars
                        .iter()
                        .zip(&clipped)
                        .map(|(c, busy)| AgentCalendar { busy, ..*c })
                        .collect();
                    prop_assert_eq!(pooled_slots(&narrowed, &policy, b, now), all);
                }
            }
        }

        #[test]
        fn check_slot_is_free_exactly_at_free_slots(case in case()) {
            let Case { agents, policy, window, .. } = case;
            let agent = agents[0].calendar();
            let policy = SlotPolicy { min_notice_minutes: 0, horizon_days: 10_000, ..policy };
            let wide = Span { start: window.start - Duration::days(1), end: window.end + Duration::days(1) };
            let free: BTreeSet<_> = free_slots(&agent, &policy, wide, wide.start - Duration::days(1)).into_iter().collect();
            let mut t = window.start.duration_trunc(Duration::minutes(5)).unwrap();
            while t < window.end {
                prop_assert_eq!(check_slot(&agent, &policy, t) == SlotCheck::Free, free.contains(&t), "{}", t);
                t += Duration::minutes(5);
            }
        }
    }
}
