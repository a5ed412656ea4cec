-- order-pipeline embedded schema, version 8: the index of executions by status keeps only the
-- RUNNING ones, the only ones anything looks up by status (a restart resumes them, oldest
-- first). The full index on `status` gained an entry for every execution ever run and wrote two
-- of its pages to the WAL in most commits (an entry moved from RUNNING to SUCCEEDED); the
-- partial one holds the executions in flight, a page or two however long the server has run.
DROP INDEX executions_by_status;
CREATE INDEX executions_running ON executions (started_at) WHERE status = 'RUNNING';
