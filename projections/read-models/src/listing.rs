//! A customer's orders, newest first, a page at a time (GET /orders).
//!
//! Orders sort by (`placed_at` descending, `order_id` descending): two orders placed in the same
//! millisecond still have one fixed order, so a page boundary never skips or repeats one. A
//! page ends with an [`OrderCursor`], the sort position of its last order; the next page is
//! everything strictly after it. Keyset paging rather than an offset: an order placed between
//! two requests shifts no later page, and every page costs one index range read.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use order_domain::{OrderId, Timestamp};

use crate::OrderView;

/// The largest `placed_at` (ms) a cursor can hold: 13 digits, the width of the sort key
/// (year 2286). A real order cannot be placed later, so a larger one is a forged cursor.
const MAX_PLACED_AT_MS: u64 = 9_999_999_999_999;
/// The longest text [`OrderCursor::decode`] looks at: a cursor encodes to 54 characters.
const MAX_ENCODED: usize = 64;

/// Where a page of a customer's orders ended: the last order's sort position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCursor {
    pub placed_at: Timestamp,
    pub order_id: OrderId,
}

/// Why a cursor's text was refused. Deliberately vague: the text is opaque to clients, so the
/// only useful answer is that it is not one this service handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor this service handed out")]
pub struct CursorError;

impl OrderCursor {
    /// The position of `view` in its customer's listing.
    pub fn of(view: &OrderView) -> Self {
        Self {
            placed_at: view.placed_at,
            order_id: view.order_id,
        }
    }

    /// The position as one string that sorts like (`placed_at`, `order_id`): the placing
    /// instant in ms, zero-padded to 13 digits, `#`, the order id (ULIDs are fixed-width
    /// Crockford base32, which sorts like the ids). Stores whose index takes a single sort key
    /// (DynamoDB's `byCustomer`, its `placedKey`) keep this.
    pub fn placed_key(&self) -> String {
        format!("{:013}#{}", self.placed_at.as_millis(), self.order_id)
    }

    /// The opaque text form handed to clients (base64url, no padding), so that nobody builds
    /// cursors by hand and the store's key layout can change behind it.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.placed_key())
    }

    /// Reads a cursor [`encode`](Self::encode) produced.
    ///
    /// # Errors
    /// Anything else: not base64url, not the layout inside, an id that is not a ULID, an
    /// instant past the sort key's width, or any text that would not encode back to itself
    /// (lower-case ids, leading `+`, stray bits): such a cursor was never handed out.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        if text.is_empty() || text.len() > MAX_ENCODED {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let inner = std::str::from_utf8(&bytes).map_err(|_| CursorError)?;
        let cursor = Self::from_placed_key(inner)?;
        if cursor.encode() != text {
            return Err(CursorError);
        }
        Ok(cursor)
    }

    /// Reads a [`placed_key`](Self::placed_key) back: the position a store's index keeps
    /// (DynamoDB's `byCustomerKeys` index projects only its keys, so a page's cursor is made
    /// from the last key it read).
    ///
    /// # Errors
    /// Not 13 digits, `#` and a ULID, or an instant past the sort key's width.
    pub fn from_placed_key(key: &str) -> Result<Self, CursorError> {
        let (ms, id) = key.split_once('#').ok_or(CursorError)?;
        if ms.len() != 13 || !ms.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CursorError);
        }
        let ms: u64 = ms.parse().map_err(|_| CursorError)?;
        if ms > MAX_PLACED_AT_MS {
            return Err(CursorError);
        }
        Ok(Self {
            placed_at: Timestamp::from_millis(ms),
            order_id: OrderId::parse(id).map_err(|_| CursorError)?,
        })
    }

    /// Whether `view` belongs after this position (on a later page): placed earlier, or in
    /// the same millisecond with a smaller id.
    pub fn admits(&self, view: &OrderView) -> bool {
        (view.placed_at, view.order_id) < (self.placed_at, self.order_id)
    }
}

/// One page of a customer's orders, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderPage {
    pub orders: Vec<OrderView>,
    /// Where the next page starts; `None` when no order comes after this page.
    pub next: Option<OrderCursor>,
}

impl OrderPage {
    /// The page of at most `limit` orders from `fetched`, which a store read with a limit of
    /// `limit + 1` in listing order: the extra row only says whether a next page exists, so a
    /// last page that is exactly full still ends with `next: None`.
    pub fn from_fetched(mut fetched: Vec<OrderView>, limit: usize) -> Self {
        let more = fetched.len() > limit;
        fetched.truncate(limit);
        let next = if more {
            fetched.last().map(OrderCursor::of)
        } else {
            None
        };
        Self {
            orders: fetched,
            next,
        }
    }
}

/// The listing's order: newest first, ties by id descending. For stores that sort in memory
/// and for tests' expectations.
pub fn newest_first(a: &OrderView, b: &OrderView) -> std::cmp::Ordering {
    (b.placed_at, b.order_id).cmp(&(a.placed_at, a.order_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(ms: u64) -> OrderCursor {
        OrderCursor {
            placed_at: Timestamp::from_millis(ms),
            order_id: OrderId::generate(),
        }
    }

    #[test]
    fn a_cursor_round_trips_through_its_text() {
        for ms in [0, 1, 1_767_225_600_123, MAX_PLACED_AT_MS] {
            let c = cursor(ms);
            let text = c.encode();
            assert!(text.len() <= MAX_ENCODED, "{text}");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(OrderCursor::decode(&text), Ok(c));
        }
    }

    #[test]
    fn a_cursor_is_read_back_from_its_placed_key_and_nothing_else() {
        for ms in [0, 1_767_225_600_123, MAX_PLACED_AT_MS] {
            let c = cursor(ms);
            assert_eq!(OrderCursor::from_placed_key(&c.placed_key()), Ok(c));
        }
        let id = OrderId::generate();
        for bad in [
            String::new(),
            format!("{id}"),
            format!("123#{id}"),
            format!("000000000000x#{id}"),
            "0000000000001#not-a-ulid".to_owned(),
            format!("+000000000001#{id}"),
        ] {
            assert_eq!(
                OrderCursor::from_placed_key(&bad),
                Err(CursorError),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_placed_key_sorts_like_the_position() {
        let a = cursor(999);
        let b = cursor(1_000);
        assert!(a.placed_key() < b.placed_key());
        assert_eq!(a.placed_key().len(), 13 + 1 + 26);
        let same_ms = OrderCursor {
            placed_at: a.placed_at,
            order_id: OrderId::generate(),
        };
        assert_eq!(
            a.placed_key().cmp(&same_ms.placed_key()),
            a.order_id.cmp(&same_ms.order_id)
        );
    }

    #[test]
    fn malformed_cursors_are_refused() {
        let good = cursor(1_767_225_600_123);
        let id = good.order_id.to_string();
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let refused = [
            String::new(),
            "!!!!".into(),
            "a".repeat(200),
            format!("{}=", good.encode()),
            format!("+{}", &good.encode()[1..]),
            b64("1767225600123"),
            b64(&format!("1767225600123#{}", id.to_lowercase())),
            b64(&format!("1767225600123#{id}x")),
            b64(&format!("176722560012#{id}")),
            b64(&format!("+767225600123#{id}")),
            b64(&format!("1767225600123#8{}", &id[1..])),
            b64(&format!("1767225600123|{id}")),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, b'#']),
        ];
        for text in &refused {
            assert_eq!(OrderCursor::decode(text), Err(CursorError), "{text:?}");
        }
    }

    #[test]
    fn a_cursor_whose_text_has_stray_bits_is_refused() {
        // The last base64 character of a 40-byte payload carries 4 unused bits: a variant
        // with them set decodes to the same bytes but was never handed out.
        let text = cursor(5).encode();
        let last = text.chars().last().unwrap();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet
            .iter()
            .position(|&c| char::from(c) == last)
            .unwrap();
        assert_eq!(index & 0b1111, 0, "canonical: the unused bits are zero");
        let forged = format!(
            "{}{}",
            &text[..text.len() - 1],
            char::from(alphabet[index | 1])
        );
        assert_eq!(OrderCursor::decode(&forged), Err(CursorError));
    }
}
