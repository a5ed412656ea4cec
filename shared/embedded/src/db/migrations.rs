//! The schema's migrations: applied in order at open, each once (tracked in
//! `schema_migrations`).

use rusqlite::Connection;

use super::now_ms;

/// Migrations, applied in order; each runs once (tracked in `schema_migrations`).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../../migrations/0001_init.sql")),
    (
        2,
        include_str!("../../../../migrations/0002_customer_keys.sql"),
    ),
    (
        3,
        include_str!("../../../../migrations/0003_orders_by_customer.sql"),
    ),
    (
        4,
        include_str!("../../../../migrations/0004_stream_positions.sql"),
    ),
    (
        5,
        include_str!("../../../../migrations/0005_execution_state_machine.sql"),
    ),
    (
        6,
        include_str!("../../../../migrations/0006_trace_parent.sql"),
    ),
    (
        7,
        include_str!("../../../../migrations/0007_idempotency_claimant.sql"),
    ),
    (
        8,
        include_str!("../../../../migrations/0008_running_executions_index.sql"),
    ),
    (
        9,
        include_str!("../../../../migrations/0009_execution_status_check.sql"),
    ),
    (
        10,
        include_str!("../../../../migrations/0010_events_rebuilt.sql"),
    ),
];

pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    for (version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if !done {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, now_ms()],
            )?;
            tracing::info!(version, "applied migration");
        }
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{MIGRATIONS, migrate};
    use crate::db::{Db, Durability};
    use crate::read_models::{LIST_AFTER, LIST_FIRST};

    /// A database as version 1 left it, with one projected order.
    fn at_version_1() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_only(&mut conn, 1);
        conn.execute(
            "INSERT INTO order_status (order_id, status, version, updated_at, view) \
             VALUES ('01J0000000000000000000000A', 'PLACED', 1, 5, \
             '{\"orderId\":\"01J0000000000000000000000A\",\"customerId\":\"cust-7\",\
             \"placedAt\":\"2026-11-25T20:13:40.123Z\"}')",
            [],
        )
        .unwrap();
        conn
    }

    fn migrate_only(conn: &mut Connection, upto: i64) {
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .unwrap();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v <= upto) {
            conn.execute_batch(sql).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 0)",
                [version],
            )
            .unwrap();
        }
    }

    /// The first column of every row `sql` returns.
    fn texts(conn: &Connection, sql: &str) -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// The one number `sql` returns.
    fn number(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn rows_projected_before_the_listing_columns_get_them_from_their_document() {
        let mut conn = at_version_1();
        migrate(&mut conn).unwrap();
        let (customer, placed_at): (String, i64) = conn
            .query_row("SELECT customer_id, placed_at FROM order_status", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(customer, "cust-7");
        let want = order_domain::Timestamp::parse("2026-11-25T20:13:40.123Z").unwrap();
        assert_eq!(u64::try_from(placed_at).unwrap(), want.as_millis());
    }

    #[test]
    fn a_listing_walks_the_customer_index_without_sorting() {
        let mut conn = at_version_1();
        migrate(&mut conn).unwrap();
        for (sql, args) in [(LIST_FIRST, 2), (LIST_AFTER, 4)] {
            let params: Vec<i64> = (0..args).collect();
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(params), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("; ");
            assert!(plan.contains("order_status_by_customer"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        // The cursor is a range on the index, not a filter over the customer's every row.
        let plan: String = conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {LIST_AFTER}"),
                [0, 1, 2, 3],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("(placed_at,order_id)<(?,?)"), "{plan}");
    }

    /// A restart finds its RUNNING executions on the partial index, in order, without a sort,
    /// and an ended execution leaves it.
    #[test]
    fn running_executions_are_read_from_their_partial_index() {
        let mut conn = at_version_1();
        migrate(&mut conn).unwrap();
        let plan: String = conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {}", crate::db::RUNNING_EXECUTIONS),
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("executions_running"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        for (name, started) in [("b", 2), ("a", 1), ("c", 3)] {
            conn.execute(
                "INSERT INTO executions (name, status, current_state, data, input, started_at, updated_at) \
                 VALUES (?1, 'RUNNING', 'ValidateOrder', '{}', '{}', ?2, ?2)",
                rusqlite::params![name, started],
            )
            .unwrap();
        }
        conn.execute(
            "UPDATE executions SET status = 'SUCCEEDED' WHERE name = 'b'",
            [],
        )
        .unwrap();
        assert_eq!(texts(&conn, crate::db::RUNNING_EXECUTIONS), ["a", "c"]);
        let indexed = number(
            &conn,
            "SELECT COUNT(*) FROM executions INDEXED BY executions_running WHERE status = 'RUNNING'",
        );
        assert_eq!(indexed, 2);
    }

    /// Version 9 makes the executions table again: its rows stay, the check still refuses a
    /// status it does not know, and an execution's insert and update build no temporary B-tree
    /// (the old check's `IN` list built one on every write).
    #[test]
    fn the_executions_status_check_builds_no_temporary_b_tree() {
        let mut conn = at_version_1();
        conn.execute(
            "INSERT INTO executions (name, status, current_state, data, input, started_at, updated_at) \
             VALUES ('x', 'RUNNING', 'ValidateOrder', '{}', '{\"a\":1}', 5, 5)",
            [],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let kept: (String, String, String) = conn
            .query_row(
                "SELECT status, input, state_machine FROM executions WHERE name = 'x'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept.0, "RUNNING");
        assert_eq!(kept.1, r#"{"a":1}"#);
        assert_eq!(kept.2, "OrderProcessingStateMachine");
        let unknown = conn.execute(
            "INSERT INTO executions (name, status, data, input, started_at, updated_at) \
             VALUES ('y', 'PAUSED', '{}', '{}', 0, 0)",
            [],
        );
        assert!(unknown.is_err(), "{unknown:?}");
        for sql in [
            "INSERT OR IGNORE INTO executions (name, status, current_state, data, input, \
             started_at, updated_at, state_machine) VALUES (?1, 'RUNNING', ?2, ?3, ?3, ?4, ?4, ?5)",
            "UPDATE executions SET status = ?2, current_state = NULL, updated_at = ?3 \
             WHERE name = ?1 AND status = 'RUNNING'",
        ] {
            let ops = crate::db::opcodes(&conn, sql).unwrap();
            assert!(
                !ops.iter().any(|op| op == "OpenEphemeral"),
                "{sql}: {ops:?}"
            );
        }
    }

    /// Version 10 makes the event log again: its rows keep their positions and columns, the
    /// next append takes the position after the last, the (stream, version) key still refuses
    /// a version twice, an event id may come twice (as DynamoDB allows), and an insert neither
    /// reads nor writes `sqlite_sequence` (AUTOINCREMENT's row) nor an event-id index.
    #[test]
    fn the_event_log_is_made_again_without_its_event_id_index_or_autoincrement() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_only(&mut conn, 9);
        let insert = |conn: &Connection, stream: &str, version: i64, id: &str| {
            conn.execute(
                "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, \
                 occurred_at, correlation_id, causation_id, payload, prev_hash, hash, trace_parent) \
                 VALUES (?1, ?2, ?3, 'OrderPlaced', 1, 7, 'c', 'c', '{}', 'p', 'h', ?4)",
                rusqlite::params![stream, version, id, (version == 2).then_some("00-ab-cd-01")],
            )
        };
        for (stream, version) in [("order#A", 1), ("order#A", 2), ("order#B", 1)] {
            insert(&conn, stream, version, &format!("01J{stream}{version}")).unwrap();
        }
        // Positions are copied, not renumbered: a gap before the last row stays.
        conn.execute("UPDATE events SET position = 9 WHERE position = 3", [])
            .unwrap();
        migrate(&mut conn).unwrap();
        let rows: Vec<(i64, String, i64, Option<String>)> = conn
            .prepare(
                "SELECT position, stream_id, version, trace_parent FROM events ORDER BY position",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, "order#A".to_owned(), 1, None),
                (2, "order#A".to_owned(), 2, Some("00-ab-cd-01".to_owned())),
                (9, "order#B".to_owned(), 1, None),
            ]
        );
        insert(&conn, "order#C", 1, "01Jorder#A1").unwrap();
        assert_eq!(conn.last_insert_rowid(), 10, "the position after the last");
        let twice = insert(&conn, "order#C", 1, "01Jother");
        assert!(
            matches!(&twice, Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation),
            "{twice:?}"
        );
        let sequences = number(
            &conn,
            "SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'events'",
        );
        assert_eq!(sequences, 0);
        let indexes = texts(&conn, "SELECT name FROM pragma_index_list('events')");
        assert_eq!(
            indexes.len(),
            1,
            "only the (stream, version) key: {indexes:?}"
        );
        let ops = crate::db::opcodes(
            &conn,
            "INSERT INTO events (stream_id, version, event_id, event_type, schema_version, \
             occurred_at, correlation_id, causation_id, payload, prev_hash, hash, trace_parent) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .unwrap();
        let opens = ops
            .iter()
            .filter(|op| op.as_str() == "OpenWrite" || op.as_str() == "OpenRead")
            .count();
        assert_eq!(opens, 2, "the table and its one index: {ops:?}");
    }

    #[test]
    fn migrations_apply_once_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Db::open(&path, Durability::Normal).unwrap().close();
        Db::open(&path, Durability::Full).unwrap().close();
    }
}
