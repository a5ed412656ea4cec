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
        let running: Vec<String> = conn
            .prepare(crate::db::RUNNING_EXECUTIONS)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(running, ["a", "c"]);
        let indexed: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM executions INDEXED BY executions_running WHERE status = 'RUNNING'",
                [],
                |r| r.get(0),
            )
            .unwrap();
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

    #[test]
    fn migrations_apply_once_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Db::open(&path, Durability::Normal).unwrap().close();
        Db::open(&path, Durability::Full).unwrap().close();
    }
}
