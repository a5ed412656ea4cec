//! Shared by the emulator tests: reach moto (or skip), fresh resources per test, events.

#![allow(dead_code)]

use order_app::stream::seal;
use order_aws::provision::provision;
use order_aws::{AwsClients, AwsResources, DynamoEventStore};
use order_domain::events::{OrderLine, OrderPlaced, OrderValidated, PricedLine, ProductAdded};
use order_domain::{
    CustomerId, Email, EventMeta, GENESIS_HASH, Money, OrderEvent, OrderId, PaymentToken,
    ProductEvent, ProductId, Quantity, RecordedEvent, StreamId, StreamWrite, Timestamp,
};

/// A test's own slice of the emulator.
pub struct Emulator {
    pub endpoint: String,
    pub clients: AwsClients,
    pub resources: AwsResources,
}

impl Emulator {
    pub fn store(&self) -> DynamoEventStore {
        DynamoEventStore::new(self.clients.dynamodb.clone(), &self.resources.events_table)
    }
}

/// The emulator named by `AWS_ENDPOINT_URL`, with freshly provisioned resources (a unique
/// prefix per test, so tables stay small: moto's transactions slow down as tables grow).
///
/// Without `AWS_ENDPOINT_URL` the test is skipped (`None`), except under `CI=true`, where a
/// test that cannot reach the emulator must fail.
pub async fn emulator(test: &str) -> Option<Emulator> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: AWS_ENDPOINT_URL is not set and CI=true: start moto and export it \
                 (scripts/test.sh does)"
            );
            eprintln!("{test}: skipped, AWS_ENDPOINT_URL is not set (no emulator)");
            return None;
        }
    };
    let clients = AwsClients::load().await;
    let prefix = format!("t{}-", ulid::Ulid::generate().to_string().to_lowercase());
    let resources = provision(&clients, &prefix)
        .await
        .unwrap_or_else(|e| panic!("{test}: provisioning on {endpoint} failed: {e}"));
    Some(Emulator {
        endpoint,
        clients,
        resources,
    })
}

/// Skips the test (returns) when there is no emulator; see [`emulator`].
#[macro_export]
macro_rules! emulator_or_skip {
    ($name:expr) => {
        match $crate::common::emulator($name).await {
            Some(env) => env,
            None => return,
        }
    };
}

pub fn meta(order: OrderId) -> EventMeta {
    EventMeta {
        correlation_id: order.to_string(),
        causation_id: "test".into(),
        occurred_at: Timestamp::now(),
    }
}

pub fn product(id: &str) -> ProductId {
    ProductId::parse(id).unwrap()
}

pub fn order_placed(order: OrderId, product: &ProductId) -> OrderEvent {
    OrderEvent::OrderPlaced(OrderPlaced {
        order_id: order,
        customer_id: CustomerId::parse("customer-1").unwrap(),
        email: Email::parse("jane@example.com").unwrap(),
        items: vec![OrderLine {
            product_id: product.clone(),
            quantity: Quantity::new(1).unwrap(),
        }],
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    })
}

pub fn order_validated(product: &ProductId) -> OrderEvent {
    OrderEvent::OrderValidated(OrderValidated {
        lines: vec![PricedLine {
            product_id: product.clone(),
            quantity: Quantity::new(1).unwrap(),
            unit_price: Money::from_minor(1999),
        }],
        total: Money::from_minor(1999),
    })
}

pub fn product_added(stock: u64) -> ProductEvent {
    ProductEvent::ProductAdded(ProductAdded {
        name: "Widget".into(),
        price: Money::from_minor(1999),
        stock,
    })
}

/// A write of `events` onto `stream` at `head` (None: a new stream).
pub fn write_after<'a>(
    stream: &StreamId,
    head: Option<&RecordedEvent>,
    events: impl IntoIterator<Item = (&'a str, u32, String)>,
    meta: &EventMeta,
) -> StreamWrite {
    let (version, hash) = head.map_or((0, GENESIS_HASH.to_owned()), |h| {
        (h.version, h.hash.clone())
    });
    seal(stream, version, &hash, events, meta)
}

/// `n` filler events of one made-up type (the store does not read payloads).
pub fn filler(n: usize) -> Vec<(&'static str, u32, String)> {
    (0..n)
        .map(|i| ("TestEvent", 1, format!("{{\"n\":{i}}}")))
        .collect()
}
