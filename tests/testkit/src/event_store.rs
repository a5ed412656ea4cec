//! The [`EventStore`] contract: what every event store MUST do, run against each adapter.

use order_domain::OrderId;
use order_domain::ports::EventStore;

use crate::Fixture;

/// Every case of the event-store contract as `#[tokio::test]`s in a module named `$backend`,
/// on the stores `$make` (a full path, e.g. `crate::backends::sqlite_event_store`) builds.
#[macro_export]
macro_rules! event_store_contract {
    ($backend:ident, $make:path) => {
        mod $backend {
            $crate::contract_cases!($make, event_store, [an_absent_stream_reads_as_empty,]);
        }
    };
}

pub async fn an_absent_stream_reads_as_empty<S: EventStore>(store: &Fixture<S>) {
    let stream = OrderId::generate().stream();
    assert!(store.read_stream(&stream, 0).await.unwrap().is_empty());
    assert_eq!(store.read_heads(&[stream]).await.unwrap(), vec![None]);
}
