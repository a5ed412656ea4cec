-- order-pipeline embedded schema, version 3: a customer's orders, newest first (GET /orders).
-- The columns restate fields of the `view` document (`customerId`, `placedAt` in ms), so the
-- listing is one range read of the index below; the projection writes them on every upsert,
-- and rows projected before this migration get them from their document here.

ALTER TABLE order_status ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE order_status ADD COLUMN placed_at INTEGER NOT NULL DEFAULT 0;

-- `placedAt` is RFC 3339 with milliseconds (`2026-11-25T20:13:40.123Z`); 'subsec' keeps them.
UPDATE order_status
   SET customer_id = COALESCE(json_extract(view, '$.customerId'), ''),
       placed_at = COALESCE(CAST(round(unixepoch(json_extract(view, '$.placedAt'), 'subsec') * 1000) AS INTEGER), 0);

-- Newest first, ties by id: the listing's order, so a page is a walk of the index, no sort.
CREATE INDEX order_status_by_customer ON order_status (customer_id, placed_at DESC, order_id DESC);
