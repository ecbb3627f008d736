//! Idempotency keys (contract section 8): the first answer for a key is stored for 24
//! hours and replayed; a different request with the key is a conflict; a key whose first
//! request is still running is refused; validation failures store nothing.

use foldhash::HashMap;

use axum::body::Bytes;
use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

/// How long an answer is replayed.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

/// A stored answer.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Its status.
    pub status: StatusCode,
    /// Its JSON body.
    pub body: Body,
}

/// A stored answer's body: its bytes, or the order it showed, as it was then (an order's
/// versions are shared and never change once made, so it serializes to the same bytes
/// whenever it is replayed, and costs nothing to keep beside the world's own copy).
#[derive(Clone, Debug)]
pub enum Body {
    /// JSON bytes.
    Bytes(Bytes),
    /// The order, to be serialized when replayed.
    Order(std::sync::Arc<crate::world::StoredOrder>),
}

impl Body {
    /// The JSON bytes.
    pub fn bytes(&self) -> Bytes {
        match self {
            Body::Bytes(bytes) => bytes.clone(),
            Body::Order(order) => {
                Bytes::from(serde_json::to_vec(&order.to_order()).expect("orders serialize"))
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Entry {
    Running {
        fingerprint: [u8; 32],
    },
    Done {
        fingerprint: [u8; 32],
        answer: Stored,
        at: DateTime<Utc>,
    },
}

/// What to do with a request carrying a key.
#[derive(Debug)]
pub enum Claim {
    /// First use: run it, then [`Store::finish`] or [`Store::abandon`].
    Run,
    /// Seen before: replay this answer.
    Replay(Stored),
    /// The key was used for a different request.
    Reused,
    /// The first request with this key is still running.
    InProgress,
}

/// Keys per authenticated principal: each principal's keys in a map of their own, so that
/// an entry does not carry its principal's id (a look-up copies no string either).
#[derive(Debug, Default)]
pub struct Store {
    entries: HashMap<String, HashMap<Box<str>, Entry>>,
    /// How many keys are stored, over all principals.
    len: usize,
    /// How many entries the last sweep of expired ones left: the next sweep runs when the
    /// store has doubled, so sweeping costs O(1) per stored answer.
    after_sweep: usize,
}

/// What identifies "the same request": method, path, query and body.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), path_and_query.as_bytes(), body] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.finalize().into()
}

impl Store {
    fn get(&self, principal: &str, key: &str) -> Option<&Entry> {
        self.entries.get(principal)?.get(key)
    }

    fn insert(&mut self, principal: &str, key: &str, entry: Entry) {
        let keys = match self.entries.get_mut(principal) {
            Some(keys) => keys,
            None => self.entries.entry(principal.to_string()).or_default(),
        };
        // A key already there keeps its allocation (a claimed key is finished in place).
        match keys.get_mut(key) {
            Some(slot) => *slot = entry,
            None => {
                keys.insert(key.into(), entry);
                self.len += 1;
            }
        }
    }

    /// Claims `key` for a request, or says why not.
    pub fn claim(
        &mut self,
        principal: &str,
        key: &str,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
    ) -> Claim {
        match self.get(principal, key) {
            Some(Entry::Done { at, .. }) if now - *at >= RETENTION => {}
            Some(Entry::Done {
                fingerprint: f,
                answer,
                ..
            }) if *f == fingerprint => {
                return Claim::Replay(answer.clone());
            }
            Some(Entry::Done { .. }) => return Claim::Reused,
            Some(Entry::Running { .. }) => return Claim::InProgress,
            None => {}
        }
        self.insert(principal, key, Entry::Running { fingerprint });
        Claim::Run
    }

    /// The answer stored for `key` and its request's fingerprint, if one is (and not
    /// expired by `now`).
    pub fn answered(
        &self,
        principal: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Option<([u8; 32], Stored)> {
        match self.get(principal, key)? {
            Entry::Done {
                fingerprint,
                answer,
                at,
            } if now - *at < RETENTION => Some((*fingerprint, answer.clone())),
            _ => None,
        }
    }

    /// Whether `key` is claimed by a request with `fingerprint`, still running.
    pub fn is_claimed(&self, principal: &str, key: &str, fingerprint: [u8; 32]) -> bool {
        matches!(
            self.get(principal, key),
            Some(Entry::Running { fingerprint: f }) if *f == fingerprint
        )
    }

    /// Stores the answer of a claimed key (nothing, if it is no longer claimed).
    pub fn finish(&mut self, principal: &str, key: &str, answer: Stored, now: DateTime<Utc>) {
        if let Some(Entry::Running { fingerprint }) = self.get(principal, key).cloned() {
            self.keep(principal, key, fingerprint, answer, now);
        }
    }

    /// Stores the answer for a key and the request it answered, claimed or not (a state's
    /// journal stores it again on load, when nothing is claimed).
    pub fn keep(
        &mut self,
        principal: &str,
        key: &str,
        fingerprint: [u8; 32],
        answer: Stored,
        now: DateTime<Utc>,
    ) {
        self.insert(
            principal,
            key,
            Entry::Done {
                fingerprint,
                answer,
                at: now,
            },
        );
        if self.len >= 2 * self.after_sweep.max(1024) {
            self.forget_expired(now);
        }
    }

    /// Forgets the answers older than [`RETENTION`], which are never replayed again.
    pub fn forget_expired(&mut self, now: DateTime<Utc>) {
        for keys in self.entries.values_mut() {
            keys.retain(|_, e| !matches!(e, Entry::Done { at, .. } if now - *at >= RETENTION));
        }
        self.entries.retain(|_, keys| !keys.is_empty());
        self.len = self.entries.values().map(HashMap::len).sum();
        self.after_sweep = self.len;
    }

    /// How many keys are stored (running or answered).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets a claimed key (the request failed validation, so it may be retried).
    pub fn abandon(&mut self, principal: &str, key: &str) {
        let Some(keys) = self.entries.get_mut(principal) else {
            return;
        };
        if keys.remove(key).is_some() {
            self.len -= 1;
        }
        if keys.is_empty() {
            self.entries.remove(principal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_24_hours_and_swept_after() {
        let mut store = Store::default();
        let t0: DateTime<Utc> = "2026-03-12T14:30:00Z".parse().unwrap();
        let answer = || Stored {
            status: StatusCode::CREATED,
            body: Body::Bytes(Bytes::from_static(b"{}")),
        };
        assert!(matches!(store.claim("p", "k", [0; 32], t0), Claim::Run));
        store.finish("p", "k", answer(), t0);
        let almost = t0 + RETENTION - TimeDelta::seconds(1);
        store.forget_expired(almost);
        assert!(matches!(
            store.claim("p", "k", [0; 32], almost),
            Claim::Replay(_)
        ));
        store.forget_expired(t0 + RETENTION);
        assert!(store.is_empty());
    }

    #[test]
    fn keys_are_per_principal_and_counted_over_all() {
        let mut store = Store::default();
        let t0: DateTime<Utc> = "2026-03-12T14:30:00Z".parse().unwrap();
        assert!(matches!(store.claim("p", "k", [0; 32], t0), Claim::Run));
        assert!(matches!(store.claim("q", "k", [1; 32], t0), Claim::Run));
        assert!(matches!(
            store.claim("p", "k", [0; 32], t0),
            Claim::InProgress
        ));
        assert_eq!(store.len(), 2);
        store.abandon("p", "k");
        store.abandon("p", "never claimed");
        assert_eq!(store.len(), 1);
        assert!(store.is_claimed("q", "k", [1; 32]));
        assert!(!store.is_claimed("p", "k", [0; 32]));
        // Finishing a claimed key replaces it in place: still one key, now answered.
        let answer = Stored {
            status: StatusCode::CREATED,
            body: Body::Bytes(Bytes::from_static(b"{}")),
        };
        store.finish("q", "k", answer, t0);
        assert_eq!(store.len(), 1);
        assert!(matches!(
            store.claim("q", "k", [1; 32], t0),
            Claim::Replay(_)
        ));
    }
}
