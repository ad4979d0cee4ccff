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
