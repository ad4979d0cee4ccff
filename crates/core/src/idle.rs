//! When an unlocked vault locks itself. security.md: the vault locks "on idle timeout, OS
//! sleep/screen lock and on demand", and the field profile (passphrase at every unlock) after at
//! most 5 minutes. This is the bookkeeping only: the desktop shell reports the person's activity
//! and asks on a timer ([`CHECK_EVERY`]) whether to lock; the CLI never keeps a vault open.
//!
//! Sleep is noticed without asking the operating system: the monotonic clock stops while the
//! machine is suspended and the wall clock does not, so a check that finds the wall clock far
//! ahead of the monotonic one since the last check knows the machine slept in between. Where the
//! monotonic clock keeps counting through a suspend (Windows), a sleep longer than the timeout
//! still locks at the first check after waking, as idle time.

use crate::vault::UnlockMode;
use std::time::{Duration, Instant, SystemTime};

/// Field profile (passphrase at every unlock): security.md's ceiling.
pub const FIELD_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Office profile (the OS keychain unlocks it).
pub const OFFICE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How often the shell should ask [`IdleLock::check`].
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// The wall clock running ahead of the monotonic clock by more than this between two checks
/// means the machine slept (or its clock was moved forward: locking then is harmless).
pub const SLEEP_GAP: Duration = Duration::from_secs(30);
/// Environment variable that may shorten (never lengthen) the idle timeout, in seconds.
pub const TIMEOUT_ENV: &str = "LIAISON_IDLE_LOCK_SECS";

/// Why the vault locked itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockReason {
    /// Nobody used the app for the profile's timeout.
    Idle,
    /// The machine slept since the last check.
    Slept,
}

/// The idle timeout for a vault unlocked in `mode`; `requested` (seconds, from
/// [`TIMEOUT_ENV`]) may only shorten it, so a setting can never weaken the field profile.
pub fn timeout_for(mode: UnlockMode, requested: Option<&str>) -> Duration {
    let ceiling = match mode {
        UnlockMode::Passphrase => FIELD_TIMEOUT,
        UnlockMode::Keychain => OFFICE_TIMEOUT,
    };
    requested
        .and_then(|text| text.trim().parse::<u64>().ok())
        .filter(|&secs| secs > 0)
        .map_or(ceiling, |secs| Duration::from_secs(secs).min(ceiling))
}

/// When the person last did something, and where the clocks stood at the last check.
#[derive(Debug, Clone)]
pub struct IdleLock {
    last_activity: Instant,
    last_check: Option<(Instant, SystemTime)>,
}

impl IdleLock {
    pub fn new(now: Instant) -> Self {
        IdleLock { last_activity: now, last_check: None }
    }

    /// The person did something in the app.
    pub fn activity(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// The vault was just unlocked: a fresh start (a sleep while it was locked does not count).
    pub fn unlocked(&mut self, now: Instant) {
        self.last_activity = now;
        self.last_check = None;
    }

    /// Whether the unlocked vault should lock now, given its idle `timeout`.
    pub fn check(&mut self, timeout: Duration, now: Instant, wall: SystemTime) -> Option<LockReason> {
        let slept = self.last_check.is_some_and(|(then, then_wall)| {
            let monotonic = now.saturating_duration_since(then);
            let real = wall.duration_since(then_wall).unwrap_or(Duration::ZERO);
            real.saturating_sub(monotonic) > SLEEP_GAP
        });
        self.last_check = Some((now, wall));
        if slept {
            return Some(LockReason::Slept);
        }
        (now.saturating_duration_since(self.last_activity) >= timeout).then_some(LockReason::Idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    /// Checks every [`CHECK_EVERY`] from `start` for `total`, with both clocks moving together;
    /// returns the first lock and when it came.
    fn run(
        lock: &mut IdleLock,
        timeout: Duration,
        start: Instant,
        wall: SystemTime,
        total: Duration,
    ) -> Option<(LockReason, Duration)> {
        let mut elapsed = Duration::ZERO;
        while elapsed <= total {
            if let Some(reason) = lock.check(timeout, start + elapsed, wall + elapsed) {
                return Some((reason, elapsed));
            }
            elapsed += CHECK_EVERY;
        }
        None
    }

    #[test]
    fn the_field_profile_locks_within_five_minutes_and_the_office_profile_within_fifteen() {
        assert_eq!(timeout_for(UnlockMode::Passphrase, None), 5 * MINUTE);
        assert_eq!(timeout_for(UnlockMode::Keychain, None), 15 * MINUTE);
    }

    #[test]
    fn the_environment_may_shorten_the_timeout_but_never_lengthen_it() {
        assert_eq!(timeout_for(UnlockMode::Passphrase, Some("45")), Duration::from_secs(45));
        assert_eq!(timeout_for(UnlockMode::Passphrase, Some("3600")), 5 * MINUTE, "capped at the field ceiling");
        assert_eq!(timeout_for(UnlockMode::Keychain, Some("0")), 15 * MINUTE, "0 is no timeout at all: ignored");
        assert_eq!(timeout_for(UnlockMode::Keychain, Some("soon")), 15 * MINUTE, "not a number: ignored");
    }

    #[test]
    fn an_untouched_vault_locks_once_the_timeout_has_passed_and_not_before() {
        let (start, wall) = (Instant::now(), SystemTime::now());
        let mut lock = IdleLock::new(start);
        let (reason, after) = run(&mut lock, 5 * MINUTE, start, wall, 10 * MINUTE).expect("it locks");
        assert_eq!(reason, LockReason::Idle);
        assert_eq!(after, 5 * MINUTE, "at the first check once five minutes have passed");
    }

    #[test]
    fn activity_keeps_the_vault_open_and_restarts_the_wait() {
        let (start, wall) = (Instant::now(), SystemTime::now());
        let mut lock = IdleLock::new(start);
        assert_eq!(run(&mut lock, 5 * MINUTE, start, wall, 4 * MINUTE), None);
        lock.activity(start + 4 * MINUTE);
        assert_eq!(
            lock.check(5 * MINUTE, start + 8 * MINUTE, wall + 8 * MINUTE),
            None,
            "four minutes after the last activity"
        );
        assert_eq!(lock.check(5 * MINUTE, start + 9 * MINUTE, wall + 9 * MINUTE), Some(LockReason::Idle));
    }

    #[test]
    fn a_machine_that_slept_locks_at_the_first_check_after_waking_even_when_just_used() {
        let (start, wall) = (Instant::now(), SystemTime::now());
        let mut lock = IdleLock::new(start);
        assert_eq!(lock.check(15 * MINUTE, start + CHECK_EVERY, wall + CHECK_EVERY), None);
        // Suspended for an hour: the monotonic clock moved one check interval, the wall clock an hour.
        lock.activity(start + 2 * CHECK_EVERY);
        let woke = lock.check(15 * MINUTE, start + 2 * CHECK_EVERY, wall + CHECK_EVERY + 60 * MINUTE);
        assert_eq!(woke, Some(LockReason::Slept));
    }

    #[test]
    fn a_slow_check_is_not_mistaken_for_sleep() {
        let (start, wall) = (Instant::now(), SystemTime::now());
        let mut lock = IdleLock::new(start);
        assert_eq!(lock.check(15 * MINUTE, start + CHECK_EVERY, wall + CHECK_EVERY), None);
        // A busy machine ran the next check two minutes late: both clocks moved alike.
        lock.activity(start + 2 * MINUTE);
        assert_eq!(lock.check(15 * MINUTE, start + 2 * MINUTE, wall + 2 * MINUTE), None);
    }

    #[test]
    fn a_sleep_while_locked_does_not_lock_again_right_after_unlocking() {
        let (start, wall) = (Instant::now(), SystemTime::now());
        let mut lock = IdleLock::new(start);
        assert_eq!(lock.check(15 * MINUTE, start + CHECK_EVERY, wall + CHECK_EVERY), None);
        // Locked, then the machine slept for a night; the person unlocks after waking.
        let unlocked_at = start + 2 * CHECK_EVERY;
        lock.unlocked(unlocked_at);
        assert_eq!(lock.check(15 * MINUTE, unlocked_at + CHECK_EVERY, wall + 8 * 60 * MINUTE), None);
    }
}
