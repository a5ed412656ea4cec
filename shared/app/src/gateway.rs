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
//! | `tok_refund_error` | captured; each refund of it is unavailable on its first two attempts, then made |
//! | `tok_refund_down` | captured; its refunds are always unavailable (the refund workflow's retries run out) |
//! | any other `tok_…` | declined (`invalid_token`) |
//!
//! Charges and refunds are idempotent on their key: the payment id is derived from it, so a
//! retried charge is the same charge, never a second one, and the refund id likewise. A real
//! gateway knows which card a payment was made with; the simulated one writes the refund tokens'
//! behaviour into the payment id instead, so a refund needs only the payment id.

use order_domain::order::ChargeResult;
use order_domain::ports::{GatewayUnavailable, PaymentGateway};
use order_domain::{Money, PaymentToken};

/// Attempts of `tok_error` that fail before it succeeds (and of a `tok_refund_error` refund).
pub const TOK_ERROR_FAILURES: u32 = 2;

/// What the payment id of a `tok_refund_error` / `tok_refund_down` charge ends with.
const REFUND_ERROR_MARK: &str = "_refund_error";
const REFUND_DOWN_MARK: &str = "_refund_down";

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
            "tok_refund_error" => Ok(ChargeResult::Captured {
                payment_id: format!("ch_{idempotency_key}{REFUND_ERROR_MARK}"),
            }),
            "tok_refund_down" => Ok(ChargeResult::Captured {
                payment_id: format!("ch_{idempotency_key}{REFUND_DOWN_MARK}"),
            }),
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
        payment_id: &str,
        _amount: Money,
        attempt: u32,
    ) -> Result<String, GatewayUnavailable> {
        if payment_id.ends_with(REFUND_DOWN_MARK) {
            return Err(GatewayUnavailable("simulated refund outage".into()));
        }
        if payment_id.ends_with(REFUND_ERROR_MARK) && attempt < TOK_ERROR_FAILURES {
            return Err(GatewayUnavailable(format!(
                "simulated transient refund error (attempt {attempt})"
            )));
        }
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
    async fn refund_tokens_capture_and_then_fail_their_refunds_as_named() {
        let g = SimulatedGateway;
        let m = Money::from_minor(100);
        let captured = |token| async move {
            match g.charge("k", &tok(token), m, 0).await.unwrap() {
                ChargeResult::Captured { payment_id } => payment_id,
                declined @ ChargeResult::Declined { .. } => panic!("{declined:?}"),
            }
        };
        let flaky = captured("tok_refund_error").await;
        assert!(g.refund("r1", &flaky, m, 0).await.is_err());
        assert!(g.refund("r1", &flaky, m, 1).await.is_err());
        assert_eq!(g.refund("r1", &flaky, m, 2).await.unwrap(), "re_r1");
        let down = captured("tok_refund_down").await;
        assert!(g.refund("r1", &down, m, 9).await.is_err());
        let fine = captured("tok_visa").await;
        assert_eq!(g.refund("r1", &fine, m, 0).await.unwrap(), "re_r1");
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
