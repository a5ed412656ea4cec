//! Loading an order and appending what a command decides on it, with a bounded retry on
//! conflicts.

use order_domain::events::DecodeError;

use crate::metrics::Before;
use order_domain::order::{Order, OrderCommand, OrderError, OrderState, evolve};
use order_domain::ports::{EventStore, StoreError};
use order_domain::{
    Encoded, EventMeta, OrderEvent, OrderId, RecordedEvent, SharedStr, StreamId, StreamWrite,
    Timestamp,
};

/// What a decision over several streams writes, and the order's state and new events after it
/// (the events for `crate::metrics::appended`, once the write committed).
pub type Decided = (Vec<StreamWrite>, (OrderState, Vec<OrderEvent>));

/// How many times a decision is retaken after losing a race on the order's stream.
pub const MAX_CONFLICT_RETRIES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Seals `events` onto `stream` after `version` / `head_hash` (shared, not copied, when given
/// as a [`SharedStr`]). Typed events (`OrderEvent`, `ProductEvent`) stay with their records,
/// so this process's consumers do not parse them again (see `order_domain::decoded`).
pub fn seal<'a, E: Into<Encoded<'a>>>(
    stream: &StreamId,
    version: u64,
    head_hash: impl Into<SharedStr>,
    events: impl IntoIterator<Item = E>,
    meta: &EventMeta,
) -> StreamWrite {
    let mut out: Vec<RecordedEvent> = Vec::new();
    let (mut v, mut prev) = (version, head_hash.into());
    for e in events {
        let event = RecordedEvent::seal(stream.clone(), v, prev, e, meta);
        (v, prev) = (event.version, event.hash.clone());
        out.push(event);
    }
    StreamWrite {
        stream_id: stream.clone(),
        expected_version: version,
        events: out,
    }
}

/// The metadata of events a step appends: correlated to the order, caused by the stream's head,
/// and in the order's trace (a child of the trace context its first event carries, so a step
/// needs no trace context of its own: it finds it in the history it loads, on either host and
/// under any redelivery).
pub fn meta_for(order_id: OrderId, history: &[RecordedEvent]) -> EventMeta {
    EventMeta {
        correlation_id: order_id.into(),
        causation_id: history
            .last()
            .map_or_else(|| order_id.into(), |e| e.event_id.into()),
        occurred_at: Timestamp::now(),
        trace_parent: crate::trace::step_context(history),
    }
}

/// Reads and folds an order's stream (folding only the events after a fold this process
/// remembers, see [`folded`]).
pub async fn load<S: EventStore>(
    store: &S,
    id: OrderId,
) -> Result<(Order, Vec<RecordedEvent>), LoadError> {
    let history = store.read_stream(&id.stream(), 0).await?;
    let order = folded::fold(id, &history)?;
    Ok((order, history))
}

pub mod folded;

/// Why [`execute`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("decision refused: {0}")]
    Refused(OrderError),
}

/// Loads the order, decides `command`, appends what it decided; on a conflict reloads and decides
/// again. Answers the order's state after the append, which the step reads its answer from.
pub async fn execute<S: EventStore>(
    store: &S,
    id: OrderId,
    command: &OrderCommand,
) -> Result<OrderState, ExecuteError> {
    execute_from(store, id, command, None).await
}

/// [`execute`] from an order the step has just loaded (`loaded`, as [`load`] answered it): the
/// first decision needs no second read. Should the stream have moved since, the conditional
/// append refuses the decision and the retry reloads, as it would after any conflict.
pub async fn execute_loaded<S: EventStore>(
    store: &S,
    id: OrderId,
    command: &OrderCommand,
    loaded: (Order, Vec<RecordedEvent>),
) -> Result<OrderState, ExecuteError> {
    execute_from(store, id, command, Some(loaded)).await
}

async fn execute_from<S: EventStore>(
    store: &S,
    id: OrderId,
    command: &OrderCommand,
    mut loaded: Option<(Order, Vec<RecordedEvent>)>,
) -> Result<OrderState, ExecuteError> {
    let mut attempt = 0;
    loop {
        let (order, history) = match loaded.take() {
            Some(first) => first,
            None => load(store, id).await?,
        };
        let events = order.decide(command).map_err(ExecuteError::Refused)?;
        if events.is_empty() {
            return Ok(order.state);
        }
        let write = seal(
            &id.stream(),
            order.version,
            &order.head_hash,
            &events,
            &meta_for(id, &history),
        );
        match store.append(vec![write]).await {
            Ok(()) => {
                crate::metrics::appended(&events, Before::of(&history), Timestamp::now());
                return Ok(events.iter().fold(order.state, evolve));
            }
            Err(StoreError::Conflict { .. }) if attempt < MAX_CONFLICT_RETRIES => {
                attempt += 1;
                tracing::debug!(order_id = %id, attempt, "conflict on order stream, deciding again");
            }
            Err(e) => return Err(ExecuteError::Load(e.into())),
        }
    }
}
