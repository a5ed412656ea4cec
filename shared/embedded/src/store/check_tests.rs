//! The writer's version check and a decision's heads answer the same whether the stream cache
//! knows the stream (they come from it) or not (from the database).

use order_domain::ports::{DecideError, EventStore};
use order_domain::{OrderId, StreamId};

use super::*;
use crate::db::Durability;

fn noted(id: &StreamId, expected: u64, n: u64) -> StreamWrite {
    crate::test_writes::noted(id, expected, n)
}

/// Appends at `expected` and answers whether the store took it (a conflict is `false`).
async fn takes(store: &SqliteEventStore, id: &StreamId, expected: u64) -> bool {
    match store.append(vec![noted(id, expected, 1)]).await {
        Ok(()) => true,
        Err(StoreError::Conflict { .. }) => false,
        Err(e) => panic!("{e}"),
    }
}

/// The head a decision on `id` is given.
async fn decided_head(store: &SqliteEventStore, id: &StreamId) -> Option<u64> {
    store
        .decide_and_append(vec![id.clone()], |heads| {
            Ok::<_, ()>((Vec::new(), heads[0].as_ref().map(|e| e.version)))
        })
        .await
        .map_err(|e: DecideError<()>| format!("{e:?}"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_and_heads_answer_alike_from_the_cache_and_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check.db");
    let id = OrderId::generate().stream();
    {
        let db = Db::open(&path, Durability::Normal).unwrap();
        let store = SqliteEventStore::new(db.clone());
        store.append(vec![noted(&id, 0, 2)]).await.unwrap();
        // Known to the cache, at version 2.
        assert_eq!(store.cache().head_version(id.as_str()), Some(2));
        assert!(!takes(&store, &id, 1).await, "behind");
        assert!(!takes(&store, &id, 3).await, "ahead");
        assert_eq!(decided_head(&store, &id).await, Some(2));
        assert!(takes(&store, &id, 2).await);
        assert_eq!(decided_head(&store, &id).await, Some(3));
        db.close();
    }
    // After a restart the cache knows nothing: the same answers come from the database.
    let db = Db::open(&path, Durability::Normal).unwrap();
    let store = SqliteEventStore::new(db.clone());
    assert_eq!(store.cache().head_version(id.as_str()), None);
    assert_eq!(decided_head(&store, &id).await, Some(3));
    assert!(!takes(&store, &id, 2).await, "behind");
    assert!(!takes(&store, &id, 4).await, "ahead");
    assert!(takes(&store, &id, 3).await);
    let unknown = OrderId::generate().stream();
    assert_eq!(decided_head(&store, &unknown).await, None);
    assert!(
        !takes(&store, &unknown, 1).await,
        "ahead of an empty stream"
    );
    assert!(takes(&store, &unknown, 0).await);
    let versions: Vec<u64> = store
        .read_stream(&id, 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.version)
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    db.close();
}
