//! The schedule of due work: which order takes its next lifecycle step, and when.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use foldhash::HashMap;

/// Each order's next step, in due order (ties in the order they were scheduled).
#[derive(Debug, Default)]
pub(super) struct Schedule {
    due: BTreeSet<(DateTime<Utc>, u64, String)>,
    /// Each scheduled order's entry, so that unscheduling one does not scan them all.
    by_order: HashMap<String, (DateTime<Utc>, u64)>,
    next_seq: u64,
}

impl Schedule {
    /// Schedules `order`'s next step at `at`, replacing any step it had.
    pub(super) fn set(&mut self, order: &str, at: DateTime<Utc>) {
        self.remove(order);
        self.next_seq += 1;
        self.due.insert((at, self.next_seq, order.to_string()));
        self.by_order.insert(order.to_string(), (at, self.next_seq));
    }

    /// Takes `order` off the schedule.
    pub(super) fn remove(&mut self, order: &str) {
        if let Some((at, seq)) = self.by_order.remove(order) {
            self.due.remove(&(at, seq, order.to_string()));
        }
    }

    /// When the next step is due.
    pub(super) fn next_due(&self) -> Option<DateTime<Utc>> {
        self.due.first().map(|(at, _, _)| *at)
    }

    /// Every order with a step to come (open, or filled and waiting to settle).
    pub(super) fn orders(&self) -> impl Iterator<Item = &str> {
        self.by_order.keys().map(String::as_str)
    }

    /// Takes the first step due at or before `until`: when, and whose.
    pub(super) fn pop_due(&mut self, until: DateTime<Utc>) -> Option<(DateTime<Utc>, String)> {
        if self.next_due()? > until {
            return None;
        }
        let (at, _, order) = self.due.pop_first()?;
        self.by_order.remove(&order);
        Some((at, order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn steps_come_out_in_due_order_and_a_removed_one_never_does() {
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        let mut schedule = Schedule::default();
        schedule.set("b", t(20));
        schedule.set("a", t(10));
        schedule.set("c", t(20));
        schedule.set("b", t(30)); // replaces b's step
        schedule.remove("c");
        assert_eq!(schedule.next_due(), Some(t(10)));
        assert_eq!(schedule.pop_due(t(5)), None);
        assert_eq!(schedule.pop_due(t(100)), Some((t(10), "a".to_string())));
        assert_eq!(schedule.pop_due(t(100)), Some((t(30), "b".to_string())));
        assert_eq!(schedule.pop_due(t(100)), None);
        assert!(schedule.by_order.is_empty());
    }
}
