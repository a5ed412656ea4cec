//! ProcessPayment: charge the validated total once, keyed by the order id.
//!
//! The payment token is opened from the order's sealed personal field only for the charge. If
//! the customer was forgotten before the charge, there is no token any more: the charge is
//! recorded as declined (`personal_data_erased`), so the order fails like any declined one.

use order_domain::order::{ChargeResult, OrderCommand, PaymentOutcome, PaymentStep};
use order_domain::personal::Opened;
use order_domain::ports::{EventStore, KeyStore, PaymentGateway};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::stream::{execute_loaded, load};
use crate::trace::{Step, order_trace, step_span};
use crate::vault::{self, VaultError};
use tracing::Instrument;

/// The decline code of a charge whose payment token was erased.
pub const ERASED_DECLINE_CODE: &str = "personal_data_erased";

#[tracing::instrument(skip_all, fields(order_id = %input.order_id, attempt = input.attempt))]
pub async fn process_payment<S: EventStore, G: PaymentGateway, K: KeyStore>(
    store: &S,
    gateway: &G,
    keys: &K,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    let loaded = load(store, id).await?;
    let outcome = match loaded.0.state.payment_step()? {
        PaymentStep::Done(outcome) => outcome,
        PaymentStep::Charge {
            amount,
            customer,
            personal,
        } => {
            let span = step_span(Step::Payment, order_trace(&loaded.1));
            async {
                let opened =
                    vault::open(keys, &customer, id, &personal)
                        .await
                        .map_err(|e| match e {
                            VaultError::Port(e) => TaskError::StoreUnavailable(e.to_string()),
                            VaultError::Corrupt(_) => TaskError::CorruptEvent(e.to_string()),
                        })?;
                let result = match opened {
                    // The gateway dedupes on the key, so a retry after a lost answer is the same
                    // charge.
                    Opened::Data(data) => gateway
                        .charge(&id.to_string(), &data.payment_token, amount, input.attempt)
                        .await
                        .map_err(|e| TaskError::GatewayUnavailable(e.to_string()))?,
                    Opened::Erased => {
                        tracing::warn!("the customer's personal data was erased: no charge");
                        ChargeResult::Declined {
                            code: ERASED_DECLINE_CODE.into(),
                            message: "the customer's payment data was erased before the charge"
                                .into(),
                        }
                    }
                };
                let charge = OrderCommand::RecordCharge(result);
                let state = execute_loaded(store, id, &charge, loaded).await?;
                state
                    .payment_outcome()
                    .ok_or_else(|| not_ready("payment", &state))
            }
            .instrument(span)
            .await?
        }
    };
    match outcome {
        PaymentOutcome::Captured { payment_id, amount } => {
            Ok(json!({ "status": "PAID", "paymentId": payment_id, "amount": amount }))
        }
        PaymentOutcome::Declined { code, message } => {
            Err(TaskError::PaymentDeclined(format!("{code}: {message}")))
        }
    }
}
