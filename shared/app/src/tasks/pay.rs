//! ProcessPayment: charge the validated total once, keyed by the order id.
//!
//! The payment token is opened from the order's sealed personal field only for the charge. If
//! the customer was forgotten before the charge, there is no token any more: the charge is
//! recorded as declined (`personal_data_erased`), so the order fails like any declined one.

use order_domain::Money;
use order_domain::OrderId;
use order_domain::order::{ChargeResult, OrderCommand, PaymentOutcome, PaymentStep};
use order_domain::personal::Opened;
use order_domain::ports::{EventStore, KeyStore, PaymentGateway};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::stream::{ExecuteError, execute_loaded, load};
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
                let charge = OrderCommand::RecordCharge(result.clone());
                let state = match execute_loaded(store, id, &charge, loaded).await {
                    Ok(state) => state,
                    Err(refused @ ExecuteError::Refused(_)) => {
                        if let ChargeResult::Captured { payment_id } = &result {
                            give_back_unrecorded(store, gateway, id, payment_id, amount, &input)
                                .await;
                        }
                        return Err(refused.into());
                    }
                    Err(e) => return Err(e.into()),
                };
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

/// A charge the gateway captured that the log refused to record: while it was in flight, the
/// order ended without it (another execution of the order, Express running one at least once,
/// saw the customer's cancellation first and closed the order with nothing to refund; or the
/// sweeper failed it). Nothing in the log will ever give it back, so it is refunded here, under
/// the key the OrderFailed step refunds a recorded charge with: the gateway makes it at most
/// once, whoever asks. A refund that cannot be made now (the gateway or the log unavailable)
/// is reported as an error for a person to make, with the payment's id (no personal data): a
/// retry of the step would find the order ended and never learn the payment's id again.
async fn give_back_unrecorded<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    id: OrderId,
    payment_id: &str,
    amount: Money,
    input: &TaskInput,
) {
    let ended_without_it = match load(store, id).await {
        Ok((order, _)) => order.state.ending().is_some() && order.state.payment_outcome().is_none(),
        Err(e) => {
            tracing::error!(
                payment_id,
                error = %e,
                "a captured charge was refused by the log, which cannot be read to tell whether \
                 it must be refunded: check the order and refund it by hand if it ended"
            );
            return;
        }
    };
    if !ended_without_it {
        return;
    }
    match gateway
        .refund(&id.to_string(), payment_id, amount, input.attempt)
        .await
    {
        Ok(refund_id) => tracing::warn!(
            payment_id,
            refund_id,
            "a charge captured after the order ended was refunded"
        ),
        Err(e) => tracing::error!(
            payment_id,
            error = %e,
            "a charge captured after the order ended could not be refunded: refund it by hand"
        ),
    }
}
