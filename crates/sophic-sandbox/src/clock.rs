//! The sandbox's clock: real time for demos, or held still and moved only on command so
//! tests are deterministic.

use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

/// How the sandbox's time passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// Wall-clock time; orders move on their own after the configured delays.
    Realtime,
    /// Time stands still until advanced (`POST /sandbox/clock/advance` or the handle).
    Held,
}

impl ClockMode {
    /// The mode's name as the control endpoints show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockMode::Realtime => "realtime",
            ClockMode::Held => "held",
        }
    }
}

/// The sandbox's notion of now.
#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    /// Held mode: the current instant. Realtime mode: an offset added to wall time by
    /// `advance`, so that a demo can skip ahead too.
    held: Mutex<DateTime<Utc>>,
    offset: Mutex<TimeDelta>,
}

impl Clock {
    /// A clock in `mode`; a held clock starts at `start`.
    pub fn new(mode: ClockMode, start: DateTime<Utc>) -> Self {
        Self {
            mode,
            held: Mutex::new(start),
            offset: Mutex::new(TimeDelta::zero()),
        }
    }

    /// The mode.
    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    /// Now, by the sandbox.
    pub fn now(&self) -> DateTime<Utc> {
        match self.mode {
            ClockMode::Held => *lock(&self.held),
            // Milliseconds are enough for an order's timestamps, and read better.
            ClockMode::Realtime => {
                let now = Utc::now() + *lock(&self.offset);
                now - TimeDelta::nanoseconds(i64::from(now.timestamp_subsec_nanos() % 1_000_000))
            }
        }
    }

    /// A real-time clock's offset from the wall clock (zero for a held clock).
    pub fn offset(&self) -> TimeDelta {
        *lock(&self.offset)
    }

    /// Takes `other`'s time (a restored snapshot's).
    pub fn copy_from(&self, other: &Clock) {
        *lock(&self.held) = *lock(&other.held);
        *lock(&self.offset) = *lock(&other.offset);
    }

    /// Sets a real-time clock's offset (a state's, on load).
    pub fn set_offset(&self, offset: TimeDelta) {
        *lock(&self.offset) = offset;
    }

    /// Moves time forward to `to` (never backwards).
    pub fn advance_to(&self, to: DateTime<Utc>) {
        match self.mode {
            ClockMode::Held => {
                let mut held = lock(&self.held);
                if to > *held {
                    *held = to;
                }
            }
            ClockMode::Realtime => {
                let now = self.now();
                if to > now {
                    *lock(&self.offset) += to - now;
                }
            }
        }
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every critical
/// section of the sandbox leaves its data consistent before anything can panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
