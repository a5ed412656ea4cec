//! What only the SQLite key store promises beyond the contract suite (order-testkit's `keys`):
//! the bytes on disk. A copy of the files must never hold a raw key, and after a forget must
//! not hold the wrapped key either.

use std::path::Path;

use order_domain::CustomerId;
use order_domain::ports::KeyStore;

use super::*;
use crate::db::Durability;

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn open(dir: &Path) -> (Db, SqliteKeys) {
    let db = Db::open(&dir.join("orders.db"), Durability::Normal).unwrap();
    let keys = SqliteKeys::open(db.clone(), dir).unwrap();
    (db, keys)
}

/// The database file and its WAL, as a thief copying them would read them.
fn disk_bytes(dir: &Path) -> Vec<u8> {
    let mut all = std::fs::read(dir.join("orders.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("orders.db-wal")) {
        all.extend_from_slice(&wal);
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn wrapped_of(db: &Db, customer: &CustomerId) -> Vec<u8> {
    let id = customer.as_str().to_owned();
    db.read(move |c| stored(c, &id)).await.unwrap().unwrap().1
}

#[tokio::test]
async fn the_files_never_hold_a_raw_key_and_after_forget_not_the_wrapped_one() {
    let dir = tempfile::tempdir().unwrap();
    let (db, keys) = open(dir.path());
    let jane = customer("jane");
    let key = keys.current_key(&jane).await.unwrap();
    let wrapped = wrapped_of(&db, &jane).await;
    assert_eq!(wrapped.len(), WRAPPED_LEN);
    let before = disk_bytes(dir.path());
    assert!(
        contains(&before, &wrapped),
        "the search must see the stored key"
    );
    assert!(!contains(&before, &key.material), "a raw key is on disk");

    assert_eq!(keys.forget(&jane).await.unwrap(), 1);
    let after = disk_bytes(dir.path());
    assert!(
        !contains(&after, &wrapped),
        "the wrapped key survived forget"
    );
    assert!(!contains(&after, &key.material));
    assert!(
        !contains(&after, key.id.as_bytes()),
        "the key id survived forget"
    );
    db.close();
}

/// Many customers spread the table over several pages (splits move rows between pages); the
/// forgotten one's bytes must be gone from every page, the others' keys intact.
#[tokio::test]
async fn forgetting_one_of_many_customers_leaves_no_copy_of_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (db, keys) = open(dir.path());
    let mut victims = Vec::new();
    for i in 0..300 {
        let c = customer(&format!("customer-{i:04}-{}", "x".repeat(i % 90)));
        let key = keys.current_key(&c).await.unwrap();
        if i % 37 == 5 {
            victims.push((c, key));
        }
    }
    let mut wrapped = Vec::new();
    for (c, _) in &victims {
        wrapped.push(wrapped_of(&db, c).await);
    }
    for (c, _) in &victims {
        assert_eq!(keys.forget(c).await.unwrap(), 1);
    }
    let after = disk_bytes(dir.path());
    for (w, (c, key)) in wrapped.iter().zip(&victims) {
        assert!(!contains(&after, w), "{} left its wrapped key", c.as_str());
        assert!(!contains(&after, &key.material));
    }
    let survivor = customer("customer-0000-");
    assert!(keys.current_key(&survivor).await.is_ok());
    db.close();
}

#[tokio::test]
async fn the_database_without_its_master_key_opens_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let (db, keys) = open(dir.path());
    let jane = customer("jane");
    let key = keys.current_key(&jane).await.unwrap();
    db.close();

    // A thief's copy: the database and its WAL, no master key beside them.
    let copy = tempfile::tempdir().unwrap();
    for file in ["orders.db", "orders.db-wal"] {
        if dir.path().join(file).exists() {
            std::fs::copy(dir.path().join(file), copy.path().join(file)).unwrap();
        }
    }
    assert!(
        contains(&disk_bytes(copy.path()), key.id.as_bytes()),
        "the copy has the row"
    );
    assert!(!contains(&disk_bytes(copy.path()), &key.material));
    let (db, stolen) = open(copy.path());
    let err = stolen.find_key(&jane, &key.id).await.unwrap_err();
    assert!(err.0.contains("does not unwrap"), "{err}");
    assert!(stolen.current_key(&jane).await.is_err());
    db.close();
}

#[tokio::test]
async fn a_wrapped_key_moved_to_another_customer_does_not_unwrap() {
    let dir = tempfile::tempdir().unwrap();
    let (db, keys) = open(dir.path());
    let (jane, john) = (customer("jane"), customer("john"));
    let key = keys.current_key(&jane).await.unwrap();
    let wrapped = wrapped_of(&db, &jane).await;
    let kid = key.id.clone();
    db.write(move |c| {
        c.execute(
            "INSERT INTO customer_keys (customer_id, key_id, wrapped_key, created_at) \
             VALUES ('john', ?1, ?2, 0)",
            params![kid, wrapped],
        )
    })
    .await
    .unwrap();
    assert!(keys.find_key(&john, &key.id).await.is_err());
    db.close();
}

#[cfg(unix)]
#[test]
fn the_master_key_is_private_and_made_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let d = dir.path().to_owned();
            std::thread::spawn(move || MasterKey::load_or_create(&d).unwrap())
        })
        .collect();
    let masters: Vec<MasterKey> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let path = dir.path().join(MASTER_KEY_FILE);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(std::fs::read(&path).unwrap().len(), 32);
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1,
        "no candidate file is left behind"
    );
    // All four got the one key: what one wraps, the others unwrap.
    let key = DataKey {
        id: "k1".into(),
        material: random_key().unwrap(),
    };
    let jane = customer("jane");
    let wrapped = masters[0].wrap(&jane, &key).unwrap();
    for m in &masters[1..] {
        assert_eq!(
            m.unwrap(&jane, "k1", &wrapped).unwrap().material,
            key.material
        );
    }
    assert!(masters[1].unwrap(&jane, "k2", &wrapped).is_err());
}

#[test]
fn a_master_key_file_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(MASTER_KEY_FILE);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"short").unwrap();
    let err = MasterKey::load_or_create(dir.path()).unwrap_err();
    assert!(matches!(err, KeysError::BadMasterKey(_)), "{err}");
}

/// A forget on a busy database (the writer committing all the while, readers reading) still
/// truncates the WAL, promptly, and leaves no copy of the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_finishes_while_the_database_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let (db, keys) = open(dir.path());
    let jane = customer("jane");
    keys.current_key(&jane).await.unwrap();
    let wrapped = wrapped_of(&db, &jane).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (db, stop) = (db.clone(), stop.clone());
        load.spawn(async move {
            let mut i = 0_u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.write(move |c| {
                    c.execute(
                        "INSERT INTO alarms (name, state, updated_at) VALUES (?1, 'OK', 0)",
                        params![format!("load-{w}-{i}")],
                    )
                })
                .await
                .unwrap();
                db.read(|c| c.query_row("SELECT count(*) FROM alarms", [], |r| r.get::<_, i64>(0)))
                    .await
                    .unwrap();
                i += 1;
            }
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    assert_eq!(keys.forget(&jane).await.unwrap(), 1);
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.join_all().await;
    assert!(
        took < std::time::Duration::from_secs(5),
        "forget took {took:?}"
    );
    assert!(!contains(&disk_bytes(dir.path()), &wrapped));
    db.close();
}
