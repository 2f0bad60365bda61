//! Request ids for exactly-once calls. A caller may give a call an id
//! (`Idempotency-Key` over HTTP, `interstice call --request-id`). The
//! commit carries it in the log, so every node that replays the log (a
//! restart, a node that took over) knows it. A retry with the same id is
//! then answered with the first commit's offset instead of running the
//! reducer again.
//!
//! Ids are remembered for a window ([`RequestIds::expire`]) counted from
//! their commit's time: a retry later than that runs again. A call that
//! failed committed nothing and logged no id, so its retry runs again too.

use std::collections::{HashMap, VecDeque};

/// The longest request id accepted, in bytes.
pub const MAX_REQUEST_ID: usize = 255;

/// How long replays and snapshots remember a request id after its commit
/// (by commit time): the longest window a runtime can answer retries in.
pub const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// What the log says about one request id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The commit that carried it.
    pub offset: u64,
    /// That commit's time (µs since the Unix epoch).
    pub timestamp: u64,
    /// [`fingerprint`] of the call: a retry must be the same call.
    pub fingerprint: u64,
}

/// The request ids of the commits in a window, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestIds {
    by_id: HashMap<String, Seen>,
    /// Ids in commit order, for expiry.
    order: VecDeque<String>,
}

impl RequestIds {
    /// What the log says about `id`, if it is remembered.
    pub fn get(&self, id: &str) -> Option<Seen> {
        self.by_id.get(id).copied()
    }

    /// Remembers `id` as carried by a commit; commits come in log order.
    /// An id the log already holds keeps its first commit.
    pub fn record(&mut self, id: &str, seen: Seen) {
        if !self.by_id.contains_key(id) {
            self.by_id.insert(id.to_owned(), seen);
            self.order.push_back(id.to_owned());
        }
    }

    /// Forgets the ids of commits made before `before` (µs since the Unix
    /// epoch).
    pub fn expire(&mut self, before: u64) {
        while let Some(id) = self.order.front() {
            match self.by_id.get(id) {
                Some(seen) if seen.timestamp >= before => break,
                _ => {
                    let id = self.order.pop_front().expect("checked");
                    self.by_id.remove(&id);
                }
            }
        }
    }

    /// Every remembered id with what the log says, oldest first: what a
    /// snapshot keeps.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Seen)> {
        self.order
            .iter()
            .filter_map(|id| Some((id.as_str(), *self.by_id.get(id)?)))
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Why a request id cannot be used.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("the request id is empty".into());
    }
    if id.len() > MAX_REQUEST_ID {
        return Err(format!(
            "the request id is {} bytes, at most {MAX_REQUEST_ID}",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("the request id has control characters".into());
    }
    Ok(())
}

/// A stable 64-bit fingerprint of a call (FNV-1a over its module, reducer
/// and arguments): the same on every node and in every version, because
/// snapshots keep it.
pub fn fingerprint(module: &str, reducer: &str, args: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(module.as_bytes());
    eat(&[0]);
    eat(reducer.as_bytes());
    eat(&[0]);
    eat(args);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(offset: u64, timestamp: u64) -> Seen {
        Seen {
            offset,
            timestamp,
            fingerprint: 1,
        }
    }

    #[test]
    fn the_first_commit_of_an_id_is_kept_and_old_ids_expire() {
        let mut ids = RequestIds::default();
        ids.record("a", seen(1, 100));
        ids.record("b", seen(2, 200));
        ids.record("a", seen(3, 300));
        assert_eq!(ids.get("a"), Some(seen(1, 100)));
        assert_eq!(ids.len(), 2);
        ids.expire(150);
        assert_eq!((ids.get("a"), ids.get("b")), (None, Some(seen(2, 200))));
        let kept: Vec<_> = ids.iter().map(|(id, s)| (id.to_owned(), s)).collect();
        assert_eq!(kept, [("b".to_owned(), seen(2, 200))]);
    }

    #[test]
    fn ids_are_checked_and_fingerprints_are_stable() {
        assert!(check_id("order-42").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id(&"x".repeat(256)).is_err());
        assert!(check_id("a\nb").is_err());
        // Pinned: snapshots keep fingerprints, so they never change.
        assert_eq!(
            fingerprint("bank", "transfer", b"\x01"),
            0x8585_c82d_e740_3dd9
        );
        assert_ne!(fingerprint("ab", "c", b""), fingerprint("a", "bc", b""));
    }
}
