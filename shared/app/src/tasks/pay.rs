//! ProcessPayment: charge the validated total once, keyed by the order id.

use order_domain::order::{PaymentOutcome, PaymentStep};
use order_domain::ports::{EventStore, PaymentGateway};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, error_type};
use crate::stream::{execute, load};

#[tracing::instrument(skip_all, fields(order_id = %input.order_id, attempt = input.attempt))]
pub async fn process_payment<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    let (order, _) = load(store, id).await?;
    let outcome = match order.payment_step()? {
        PaymentStep::Done(outcome) => outcome,
        PaymentStep::Charge { amount, token } => {
            // The gateway dedupes on the key, so a retry after a lost answer is the same charge.
            let result = gateway
                .charge(&id.to_string(), &token, amount, input.attempt)
                .await
                .map_err(|e| TaskError::new(error_type::GATEWAY_UNAVAILABLE, e.to_string()))?;
            execute(store, id, |o| o.record_charge(result.clone())).await?
        }
    };
    match outcome {
        PaymentOutcome::Captured { payment_id, amount } => {
            Ok(json!({ "status": "PAID", "paymentId": payment_id, "amount": amount }))
        }
        PaymentOutcome::Declined { code, message } => Err(TaskError::new(
            error_type::PAYMENT_DECLINED,
            format!("{code}: {message}"),
        )),
    }
}
