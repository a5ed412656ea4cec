//! The event bus on EventBridge (`EVENT_BUS_NAME`, default `default`).
//!
//! PutEvents takes at most 10 entries per call and answers 200 even when some entries failed:
//! `FailedEntryCount > 0` is an error here, naming each failed entry. A retry re-puts entries
//! that did go through; that is safe because each carries the log's event id as
//! `detail.eventId` (EventBridge's own event `id` is random), so consumers drop repeats.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use order_domain::ports::{BusEvent, EventBus, PortError};

use crate::config::{AwsClients, event_bus_from_env};
use crate::errors::port_error;

/// PutEvents' limit of entries per call.
pub const MAX_ENTRIES_PER_PUT: usize = 10;

#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    /// The bus named by `EVENT_BUS_NAME` (`default` when unset).
    pub fn from_env(clients: &AwsClients) -> Self {
        Self::new(clients.eventbridge().clone(), event_bus_from_env())
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    fn entry(&self, event: &BusEvent) -> PutEventsRequestEntry {
        let mut detail = event.detail.clone();
        if let Some(map) = detail.as_object_mut() {
            map.entry("eventId")
                .or_insert_with(|| serde_json::Value::String(event.id.clone()));
        }
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(detail.to_string())
            .build()
    }
}

impl EventBus for EventBridgeBus {
    #[tracing::instrument(skip_all, fields(bus = %self.bus_name, events = events.len()))]
    async fn put(&self, events: Vec<BusEvent>) -> Result<(), PortError> {
        for chunk in events.chunks(MAX_ENTRIES_PER_PUT) {
            let out = self
                .client
                .put_events()
                .set_entries(Some(chunk.iter().map(|e| self.entry(e)).collect()))
                .send()
                .await
                .map_err(|e| port_error(&format!("PutEvents on {}", self.bus_name), &e))?;
            if out.failed_entry_count() > 0 {
                let failures: Vec<String> = out
                    .entries()
                    .iter()
                    .zip(chunk)
                    .filter(|(result, _)| result.error_code().is_some())
                    .map(|(result, event)| {
                        format!(
                            "entry {} ({}): {}: {}",
                            event.id,
                            event.detail_type,
                            result.error_code().unwrap_or_default(),
                            result.error_message().unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(PortError(format!(
                    "PutEvents on {}: {} of {} entries failed: {}",
                    self.bus_name,
                    out.failed_entry_count(),
                    chunk.len(),
                    failures.join("; ")
                )));
            }
        }
        Ok(())
    }
}
