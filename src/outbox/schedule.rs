//! When a failed job is tried again: Svix's schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with
//! ±20 % jitter, and a provider's `Retry-After` honoured within [scheduled, 2 × scheduled]. Pure: the
//! caller passes the jitter draw.

use std::time::Duration;

/// Delays after the 1st, 2nd, … failure; after the last one the job is parked as dead.
pub const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The delay before the next try after `failures` failures (1-based), or None when the job has had its
/// last try. `jitter` is a draw from [-1, 1], scaled to ±20 %.
pub fn next_delay(failures: u32, retry_after: Option<Duration>, jitter: f64) -> Option<Duration> {
    let scheduled = *SCHEDULE.get(failures.checked_sub(1)? as usize)?;
    let jittered = scheduled.mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    Some(match retry_after {
        Some(asked) => asked.clamp(scheduled, scheduled * 2),
        None => jittered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_with_jitter_then_gives_up() {
        assert_eq!(next_delay(1, None, 0.0), Some(Duration::from_secs(5)));
        assert_eq!(next_delay(2, None, 1.0), Some(Duration::from_secs(360)));
        assert_eq!(next_delay(2, None, -1.0), Some(Duration::from_secs(240)));
        assert_eq!(next_delay(7, None, 0.0), Some(Duration::from_secs(36_000)));
        assert_eq!(next_delay(8, None, 0.0), None);
        assert_eq!(next_delay(0, None, 0.0), None);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        assert_eq!(
            next_delay(1, Some(Duration::from_secs(7)), 0.9),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            next_delay(1, Some(Duration::from_millis(2128)), 0.0),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            next_delay(1, Some(Duration::from_secs(60)), 0.0),
            Some(Duration::from_secs(10))
        );
    }
}
