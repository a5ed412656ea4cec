//! Tokens already verified, so a client that sends the same token with every request pays for
//! one signature check, not one per request (an ES256 verification costs about a tenth of
//! an order's CPU on the local server). Keyed by the token's SHA-256, so the cache never holds
//! a usable credential; an entry is only trusted until the token's `exp` (plus the leeway).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;

use super::Caller;

/// Most tokens remembered; when full, expired ones go, and if none has expired, all.
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub struct Verified {
    entries: Mutex<HashMap<[u8; 32], (Caller, u64)>>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn key(token: &str) -> [u8; 32] {
    let mut k = [0; 32];
    k.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
    k
}

impl Verified {
    /// The caller of a token verified before, while it is still valid (`until`, in seconds
    /// since the epoch, includes the leeway).
    pub fn get(&self, token: &str) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        let (caller, until) = entries.get(&key(token))?;
        (now_secs() <= *until).then(|| caller.clone())
    }

    /// Remembers a verified token's caller until `until`.
    pub fn put(&self, token: &str, caller: &Caller, until: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY {
            let now = now_secs();
            entries.retain(|_, (_, until)| *until >= now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key(token), (caller.clone(), until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use order_domain::CustomerId;

    fn caller(id: &str) -> Caller {
        Caller {
            customer: CustomerId::parse(id).unwrap(),
            email: None,
            admin: false,
        }
    }

    #[test]
    fn a_token_is_remembered_until_it_expires_and_the_cache_stays_bounded() {
        let cache = Verified::default();
        let now = now_secs();
        cache.put("a.b.c", &caller("c-1"), now + 60);
        cache.put("a.b.d", &caller("c-2"), now - 1);
        assert_eq!(cache.get("a.b.c"), Some(caller("c-1")));
        assert_eq!(cache.get("a.b.d"), None, "expired");
        assert_eq!(cache.get("a.b.e"), None, "never seen");
        for i in 0..CAPACITY * 2 {
            cache.put(&format!("t{i}"), &caller("c-3"), now + 60);
        }
        assert!(cache.entries.lock().unwrap().len() <= CAPACITY);
    }
}
