-- order-pipeline embedded schema, version 9: the executions' status check as three comparisons.
-- SQLite evaluated `status IN ('RUNNING', 'SUCCEEDED', 'FAILED')` by building a temporary
-- B-tree of the three values on every insert and update of an execution (two per order, on the
-- one writer thread); the comparisons accept the same values and build nothing. SQLite cannot
-- change a CHECK in place, so the table is made again with its rows and its index.
CREATE TABLE executions_new (
    name          TEXT    PRIMARY KEY,
    status        TEXT    NOT NULL
                  CHECK (status = 'RUNNING' OR status = 'SUCCEEDED' OR status = 'FAILED'),
    current_state TEXT,
    data          TEXT    NOT NULL,
    input         TEXT    NOT NULL,
    error         TEXT,
    cause         TEXT,
    transitions   INTEGER NOT NULL DEFAULT 0,
    started_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    state_machine TEXT    NOT NULL DEFAULT 'OrderProcessingStateMachine'
);
INSERT INTO executions_new (name, status, current_state, data, input, error, cause,
                            transitions, started_at, updated_at, state_machine)
    SELECT name, status, current_state, data, input, error, cause,
           transitions, started_at, updated_at, state_machine
    FROM executions;
DROP TABLE executions;
ALTER TABLE executions_new RENAME TO executions;
CREATE INDEX executions_running ON executions (started_at) WHERE status = 'RUNNING';
