//! Personal data: the customer's email and payment token, stored only sealed.
//!
//! An order's personal data lives in one field of its `OrderPlaced` event, encrypted
//! (AES-256-GCM) under a data key of its own customer. The event log is immutable and
//! hash-chained over what is stored, so the chain covers the ciphertext: destroying the
//! customer's key (crypto-shredding) makes the data unreadable for good while the chain still
//! verifies. The sealing itself is done by the application's vault over a [`KeyStore`]
//! (crate::ports::KeyStore); the domain only carries the sealed form.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::values::{Email, PaymentToken};

/// What an order's personal field shows once its customer's key is destroyed.
pub const ERASED: &str = "[erased]";

/// The personal data of one order, in clear. Only ever held in memory: its `Debug` shows
/// nothing of it, so it cannot reach a log line through `{:?}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonalData {
    pub email: Email,
    pub payment_token: PaymentToken,
}

impl fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalData([redacted])")
    }
}

/// Personal data sealed with AES-256-GCM under the data key `key_id` of the order's customer.
/// `nonce` and `ciphertext` (with its tag) are base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedPersonal {
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// The personal field of an `OrderPlaced` event. Stored as the variant's own fields; read by
/// which fields are there (an untagged enum would buffer every OrderPlaced it decodes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, remote = "Personal")]
pub enum Personal {
    /// Every order placed since personal data is encrypted (schema 2).
    Sealed(SealedPersonal),
    /// An order of an older log (schema 0 or 1) that stored the data in clear. It cannot be
    /// erased by destroying a key.
    Clear(PersonalData),
}

impl Personal {
    /// The id of the customer key the data is sealed under; `None` for data kept in clear.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Self::Sealed(sealed) => Some(&sealed.key_id),
            Self::Clear(_) => None,
        }
    }
}

/// Every field either variant may store.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredPersonal {
    key_id: Option<String>,
    nonce: Option<String>,
    ciphertext: Option<String>,
    email: Option<crate::values::Email>,
    payment_token: Option<crate::values::PaymentToken>,
}

impl Serialize for Personal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Personal::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for Personal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match StoredPersonal::deserialize(deserializer)? {
            StoredPersonal {
                key_id: Some(key_id),
                nonce: Some(nonce),
                ciphertext: Some(ciphertext),
                email: None,
                payment_token: None,
            } => Ok(Self::Sealed(SealedPersonal {
                key_id,
                nonce,
                ciphertext,
            })),
            StoredPersonal {
                key_id: None,
                nonce: None,
                ciphertext: None,
                email: Some(email),
                payment_token: Some(payment_token),
            } => Ok(Self::Clear(PersonalData {
                email,
                payment_token,
            })),
            _ => Err(D::Error::custom(
                "personal must be {keyId, nonce, ciphertext} or {email, paymentToken}",
            )),
        }
    }
}

/// What opening an order's personal field gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Data(PersonalData),
    /// The customer's key was destroyed: the data is gone for good.
    Erased,
}

impl Opened {
    /// The email as an order's owner may see it, masked (`j***@example.com`), or [`ERASED`].
    pub fn masked_email(&self) -> String {
        match self {
            Self::Data(d) => mask_email(d.email.as_str()),
            Self::Erased => ERASED.to_owned(),
        }
    }
}

/// Masks an email for display: its first character and its domain (`j***@example.com`).
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> PersonalData {
        PersonalData {
            email: Email::parse("jane@example.com").unwrap(),
            payment_token: PaymentToken::parse("tok_visa").unwrap(),
        }
    }

    #[test]
    fn personal_data_never_shows_in_debug_output() {
        let shown = format!("{:?} {:?}", data(), Personal::Clear(data()));
        assert!(!shown.contains("jane"), "{shown}");
        assert!(!shown.contains("tok_visa"), "{shown}");
    }

    #[test]
    fn the_stored_forms_decode_to_their_variants() {
        let sealed: Personal =
            serde_json::from_str(r#"{"keyId":"k1","nonce":"bm9uY2U","ciphertext":"Y3Q"}"#).unwrap();
        assert!(matches!(sealed, Personal::Sealed(_)));
        let clear: Personal =
            serde_json::from_str(r#"{"email":"jane@example.com","paymentToken":"tok_visa"}"#)
                .unwrap();
        assert_eq!(clear, Personal::Clear(data()));
        assert!(serde_json::from_str::<Personal>(r#"{"keyId":"k1"}"#).is_err());
    }

    #[test]
    fn an_email_is_masked_to_its_first_letter_and_domain() {
        assert_eq!(Opened::Data(data()).masked_email(), "j***@example.com");
        assert_eq!(Opened::Erased.masked_email(), ERASED);
    }
}
