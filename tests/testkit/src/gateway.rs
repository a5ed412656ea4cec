//! The simulated gateway, remembering what it was asked. A real gateway charges (and refunds)
//! once per idempotency key, so the distinct keys are what the customer's statement shows,
//! however many calls raced or were retried.

use std::sync::{Arc, Mutex};

use order_app::gateway::SimulatedGateway;
use order_domain::order::ChargeResult;
use order_domain::ports::{GatewayUnavailable, PaymentGateway};
use order_domain::{Money, PaymentToken};

/// [`SimulatedGateway`]'s answers, with every call recorded. Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct RecordingGateway(Arc<Mutex<Asked>>);

#[derive(Debug, Default)]
struct Asked {
    charges: Vec<String>,
    refunds: Vec<(String, String, u64)>,
}

impl RecordingGateway {
    /// The idempotency key of every charge asked for, in order (a retried one again).
    pub fn charges(&self) -> Vec<String> {
        self.0.lock().unwrap().charges.clone()
    }

    /// The distinct keys charged, sorted: the charges the customer sees.
    pub fn charged_keys(&self) -> Vec<String> {
        let mut keys = self.charges();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Every refund asked for and made: (idempotency key, payment id, amount in minor units).
    pub fn refunds(&self) -> Vec<(String, String, u64)> {
        self.0.lock().unwrap().refunds.clone()
    }
}

impl PaymentGateway for RecordingGateway {
    async fn charge(
        &self,
        key: &str,
        token: &PaymentToken,
        amount: Money,
        attempt: u32,
    ) -> Result<ChargeResult, GatewayUnavailable> {
        self.0.lock().unwrap().charges.push(key.to_owned());
        SimulatedGateway.charge(key, token, amount, attempt).await
    }

    async fn refund(
        &self,
        key: &str,
        payment_id: &str,
        amount: Money,
        attempt: u32,
    ) -> Result<String, GatewayUnavailable> {
        let refund = SimulatedGateway
            .refund(key, payment_id, amount, attempt)
            .await?;
        self.0.lock().unwrap().refunds.push((
            key.to_owned(),
            payment_id.to_owned(),
            amount.minor(),
        ));
        Ok(refund)
    }
}
