//! Text that is shared when it is cloned instead of copied.
//!
//! A recorded event is cloned far more often than it is made: each step of an order loads the
//! order's history from the embedded store's stream cache, the change feed hands the same
//! events to every projection, and each clone of a `String` field was an allocation and a copy
//! (about 80 per local order, the largest site left in the allocation counts). An event's text
//! fields are [`SharedStr`]s: a clone moves a reference count. Making one costs what making a
//! `String` did (one allocation), and it reads, compares, prints and serializes as the text it
//! holds.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::values::{EventId, OrderId};

/// Text that reads as a `str`, serialized as a plain string. Made from text, it is shared: a
/// clone is a reference count. A buffer that one reader refills row after row (replay reads
/// millions of events into one) is owned instead ([`SharedStr::set`]), so the refill keeps its
/// capacity; a clone of that copies, as a `String`'s would.
#[derive(Clone)]
pub struct SharedStr(Repr);

#[derive(Clone)]
enum Repr {
    Shared(Arc<str>),
    Owned(String),
}

impl Default for SharedStr {
    fn default() -> Self {
        Self(Repr::Owned(String::new()))
    }
}

impl SharedStr {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Shared(text) => text,
            Repr::Owned(text) => text,
        }
    }

    /// Replaces the text in place, reusing this value's buffer when it owns one (the first
    /// call on shared text makes the buffer): for a reader that refills one event per row.
    pub fn set(&mut self, text: &str) {
        match &mut self.0 {
            Repr::Owned(buffer) => {
                buffer.clear();
                buffer.push_str(text);
            }
            Repr::Shared(_) => self.0 = Repr::Owned(text.to_owned()),
        }
    }

    /// Whether both hold the very same shared text (one allocation), not merely equal text.
    pub(crate) fn is_same_text(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Shared(a), Repr::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// `prefix` followed by `rest`, made with one allocation when short (stream ids).
    pub fn joined(prefix: &str, rest: &str) -> Self {
        let mut buf = [0u8; 96];
        let len = prefix.len() + rest.len();
        match buf.get_mut(..len) {
            Some(out) => {
                out[..prefix.len()].copy_from_slice(prefix.as_bytes());
                out[prefix.len()..].copy_from_slice(rest.as_bytes());
                match std::str::from_utf8(out) {
                    Ok(text) => Self::from(text),
                    Err(_) => unreachable!("two strs joined are UTF-8"),
                }
            }
            None => Self::from(format!("{prefix}{rest}")),
        }
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for SharedStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for SharedStr {
    fn as_ref(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        Self(Repr::Shared(Arc::from(text)))
    }
}

impl From<&SharedStr> for SharedStr {
    fn from(text: &SharedStr) -> Self {
        text.clone()
    }
}

impl From<&String> for SharedStr {
    fn from(text: &String) -> Self {
        Self::from(text.as_str())
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        Self(Repr::Shared(Arc::from(text)))
    }
}

/// An id's text, written without a `String` on the way.
impl From<OrderId> for SharedStr {
    fn from(id: OrderId) -> Self {
        Self::from(id.encode(&mut [0; ulid::ULID_LEN]))
    }
}

impl From<EventId> for SharedStr {
    fn from(id: EventId) -> Self {
        Self::from(id.encode(&mut [0; ulid::ULID_LEN]))
    }
}

impl From<SharedStr> for String {
    fn from(text: SharedStr) -> Self {
        match text.0 {
            Repr::Shared(shared) => shared.as_ref().to_owned(),
            Repr::Owned(owned) => owned,
        }
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, other: &SharedStr) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    /// From the text where the deserializer holds it: one allocation, as a `String`'s.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text::parse_str(d, |text| {
            Ok::<_, std::convert::Infallible>(Self::from(text))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SharedStr;

    #[test]
    fn a_clone_shares_the_text_and_everything_reads_it_as_the_string() {
        let a = SharedStr::from("order#01J");
        let b = a.clone();
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "cloned, not copied");
        assert_eq!(a, "order#01J");
        assert_eq!("order#01J", a);
        assert_eq!(a, String::from("order#01J"));
        assert_eq!(format!("{a} {a:?}"), r#"order#01J "order#01J""#);
        assert_eq!(String::from(a.clone()), "order#01J");
        assert!(a.starts_with("order#"), "derefs to str");
    }

    #[test]
    fn it_serializes_as_a_plain_string_and_reads_back_from_any_text() {
        let a = SharedStr::from("x\"y");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#""x\"y""#);
        assert_eq!(serde_json::from_str::<SharedStr>(&json).unwrap(), a);
        let owned: SharedStr = serde_json::from_value(serde_json::json!("x\"y")).unwrap();
        assert_eq!(owned, a);
        assert!(serde_json::from_str::<SharedStr>("7").is_err());
    }

    #[test]
    fn a_refilled_buffer_keeps_its_capacity_and_compares_by_its_text() {
        let mut row = SharedStr::from("first");
        row.set("a longer second text");
        let capacity_at = row.as_str().as_ptr();
        row.set("third");
        assert_eq!(row.as_ptr(), capacity_at, "refilled in place");
        assert_eq!(row, SharedStr::from("third"), "owned equals shared");
        let copy = row.clone();
        assert_eq!(copy, "third");
        row.set("fourth");
        assert_eq!(copy, "third", "a clone of a buffer is its own");
        let mut set = std::collections::HashSet::new();
        set.insert(SharedStr::from("x"));
        assert!(set.contains("x"), "hashes as its text");
    }

    #[test]
    fn joined_text_is_the_two_parts_short_or_long() {
        assert_eq!(SharedStr::joined("order#", "01J"), "order#01J");
        let long = "p".repeat(200);
        assert_eq!(
            SharedStr::joined("product#", &long),
            format!("product#{long}")
        );
        assert_eq!(SharedStr::joined("", ""), "");
    }
}
