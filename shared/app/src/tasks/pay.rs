//! ProcessPayment: charge the validated total once, keyed by the order id.

use order_domain::order::{OrderCommand, PaymentOutcome, PaymentStep};
use order_domain::ports::{EventStore, PaymentGateway};
use serde_json::{Value, json};

use super::{TaskError, TaskInput, not_ready};
use crate::stream::{execute, load};

#[tracing::instrument(skip_all, fields(order_id = %input.order_id, attempt = input.attempt))]
pub async fn process_payment<S: EventStore, G: PaymentGateway>(
    store: &S,
    gateway: &G,
    input: TaskInput,
) -> Result<Value, TaskError> {
    let id = input.order_id;
    let (order, _) = load(store, id).await?;
    let outcome = match order.state.payment_step()? {
        PaymentStep::Done(outcome) => outcome,
        PaymentStep::Charge { amount, token } => {
            // The gateway dedupes on the key, so a retry after a lost answer is the same charge.
            let result = gateway
                .charge(&id.to_string(), &token, amount, input.attempt)
                .await
                .map_err(|e| TaskError::GatewayUnavailable(e.to_string()))?;
            let state = execute(store, id, &OrderCommand::RecordCharge(result)).await?;
            state
                .payment_outcome()
                .ok_or_else(|| not_ready("payment", &state))?
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
