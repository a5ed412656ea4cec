-- order-pipeline embedded schema, version 6: each event may carry the W3C trace context
-- (`traceparent`) of the step that appended it, so one order's events are one trace. Diagnostic
-- metadata, not hashed: events written before this version read back without one.
ALTER TABLE events ADD COLUMN trace_parent TEXT;
