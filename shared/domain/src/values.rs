//! Validated newtypes. Each `parse` is the only way in, so a value held is a value checked.
//! Errors name the rule that failed; the HTTP layer adds the field path.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

use crate::shared_str::SharedStr;

/// Why a value was refused. The message is safe to show to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn err(msg: impl Into<String>) -> ValueError {
    ValueError(msg.into())
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::text::parse_str(d, <$t>::parse)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $t {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }
    };
}

/// An order's id: a ULID, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(Ulid);

impl OrderId {
    pub fn generate() -> Self {
        Self(Ulid::generate())
    }

    /// A ULID in Crockford base32, upper or lower case. A first character above `7` would
    /// overflow 128 bits (the decoder wraps it silently, so `8…` would alias `0…`): refused.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if !text.starts_with(|c: char| ('0'..='7').contains(&c)) {
            return Err(err("must be a 26-character ULID"));
        }
        Ulid::from_string(text)
            .map(Self)
            .map_err(|_| err("must be a 26-character ULID"))
    }

    pub fn as_str(&self) -> String {
        self.0.to_string()
    }

    /// The id's text written into `buf`: [`Self::as_str`] without an allocation.
    pub fn encode<'b>(&self, buf: &'b mut [u8; ulid::ULID_LEN]) -> &'b str {
        self.0.array_to_str(buf)
    }

    /// The order's event stream, `order#<ULID>`.
    pub fn stream(&self) -> StreamId {
        StreamId(SharedStr::joined(
            "order#",
            self.encode(&mut [0; ulid::ULID_LEN]),
        ))
    }
}

impl Serialize for OrderId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.encode(&mut [0; ulid::ULID_LEN]))
    }
}
impl<'de> Deserialize<'de> for OrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::text::parse_str(d, Self::parse)
    }
}
impl fmt::Display for OrderId {
    /// One `write_str` of the encoded id: the ULID's own `Display` went through the
    /// formatter's machinery twice (the pipeline prints about ten ids an order).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; ulid::ULID_LEN]))
    }
}
impl FromStr for OrderId {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        Self::parse(s)
    }
}

/// An event's id: a ULID, unique across the log. Also the deduplication id of anything the
/// event causes downstream (bus events, emails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(Ulid);

impl EventId {
    pub fn generate() -> Self {
        Self(Ulid::generate())
    }

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        Ulid::from_string(text)
            .map(Self)
            .map_err(|_| err("must be a 26-character ULID"))
    }

    /// The id's text written into `buf`, without an allocation.
    pub fn encode<'b>(&self, buf: &'b mut [u8; ulid::ULID_LEN]) -> &'b str {
        self.0.array_to_str(buf)
    }
}

impl fmt::Display for EventId {
    /// One `write_str` of the encoded id: the ULID's own `Display` went through the
    /// formatter's machinery twice (the pipeline prints about ten ids an order).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode(&mut [0; ulid::ULID_LEN]))
    }
}

/// A product's id: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(err(
                "must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The product's event stream, `product#<ProductID>`.
    pub fn stream(&self) -> StreamId {
        StreamId(SharedStr::joined("product#", &self.0))
    }
}
string_serde!(ProductId);

/// The customer's own id, as the shop knows them: 1 to 128 printable characters, not
/// beginning with `#`. Ids beginning with `#` are reserved for the stores' own records: a key
/// store may keep its wrapping key beside the customers' keys under one, where no customer's
/// id (and so no `forget`) can reach it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerId(String);

impl CustomerId {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let ok = !text.is_empty()
            && text.chars().count() <= 128
            && !text.chars().any(char::is_control)
            && text.trim() == text
            && !text.starts_with('#');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(err(
                "must be 1 to 128 characters, without control characters or surrounding spaces, \
                 not beginning with '#'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_serde!(CustomerId);

/// An email address, checked strictly enough that it can go into a mail header unchanged:
/// ASCII only, no spaces, quotes, angle brackets or line breaks, a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let bad =
            || err("must be an address like name@example.com (ASCII, at most 254 characters)");
        if text.len() > 254 || !text.is_ascii() {
            return Err(bad());
        }
        let (local, domain) = text.rsplit_once('@').ok_or_else(bad)?;
        let local_ok = (1..=64).contains(&local.len())
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                (1..=63).contains(&l.len())
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if local_ok && domain_ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_serde!(Email);

/// A payment method token from the (simulated) gateway: `tok_` and 1 to 60 of `a-z 0-9 _`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PaymentToken(String);

impl PaymentToken {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let ok = text.strip_prefix("tok_").is_some_and(|rest| {
            (1..=60).contains(&rest.len())
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(err(
                "must look like tok_visa: 'tok_' then 1 to 60 of a-z, 0-9, '_'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_serde!(PaymentToken);

/// How many of one product a line orders: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 1_000;

    pub fn new(n: i64) -> Result<Self, ValueError> {
        if (1..=i64::from(Self::MAX)).contains(&n) {
            Ok(Self(u32::try_from(n).unwrap_or(Self::MAX)))
        } else {
            Err(err(format!(
                "must be a whole number from 1 to {}",
                Self::MAX
            )))
        }
    }

    pub const fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An amount of money in minor units (cents). One currency per shop, so no currency code.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(u64);

impl Money {
    pub const fn from_minor(minor: u64) -> Self {
        Self(minor)
    }

    pub const fn minor(self) -> u64 {
        self.0
    }

    /// `self × quantity`, or `None` on overflow.
    pub fn times(self, quantity: Quantity) -> Option<Self> {
        self.0.checked_mul(u64::from(quantity.get())).map(Self)
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// An event stream's id: `order#<ULID>` or `product#<ProductID>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(SharedStr);

impl StreamId {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if let Some(rest) = text.strip_prefix("order#") {
            OrderId::parse(rest).map(|id| id.stream())
        } else if let Some(rest) = text.strip_prefix("product#") {
            ProductId::parse(rest).map(|id| id.stream())
        } else {
            Err(err("must start with 'order#' or 'product#'"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The order this stream belongs to, if it is an order stream.
    pub fn order_id(&self) -> Option<OrderId> {
        self.0
            .strip_prefix("order#")
            .and_then(|r| OrderId::parse(r).ok())
    }

    /// The product this stream belongs to, if it is a product stream.
    pub fn product_id(&self) -> Option<ProductId> {
        self.0
            .strip_prefix("product#")
            .and_then(|r| ProductId::parse(r).ok())
    }
}
string_serde!(StreamId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_id_that_would_overflow_128_bits_is_rejected_not_wrapped() {
        let id = OrderId::generate().to_string();
        assert!(OrderId::parse(&id).is_ok());
        assert!(OrderId::parse(&id.to_lowercase()).is_ok());
        for first in ['8', 'Z', 'z'] {
            let alias = format!("{first}{}", &id[1..]);
            assert!(
                OrderId::parse(&alias).is_err(),
                "{alias} must not alias {id}"
            );
        }
    }

    #[test]
    fn an_email_with_a_line_break_is_rejected() {
        assert!(Email::parse("a@example.com\r\nBcc: x@evil.com").is_err());
        assert!(Email::parse("\"a b\"@example.com").is_err());
        assert!(Email::parse("a@localhost").is_err());
        assert!(Email::parse("jane.doe+shop@example.co.uk").is_ok());
    }

    #[test]
    fn a_customer_id_beginning_with_a_hash_is_the_stores_own_and_rejected() {
        assert!(CustomerId::parse("#wrapping-key").is_err());
        assert!(CustomerId::parse("#").is_err());
        assert!(CustomerId::parse("c#1").is_ok(), "a hash elsewhere is fine");
        assert!(CustomerId::parse(" c-1").is_err());
        assert!(CustomerId::parse(&"x".repeat(129)).is_err());
        assert!(CustomerId::parse("c-1").is_ok());
    }

    #[test]
    fn zero_negative_and_huge_quantities_are_rejected() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert!(Quantity::new(1_001).is_err());
        assert_eq!(Quantity::new(1_000).unwrap().get(), 1_000);
    }

    #[test]
    fn a_product_id_with_a_hash_sign_is_rejected_so_keys_stay_unambiguous() {
        assert!(ProductId::parse("a#b").is_err());
        assert!(ProductId::parse("").is_err());
        assert_eq!(
            ProductId::parse("SKU-1").unwrap().stream().as_str(),
            "product#SKU-1"
        );
    }

    #[test]
    fn stream_ids_round_trip_to_their_aggregate_ids() {
        let id = OrderId::generate();
        let s = StreamId::parse(id.stream().as_str()).unwrap();
        assert_eq!(s.order_id(), Some(id));
        assert!(StreamId::parse("user#1").is_err());
    }

    #[test]
    fn money_multiplication_overflow_is_detected() {
        let q = Quantity::new(1000).unwrap();
        assert_eq!(
            Money::from_minor(250).times(q),
            Some(Money::from_minor(250_000))
        );
        assert_eq!(Money::from_minor(u64::MAX).times(q), None);
        assert_eq!(Money::from_minor(1999).to_string(), "19.99");
    }

    #[test]
    fn payment_tokens_must_look_like_gateway_tokens() {
        assert!(PaymentToken::parse("tok_visa").is_ok());
        assert!(PaymentToken::parse("visa").is_err());
        assert!(PaymentToken::parse("tok_").is_err());
        assert!(PaymentToken::parse("tok_VISA").is_err());
    }
}
