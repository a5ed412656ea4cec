//! A product stream's stock, from its events.

use order_domain::ProductEvent;

use super::Violation;

/// What one product stream says of its stock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ProductBook {
    /// The stock after the last event read.
    stock: Option<u64>,
    /// The first event whose stock does not follow from the one before.
    broken: Option<Violation>,
    /// Up to the audit's cut: the first stock, every StockAdded, those of them a refund put
    /// back, and the stock then.
    pub(super) seeded: u64,
    pub(super) added: u64,
    pub(super) returned: u64,
    pub(super) counted_stock: u64,
}

impl ProductBook {
    /// Takes the event at `version`; `counted` when it is within the cross-stream cut.
    pub(super) fn push(&mut self, version: u64, event: &ProductEvent, counted: bool) {
        let (expected, found) = match event {
            ProductEvent::ProductAdded(e) => {
                if counted {
                    self.seeded = e.stock;
                }
                (e.stock, e.stock)
            }
            ProductEvent::StockReserved(e) => (
                self.stock
                    .unwrap_or(0)
                    .saturating_sub(u64::from(e.quantity.get())),
                e.stock_after,
            ),
            ProductEvent::StockAdded(e) => {
                if counted {
                    self.added = self.added.saturating_add(e.quantity);
                    if e.refund_id.is_some() {
                        self.returned = self.returned.saturating_add(e.quantity);
                    }
                }
                (
                    self.stock.unwrap_or(0).saturating_add(e.quantity),
                    e.stock_after,
                )
            }
        };
        if expected != found && self.broken.is_none() {
            self.broken = Some(Violation::StockStep {
                stream: String::new(),
                version,
                expected,
                found,
            });
        }
        self.stock = Some(found);
        if counted {
            self.counted_stock = found;
        }
    }

    pub(super) fn violations(&self, stream: &str) -> Vec<Violation> {
        self.broken
            .iter()
            .cloned()
            .map(|mut v| {
                if let Violation::StockStep { stream: s, .. } = &mut v {
                    stream.clone_into(s);
                }
                v
            })
            .collect()
    }
}
