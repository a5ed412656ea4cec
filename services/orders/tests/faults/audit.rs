//! What the emulator holds, read directly (not through the proxy): the whole event log of the
//! test's table, grouped by stream.

use std::collections::BTreeMap;

use order_domain::RecordedEvent;
use order_testkit::support::Emulator;
use serde_json::Value;

/// The event log, stream → events in version order.
pub struct Log {
    streams: BTreeMap<String, Vec<RecordedEvent>>,
}

impl Log {
    /// Scans the events table.
    pub async fn read(env: &Emulator) -> Self {
        let items: Vec<_> = env
            .clients
            .dynamodb()
            .scan()
            .table_name(&env.resources.events_table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("scan the events table");
        let mut streams: BTreeMap<String, Vec<RecordedEvent>> = BTreeMap::new();
        for item in items {
            let event = order_aws::codec::decode(item).expect("an event item");
            streams
                .entry(event.stream_id.as_str().to_owned())
                .or_default()
                .push(event);
        }
        for events in streams.values_mut() {
            events.sort_by_key(|e| e.version);
        }
        Self { streams }
    }

    /// The ids of every order stream.
    pub fn order_ids(&self) -> Vec<String> {
        self.streams
            .keys()
            .filter_map(|s| s.strip_prefix("order#").map(str::to_owned))
            .collect()
    }

    /// Events of `order` of type `event_type`.
    pub fn count(&self, order: &str, event_type: &str) -> usize {
        self.streams.get(&format!("order#{order}")).map_or(0, |es| {
            es.iter().filter(|e| e.event_type == event_type).count()
        })
    }

    /// `COMPLETED`, `FAILED` or `None` (not terminal), from the order's events.
    pub fn status(&self, order: &str) -> Option<&'static str> {
        match (
            self.count(order, "OrderCompleted"),
            self.count(order, "OrderFailed"),
        ) {
            (1, 0) => Some("COMPLETED"),
            (0, 1) => Some("FAILED"),
            _ => None,
        }
    }

    /// The order's event types, in order (for failure messages).
    pub fn history(&self, order: &str) -> Vec<&str> {
        self.streams
            .get(&format!("order#{order}"))
            .map(|es| es.iter().map(|e| e.event_type.as_str()).collect())
            .unwrap_or_default()
    }

    /// The stock of `product` after its last event (each product event carries it).
    pub fn stock(&self, product: &str) -> u64 {
        let head = self
            .streams
            .get(&format!("product#{product}"))
            .and_then(|es| es.last())
            .unwrap_or_else(|| panic!("no stream for {product}"));
        let payload: Value = serde_json::from_str(&head.payload).expect("a JSON payload");
        payload["stockAfter"]
            .as_u64()
            .or_else(|| payload["stock"].as_u64())
            .unwrap_or_else(|| panic!("{product}'s head holds no stock: {payload}"))
    }

    /// How many times each order reserved `product`.
    pub fn reservations(&self, product: &str) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for e in self
            .streams
            .get(&format!("product#{product}"))
            .into_iter()
            .flatten()
            .filter(|e| e.event_type == "StockReserved")
        {
            let payload: Value = serde_json::from_str(&e.payload).expect("a JSON payload");
            let order = payload["orderId"].as_str().unwrap_or_default().to_owned();
            *out.entry(order).or_default() += 1;
        }
        out
    }
}
