-- order-pipeline embedded schema, version 2: the customers' data keys (crypto-shredding).
-- Each customer's personal data is sealed under their data key; deleting the row erases it.
-- `wrapped_key` is the key sealed (AES-256-GCM) under the master key in DATA_DIR/keys/master.key,
-- so a copy of this database alone reveals no key.
--
-- A rowid table on purpose: its interior b-tree pages hold only rowids, and the primary key's
-- index only customer ids, so the wrapped key lives in exactly one cell, which a delete under
-- `PRAGMA secure_delete` zeroes. (A WITHOUT ROWID table would copy whole rows into interior
-- pages as dividers, where a delete does not reach them.)
CREATE TABLE customer_keys (
    customer_id TEXT    PRIMARY KEY,
    key_id      TEXT    NOT NULL,
    wrapped_key BLOB    NOT NULL,
    created_at  INTEGER NOT NULL  -- ms since the Unix epoch
);
