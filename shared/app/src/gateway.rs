//! A deterministic simulated card gateway, so the whole pipeline can be run and tested without a
//! payment provider. Same answers on every host, on every retry.
//!
//! | token | answer |
//! |---|---|
//! | `tok_visa`, `tok_mastercard`, `tok_amex` | captured |
//! | `tok_decline` | declined (`card_declined`) |
//! | `tok_insufficient_funds` | declined (`insufficient_funds`) |
//! | `tok_error` | unavailable on the first two attempts, then captured (the workflow's Retry absorbs it) |
//! | `tok_gateway_down` | always unavailable (retries run out: the order fails with PROCESSING_ERROR) |
//! | any other `tok_…` | declined (`invalid_token`) |
//!
//! Charges and refunds are idempotent on their key: the payment id is derived from it, so a
//! retried charge is the same charge, never a second one.

use order_domain::order::ChargeResult;
use order_domain::ports::{GatewayUnavailable, PaymentGateway};
use order_domain::{Money, PaymentToken};

/// Attempts of `tok_error` that fail before it succeeds.
pub const TOK_ERROR_FAILURES: u32 = 2;

#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedGateway;

impl PaymentGateway for SimulatedGateway {
    async fn charge(
        &self,
        idempotency_key: &str,
        token: &PaymentToken,
        _amount: Money,
        attempt: u32,
    ) -> Result<ChargeResult, GatewayUnavailable> {
        let declined = |code: &str, message: &str| {
            Ok(ChargeResult::Declined {
                code: code.to_owned(),
                message: message.to_owned(),
            })
        };
        match token.as_str() {
            "tok_error" if attempt < TOK_ERROR_FAILURES => Err(GatewayUnavailable(format!(
                "simulated transient error (attempt {attempt})"
            ))),
            "tok_visa" | "tok_mastercard" | "tok_amex" | "tok_error" => {
                Ok(ChargeResult::Captured {
                    payment_id: format!("ch_{idempotency_key}"),
                })
            }
            "tok_gateway_down" => Err(GatewayUnavailable("simulated outage".into())),
            "tok_decline" => declined("card_declined", "the card was declined"),
            "tok_insufficient_funds" => {
                declined("insufficient_funds", "the card has insufficient funds")
            }
            _ => declined("invalid_token", "the payment token is not recognised"),
        }
    }

    async fn refund(
        &self,
        idempotency_key: &str,
        _payment_id: &str,
        _amount: Money,
    ) -> Result<String, GatewayUnavailable> {
        Ok(format!("re_{idempotency_key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str) -> PaymentToken {
        PaymentToken::parse(s).unwrap()
    }

    #[tokio::test]
    async fn tok_error_fails_twice_then_captures_the_same_payment() {
        let g = SimulatedGateway;
        let m = Money::from_minor(100);
        assert!(g.charge("k", &tok("tok_error"), m, 0).await.is_err());
        assert!(g.charge("k", &tok("tok_error"), m, 1).await.is_err());
        let a = g.charge("k", &tok("tok_error"), m, 2).await.unwrap();
        let b = g.charge("k", &tok("tok_error"), m, 3).await.unwrap();
        assert_eq!(a, b);
    }

    #[tokio::test]
    async fn tok_decline_is_declined_every_time() {
        let r = SimulatedGateway
            .charge("k", &tok("tok_decline"), Money::from_minor(1), 0)
            .await
            .unwrap();
        assert!(matches!(r, ChargeResult::Declined { ref code, .. } if code == "card_declined"));
    }
}
