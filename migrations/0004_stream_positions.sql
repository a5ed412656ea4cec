-- order-pipeline embedded schema, version 4: where each DynamoDB Streams consumer of
-- `orders serve --backend aws` stopped, per shard (the Lambda event source mapping keeps this
-- on AWS). Written after a batch is handled, so a restart resumes AFTER_SEQUENCE_NUMBER and
-- re-handles at most the batch a crash interrupted. Only the AWS host's `aws-runner.db` has
-- rows; the embedded pipeline's own change feed uses `checkpoints`.
CREATE TABLE stream_positions (
    consumer        TEXT    NOT NULL,  -- 'inventory', 'order-status', 'router'
    shard_id        TEXT    NOT NULL,
    sequence_number TEXT    NOT NULL,  -- the last record handled (decimal, up to 40 digits)
    updated_at      INTEGER NOT NULL,  -- ms since the Unix epoch
    PRIMARY KEY (consumer, shard_id)
) WITHOUT ROWID;
