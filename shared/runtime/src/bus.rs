//! The local event bus: EventBridge rule semantics (match `source` and `detail-type`) with the
//! targets called in process. OrderConfirmationRule → OrderSuccessHandler, OrderFailureRule →
//! OrderFailureHandler, OrderUpdateRule → OrderUpdateHandler, RefundRequestedRule → a
//! RefundProcessingStateMachine execution, as template.yaml wires them.

use order_app::notify::{
    BUS_SOURCE, ORDER_CANCELLED, ORDER_COMPLETED, ORDER_FAILED, ORDER_PLACED, ORDER_SHIPPED,
    REFUND_ISSUED, REFUND_REQUESTED, confirm_order, notify_failure,
};
use order_app::notify_update::notify_order_update;
use order_app::start::{StartError, refund_execution};
use order_domain::ports::{BusEvent, EventBus, EventStore, KeyStore, Notifier, PortError};

use crate::workflow::LocalWorkflow;

/// A rule: which events it matches (any of its detail-types) and what it triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub source: &'static str,
    pub detail_types: &'static [&'static str],
    pub target: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    OrderSuccessHandler,
    OrderFailureHandler,
    OrderUpdateHandler,
    /// Starts an execution of RefundProcessingStateMachine.
    RefundProcessing,
}

/// The rules the template deploys.
pub const RULES: [Rule; 4] = [
    Rule {
        name: "OrderConfirmationRule",
        source: BUS_SOURCE,
        detail_types: &[ORDER_COMPLETED],
        target: Target::OrderSuccessHandler,
    },
    Rule {
        name: "OrderFailureRule",
        source: BUS_SOURCE,
        detail_types: &[ORDER_FAILED],
        target: Target::OrderFailureHandler,
    },
    Rule {
        name: "OrderUpdateRule",
        source: BUS_SOURCE,
        detail_types: &[ORDER_PLACED, ORDER_CANCELLED, ORDER_SHIPPED, REFUND_ISSUED],
        target: Target::OrderUpdateHandler,
    },
    Rule {
        name: "RefundRequestedRule",
        source: BUS_SOURCE,
        detail_types: &[REFUND_REQUESTED],
        target: Target::RefundProcessing,
    },
];

impl Rule {
    pub fn matches(&self, e: &BusEvent) -> bool {
        e.source == self.source && self.detail_types.contains(&e.detail_type.as_str())
    }
}

/// Routes bus events to their rules' targets in process.
#[derive(Clone)]
pub struct LocalBus<S, N, K> {
    pub store: S,
    pub notifier: N,
    pub keys: K,
    /// Starts the refund workflow's executions (RefundRequestedRule's target).
    pub refunds: LocalWorkflow,
}

impl<S: EventStore, N: Notifier, K: KeyStore> LocalBus<S, N, K> {
    /// RefundRequestedRule's target: the refund's execution, started once (a redelivered event
    /// finds it started). A detail without its ids can never start one: it is logged and
    /// dropped, as EventBridge would send it to the rule's DLQ after its retries.
    async fn start_refund(&self, event: &BusEvent) -> Result<(), PortError> {
        match refund_execution(&event.detail) {
            Ok((name, input)) => {
                let outcome = self.refunds.start_named(name.clone(), input).await?;
                tracing::debug!(refund_id = %name, ?outcome, "refund processing started");
                Ok(())
            }
            Err(StartError::Poison(why)) => {
                tracing::error!(event_id = %event.id, %why, "RefundRequested dropped");
                Ok(())
            }
            Err(StartError::Workflow(e)) => Err(e),
        }
    }
}

impl<S: EventStore, N: Notifier, K: KeyStore> EventBus for LocalBus<S, N, K> {
    async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
        for event in &events {
            for rule in RULES.iter().filter(|r| r.matches(event)) {
                let failed = |e: &dyn std::fmt::Display| PortError(format!("{}: {e}", rule.name));
                match rule.target {
                    Target::OrderSuccessHandler => {
                        confirm_order(&self.store, &self.notifier, &self.keys, event)
                            .await
                            .map_err(|e| failed(&e))?;
                    }
                    Target::OrderFailureHandler => {
                        notify_failure(&self.store, &self.notifier, event)
                            .await
                            .map_err(|e| failed(&e))?;
                    }
                    Target::OrderUpdateHandler => {
                        notify_order_update(&self.store, &self.notifier, &self.keys, event)
                            .await
                            .map_err(|e| failed(&e))?;
                    }
                    Target::RefundProcessing => {
                        self.start_refund(event).await.map_err(|e| failed(&e))?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(detail_type: &str) -> BusEvent {
        BusEvent {
            id: "01J".into(),
            source: BUS_SOURCE.into(),
            detail_type: detail_type.into(),
            detail: json!({}),
        }
    }

    /// Each detail-type the forwarder puts reaches the rule template.yaml gives it, and only
    /// that one (RefundRequested starts the refund workflow: no email).
    #[test]
    fn each_detail_type_matches_the_templates_rule() {
        let routed = |detail_type: &str| -> Vec<&str> {
            RULES
                .iter()
                .filter(|r| r.matches(&event(detail_type)))
                .map(|r| r.name)
                .collect()
        };
        assert_eq!(routed("OrderCompleted"), ["OrderConfirmationRule"]);
        assert_eq!(routed("OrderFailed"), ["OrderFailureRule"]);
        for update in [
            "OrderPlaced",
            "OrderCancelled",
            "OrderShipped",
            "RefundIssued",
        ] {
            assert_eq!(routed(update), ["OrderUpdateRule"], "{update}");
        }
        assert_eq!(routed("RefundRequested"), ["RefundRequestedRule"]);
        let mut foreign = event("OrderPlaced");
        foreign.source = "someone-else".into();
        assert!(!RULES.iter().any(|r| r.matches(&foreign)));
    }
}
