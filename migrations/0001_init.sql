-- order-pipeline embedded schema, version 1.
-- One SQLite database holds the event log, the queue, the workflow executions, the read models
-- and every consumer's checkpoint, so that no crash can separate them.

-- The event log. `position` is the global order (the local stand-in for DynamoDB Streams'
-- sequence numbers); the unique (stream_id, version) key is the optimistic-concurrency arbiter.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    event_id       TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    occurred_at    INTEGER NOT NULL,  -- ms since the Unix epoch
    correlation_id TEXT    NOT NULL,
    causation_id   TEXT    NOT NULL,
    payload        TEXT    NOT NULL,  -- JSON, hashed as stored
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL,
    UNIQUE (stream_id, version)
);

-- Queues (OrdersQueue and its dead-letter queue) with SQS semantics: a received message is
-- invisible until `visible_at`; `receipt` changes on every receive so a stale consumer cannot
-- delete a message someone else now holds.
CREATE TABLE queue_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    sent_at       INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
CREATE INDEX queue_messages_ready ON queue_messages (queue, visible_at, id);

-- Where each change-feed consumer (projection, forwarder) has got to in `events.position`.
CREATE TABLE checkpoints (
    consumer   TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Read model: order status (GET /orders/{id}). `view` is the JSON document; the other columns
-- are what queries filter on.
CREATE TABLE order_status (
    order_id   TEXT    PRIMARY KEY,
    status     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    view       TEXT    NOT NULL
);
CREATE INDEX order_status_by_status ON order_status (status, updated_at);

-- Read model: inventory (InventoryTable).
CREATE TABLE inventory (
    product_id TEXT    PRIMARY KEY,
    available  INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    view       TEXT    NOT NULL
);

-- Idempotency records of POST /orders. An IN_PROGRESS record is a lease that expires.
CREATE TABLE idempotency (
    key         TEXT    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    order_id    TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('IN_PROGRESS', 'COMPLETED')),
    expires_at  INTEGER NOT NULL
);

-- Durable workflow executions, written when each starts (its first state and input) and when
-- it ends, so a restart runs each RUNNING execution again from its first state (its tasks answer
-- from the log what they had done). Named by the order id.
CREATE TABLE executions (
    name          TEXT    PRIMARY KEY,
    status        TEXT    NOT NULL CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    current_state TEXT,
    data          TEXT    NOT NULL,
    input         TEXT    NOT NULL,
    error         TEXT,
    cause         TEXT,
    transitions   INTEGER NOT NULL DEFAULT 0,
    started_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX executions_by_status ON executions (status);

-- Local alarms (the CloudWatch alarms' stand-ins): OK or ALARM, to notify on transitions only.
CREATE TABLE alarms (
    name       TEXT    PRIMARY KEY,
    state      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
