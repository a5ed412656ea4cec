//! The local event bus: EventBridge rule semantics (match `source` and `detail-type`) with the
//! targets called in process. OrderConfirmationRule → OrderSuccessHandler, OrderFailureRule →
//! OrderFailureHandler.

use order_app::notify::{BUS_SOURCE, ORDER_COMPLETED, ORDER_FAILED, confirm_order, notify_failure};
use order_domain::ports::{BusEvent, EventBus, EventStore, KeyStore, Notifier, PortError};

/// A rule: which events it matches and what it triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub source: &'static str,
    pub detail_type: &'static str,
    pub target: Target,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    OrderSuccessHandler,
    OrderFailureHandler,
}

/// The rules the template deploys.
pub const RULES: [Rule; 2] = [
    Rule {
        name: "OrderConfirmationRule",
        source: BUS_SOURCE,
        detail_type: ORDER_COMPLETED,
        target: Target::OrderSuccessHandler,
    },
    Rule {
        name: "OrderFailureRule",
        source: BUS_SOURCE,
        detail_type: ORDER_FAILED,
        target: Target::OrderFailureHandler,
    },
];

impl Rule {
    pub fn matches(&self, e: &BusEvent) -> bool {
        e.source == self.source && e.detail_type == self.detail_type
    }
}

/// Routes bus events to their rules' targets in process.
#[derive(Clone)]
pub struct LocalBus<S, N, K> {
    pub store: S,
    pub notifier: N,
    pub keys: K,
}

impl<S: EventStore, N: Notifier, K: KeyStore> EventBus for LocalBus<S, N, K> {
    async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
        for event in &events {
            for rule in RULES.iter().filter(|r| r.matches(event)) {
                match rule.target {
                    Target::OrderSuccessHandler => {
                        confirm_order(&self.store, &self.notifier, &self.keys, event)
                            .await
                            .map_err(|e| PortError(format!("{}: {e}", rule.name)))?;
                    }
                    Target::OrderFailureHandler => {
                        notify_failure(&self.store, &self.notifier, event)
                            .await
                            .map_err(|e| PortError(format!("{}: {e}", rule.name)))?;
                    }
                }
            }
        }
        Ok(())
    }
}
