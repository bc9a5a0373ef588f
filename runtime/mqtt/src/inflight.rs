//! Which journal records the broker has fully acknowledged.
//!
//! Publishes are submitted in order; the client reports the packet id it gave each
//! one as it goes out (in the same order), then the broker's PUBACKs name those ids.
//! A record counts as delivered when every publish it made, and every publish before
//! them, is acknowledged: the outbox cursor only ever moves over a gap-free prefix,
//! so a restart re-sends from the first record that might be missing.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The record this publish completes (the last publish of a record), if any.
    completes: Option<u64>,
    pkid: Option<u16>,
    acked: bool,
}

/// Publishes submitted and not yet acknowledged as a prefix.
#[derive(Debug, Default)]
pub struct Inflight {
    queue: VecDeque<Entry>,
    /// Index of the first entry without a packet id.
    unassigned: usize,
}

impl Inflight {
    /// Nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// A publish was handed to the client; `completes` is the record's sequence
    /// number for the record's last publish, `None` otherwise (and for publishes
    /// that are not records: availability, discovery).
    pub fn submitted(&mut self, completes: Option<u64>) {
        self.queue.push_back(Entry {
            completes,
            pkid: None,
            acked: false,
        });
    }

    /// The client sent the next submitted publish with packet id `pkid`.
    pub fn sent(&mut self, pkid: u16) {
        if let Some(entry) = self.queue.get_mut(self.unassigned) {
            entry.pkid = Some(pkid);
            self.unassigned += 1;
        } else {
            log::warn!("mqtt: packet {pkid} went out with no publish waiting for it");
        }
    }

    /// The broker acknowledged `pkid`; returns the newest record now delivered
    /// with everything before it, if that moved.
    pub fn acked(&mut self, pkid: u16) -> Option<u64> {
        let entry = self
            .queue
            .iter_mut()
            .take(self.unassigned)
            .find(|e| e.pkid == Some(pkid) && !e.acked);
        match entry {
            Some(e) => e.acked = true,
            None => {
                log::debug!("mqtt: PUBACK for packet {pkid}, which is not in flight");
                return None;
            }
        }
        let mut delivered = None;
        while self.queue.front().is_some_and(|e| e.acked) {
            let e = self.queue.pop_front().expect("front checked");
            self.unassigned -= 1;
            delivered = e.completes.or(delivered);
        }
        delivered
    }

    /// Publishes not yet acknowledged.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether everything submitted is acknowledged.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Forgets everything (the connection dropped; the records are sent again).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.unassigned = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_advances_only_over_a_gap_free_prefix() {
        let mut f = Inflight::new();
        f.submitted(None); // availability
        f.submitted(None); // record 1, stream
        f.submitted(Some(1)); // record 1, state
        f.submitted(Some(2)); // record 2
        for pkid in 1..=4 {
            f.sent(pkid);
        }
        assert_eq!(f.acked(4), None, "record 2 waits for record 1");
        assert_eq!(f.acked(2), None, "and for the availability before it");
        assert_eq!(f.acked(1), None, "record 1's second publish is still out");
        assert_eq!(f.acked(3), Some(2));
        assert!(f.is_empty());
    }

    #[test]
    fn reused_packet_ids_match_the_publish_still_out() {
        let mut f = Inflight::new();
        f.submitted(Some(1));
        f.sent(7);
        assert_eq!(f.acked(7), Some(1));
        f.submitted(Some(2));
        f.sent(7);
        assert_eq!(f.acked(7), Some(2));
        assert_eq!(f.acked(7), None, "a duplicate PUBACK changes nothing");
    }

    #[test]
    fn acks_for_unsent_ids_are_ignored() {
        let mut f = Inflight::new();
        f.submitted(Some(1));
        assert_eq!(f.acked(1), None);
        assert_eq!(f.len(), 1);
    }
}
