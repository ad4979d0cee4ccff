//! Hybrid logical clock (Kulkarni et al.) and the per-field merge rule.
//!
//! An [`Hlc`] is physical milliseconds plus a logical counter. A device's [`Clock`] never goes
//! backwards, even when the wall clock does, and after observing a remote stamp it issues stamps
//! greater than that stamp. Ties between devices are broken by the device id, so
//! [`Stamp::wins_over`] is a strict total order: applying field writes by it is commutative,
//! idempotent and order-independent.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A hybrid logical timestamp. Ordered by `(millis, counter)`.
///
/// On the wire it is a string `"<millis>-<counter>"` (both decimal), e.g. `"1732480000000-3"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc {
    pub millis: u64,
    pub counter: u32,
}

impl Hlc {
    pub const ZERO: Hlc = Hlc { millis: 0, counter: 0 };

    pub fn new(millis: u64, counter: u32) -> Self {
        Self { millis, counter }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.counter)
    }
}

/// Why a string is not an [`Hlc`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a clock value (expected \"<millis>-<counter>\"): {0:?}")]
pub struct ParseHlcError(pub String);

impl FromStr for Hlc {
    type Err = ParseHlcError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseHlcError(s.chars().take(64).collect());
        let (millis, counter) = s.split_once('-').ok_or_else(err)?;
        Ok(Hlc { millis: millis.parse().map_err(|_| err())?, counter: counter.parse().map_err(|_| err())? })
    }
}

impl Serialize for Hlc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A device's clock. Persist [`Clock::last`] and restore it with [`Clock::resume`] so the clock
/// stays monotonic across restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    last: Hlc,
}

impl Clock {
    /// Continue from a previously issued (or observed) stamp.
    pub fn resume(last: Hlc) -> Self {
        Self { last }
    }

    /// The greatest stamp issued or observed so far.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// Issue a stamp for a local event at wall-clock time `now_millis`.
    pub fn tick(&mut self, now_millis: u64) -> Hlc {
        self.last = if now_millis > self.last.millis { Hlc::new(now_millis, 0) } else { bump(self.last) };
        self.last
    }

    /// Take a remote stamp into account, so later local stamps are greater than it.
    pub fn observe(&mut self, remote: Hlc) {
        self.last = self.last.max(remote);
    }
}

fn bump(h: Hlc) -> Hlc {
    match h.counter.checked_add(1) {
        Some(counter) => Hlc::new(h.millis, counter),
        // Four billion events in one millisecond: borrow the next millisecond.
        None => Hlc::new(h.millis.saturating_add(1), 0),
    }
}

/// Who wrote a field value, and when: the unit the merge rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    pub hlc: Hlc,
    pub device: Uuid,
}

impl Stamp {
    pub fn new(hlc: Hlc, device: Uuid) -> Self {
        Self { hlc, device }
    }

    /// The merge rule: a write is applied when its `(hlc, device)` is strictly greater than the
    /// stored one. Equal stamps are the same write (idempotence).
    pub fn wins_over(&self, stored: &Stamp) -> bool {
        (self.hlc, self.device) > (stored.hlc, stored.device)
    }

    /// [`Stamp::wins_over`] where nothing stored yet always loses.
    pub fn wins_over_opt(&self, stored: Option<&Stamp>) -> bool {
        stored.is_none_or(|s| self.wins_over(s))
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.hlc, self.device).cmp(&(other.hlc, other.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tick_is_monotonic_when_the_wall_clock_goes_backwards() {
        let mut c = Clock::default();
        let a = c.tick(5_000);
        let b = c.tick(4_000);
        let c2 = c.tick(4_000);
        assert!(a < b && b < c2, "a clock must never issue a smaller stamp: {a} {b} {c2}");
        assert_eq!(b.millis, 5_000, "a backwards wall clock keeps the old physical time");
    }

    #[test]
    fn after_observing_a_remote_stamp_local_stamps_are_greater() {
        let mut c = Clock::default();
        c.tick(1_000);
        let remote = Hlc::new(9_000, 7);
        c.observe(remote);
        assert!(c.tick(1_002) > remote, "causality: a write made after seeing another must sort after it");
    }

    #[test]
    fn hlc_wire_form_round_trips_and_rejects_garbage() {
        let h = Hlc::new(1_732_480_000_000, 3);
        assert_eq!(serde_json::to_string(&h).expect("ser"), "\"1732480000000-3\"");
        assert_eq!(serde_json::from_str::<Hlc>("\"1732480000000-3\"").expect("de"), h);
        for bad in ["\"\"", "\"12\"", "\"a-b\"", "\"-1-2\"", "12"] {
            assert!(serde_json::from_str::<Hlc>(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn counter_overflow_borrows_the_next_millisecond() {
        let mut c = Clock::resume(Hlc::new(10, u32::MAX));
        assert_eq!(c.tick(10), Hlc::new(11, 0));
    }

    fn stamp() -> impl Strategy<Value = Stamp> {
        (0u64..50, 0u32..3, 0u128..3).prop_map(|(m, c, d)| Stamp::new(Hlc::new(m, c), Uuid::from_u128(d)))
    }

    proptest! {
        /// Applying the same set of writes in any order, with duplicates, converges on one value.
        #[test]
        fn merge_rule_is_order_independent_and_idempotent(unique in proptest::collection::btree_map(stamp(), 0u8..10, 1..20), seed in any::<u64>()) {
            // One device never issues the same stamp twice, so each stamp carries one value.
            let writes: Vec<(Stamp, u8)> = unique.into_iter().collect();
            let apply = |order: &[(Stamp, u8)]| {
                let mut stored: Option<(Stamp, u8)> = None;
                for (s, v) in order {
                    if s.wins_over_opt(stored.as_ref().map(|(st, _)| st)) {
                        stored = Some((*s, *v));
                    }
                }
                stored.map(|(s, _)| s)
            };
            let mut shuffled = writes.clone();
            shuffled.extend(writes.iter().take((seed % 5) as usize).cloned());
            let n = shuffled.len();
            for i in 0..n { shuffled.swap(i, (seed as usize).wrapping_mul(31).wrapping_add(i * 7) % n); }
            prop_assert_eq!(apply(&writes), apply(&shuffled));
        }

        #[test]
        fn tick_always_increases(nows in proptest::collection::vec(0u64..1000, 1..50)) {
            let mut c = Clock::default();
            let mut prev = Hlc::ZERO;
            for n in nows {
                let h = c.tick(n);
                prop_assert!(h > prev);
                prev = h;
            }
        }
    }
}
