-- order-pipeline embedded schema, version 7: an idempotency record keeps the candidate order id
-- of the attempt that holds its lease (the first claim's, or the one that took an ended lease
-- over), so a claim whose write is retried knows the record it finds for its own. Records
-- written before this version read back without one (their order id is their first claim's).
ALTER TABLE idempotency ADD COLUMN claimant TEXT;
