//! The local stand-in for SNS email subscriptions: every message becomes a real RFC 5322 email
//! ([`crate::mbox`]), appended to one mbox file per topic, `<data-dir>/outbox/<TopicName>.mbox`,
//! plus one log line.
//!
//! - **One file per topic, not one per email.** A file per email made creating inodes the
//!   largest single cost of the whole pipeline at 1,000 orders/s (`ext4_create`, a third of the
//!   CPU once a directory has seen many deletions), and left a million files per million orders.
//!   An mbox opens in any mail client (`mutt -f outbox/OrderAlertsTopic.mbox`) and reads with
//!   `less`; [`read_mbox`] splits it.
//! - **At least once, delivered once.** A redelivered publish carries the same dedup id, which is
//!   the message's `Message-ID`; the dedup decision is [`order_domain::dedup::judge_publish`],
//!   on a memory of the last [`REMEMBERED_IDS`] ids of each topic. The memory and the file change
//!   together under the topic's lock, so a record is never left PENDING: an id is unseen or
//!   sent. Redeliveries come within minutes of the first try, so memory stays bounded however
//!   long the server runs; at start the ids are read from the file's last [`TAIL_BYTES`] (a
//!   crash's redeliveries are of its last messages).
//! - **One write per email.** The message is rendered first and appended with a single `write`
//!   to a file opened in append mode, so concurrent publishers never interleave and a killed
//!   process never leaves half a message behind it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use foldhash::fast::RandomState;
use order_domain::Email;
use order_domain::Timestamp;
use order_domain::dedup::{DedupRecord, judge_publish};
use order_domain::ports::{Notification, Notifier, PortError, Published, Topic};

use crate::mbox::{Addresses, message_ids, one_line, render, safe_id, split_mbox};

/// Dedup ids remembered per topic: minutes of emails at full speed.
pub const REMEMBERED_IDS: usize = 100_000;
/// How much of an mbox's end is read at start for the ids of its last messages (about as many
/// messages as [`REMEMBERED_IDS`]).
pub const TAIL_BYTES: u64 = 64 * 1024 * 1024;

/// Appends notifications as emails to one mbox per topic.
#[derive(Clone)]
pub struct OutboxNotifier {
    dir: PathBuf,
    addresses: Addresses,
    boxes: Arc<HashMap<Topic, Mutex<TopicBox>>>,
}

struct TopicBox {
    file: File,
    /// Dedup ids of the topic's latest messages (foldhash: an id is hashed twice per email),
    /// and the order they came in.
    sent: HashSet<String, RandomState>,
    order: VecDeque<String>,
}

impl TopicBox {
    fn remember(&mut self, id: String) {
        if self.sent.insert(id.clone()) {
            self.order.push_back(id);
            if self.order.len() > REMEMBERED_IDS
                && let Some(oldest) = self.order.pop_front()
            {
                self.sent.remove(&oldest);
            }
        }
    }

    /// What the memory holds of `id`: sent, or nothing.
    fn record(&self, id: &str) -> Option<DedupRecord> {
        self.sent.contains(id).then_some(DedupRecord::Sent)
    }
}

fn io(e: impl std::fmt::Display) -> PortError {
    PortError(format!("outbox: {e}"))
}

impl OutboxNotifier {
    /// Opens (creating) one mbox per topic under `outbox_dir`, and reads the `Message-ID`s
    /// already in them.
    pub fn new(outbox_dir: &Path, subscriber: &Email) -> Result<Self, PortError> {
        std::fs::create_dir_all(outbox_dir).map_err(io)?;
        let mut boxes = HashMap::new();
        for topic in Topic::all() {
            let path = mbox_path(outbox_dir, topic);
            let tail =
                read_tail(&path, TAIL_BYTES).map_err(|e| io(format!("{}: {e}", path.display())))?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io(format!("{}: {e}", path.display())))?;
            let mut b = TopicBox {
                file,
                sent: HashSet::default(),
                order: VecDeque::new(),
            };
            for id in message_ids(&tail) {
                b.remember(id);
            }
            boxes.insert(topic, Mutex::new(b));
        }
        Ok(Self {
            dir: outbox_dir.to_owned(),
            addresses: Addresses::new(subscriber)?,
            boxes: Arc::new(boxes),
        })
    }

    /// The topic's mbox file.
    pub fn mbox(&self, topic: Topic) -> PathBuf {
        mbox_path(&self.dir, topic)
    }

    /// The emails of a topic, oldest first.
    pub fn messages(&self, topic: Topic) -> Vec<String> {
        read_mbox(&self.mbox(topic))
    }
}

/// `<dir>/<TopicName>.mbox`.
pub fn mbox_path(outbox_dir: &Path, topic: Topic) -> PathBuf {
    outbox_dir.join(format!("{}.mbox", topic.name()))
}

/// The messages of an mbox file (a missing file has none), unquoted, without separators.
pub fn read_mbox(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|text| split_mbox(&text))
        .unwrap_or_default()
}

/// The last `limit` bytes of an mbox, from its first whole message on ("" if there is none).
fn read_tail(path: &Path, limit: u64) -> std::io::Result<String> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let start = len.saturating_sub(limit);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if start == 0 {
        return Ok(text);
    }
    // Cut in the middle of a message: begin at the next separator line.
    Ok(text
        .find("\nFrom ")
        .map_or_else(String::new, |i| text[i + 1..].to_owned()))
}

impl Notifier for OutboxNotifier {
    async fn publish(&self, topic: Topic, message: Notification) -> Result<Published, PortError> {
        let id = safe_id(&message.dedup_id);
        let bytes = render(&self.addresses, topic, &message)?;
        let subject = one_line(&message.subject);
        let now = Timestamp::now();
        let topic_box = self
            .boxes
            .get(&topic)
            .ok_or_else(|| io(format!("no mbox for {}", topic.name())))?;
        {
            let mut b = topic_box.lock().map_err(|_| io("lock poisoned"))?;
            if !judge_publish(b.record(&id), now).publishes() {
                tracing::debug!(topic = topic.name(), dedup_id = %message.dedup_id, "duplicate notification dropped");
                return Ok(Published::Duplicate);
            }
            // One small append to the page cache: no slower than the log line below, so it is
            // done here rather than on a blocking thread.
            b.file.write_all(&bytes).map_err(io)?;
            b.remember(id);
        }
        tracing::info!(topic = topic.name(), subject = %subject, mbox = %self.mbox(topic).display(), "notification sent");
        Ok(Published::Sent)
    }
}

/// Adapter-specific properties; what every notifier must do is `order-testkit`'s notifier
/// contract, which runs on this one.
#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: &str, body: &str) -> Notification {
        Notification {
            dedup_id: id.into(),
            subject: "S".into(),
            body: body.into(),
            recipients: vec![Email::parse("jane@example.com").unwrap()],
            trace_parent: None,
            opened_with: None,
        }
    }

    fn outbox(dir: &Path) -> OutboxNotifier {
        OutboxNotifier::new(dir, &Email::parse("ops@example.com").unwrap()).unwrap()
    }

    #[tokio::test]
    async fn each_topic_has_its_own_mbox_of_whole_emails() {
        let dir = tempfile::tempdir().unwrap();
        let n = outbox(dir.path());
        n.publish(Topic::OrderAlerts, note("m-1", "Thanks"))
            .await
            .unwrap();
        let mails = n.messages(Topic::OrderAlerts);
        assert_eq!(mails.len(), 1);
        assert!(mails[0].contains("Message-ID: <m-1@orders.local>") && mails[0].contains("Thanks"));
        assert!(n.messages(Topic::OrderErrors).is_empty());
        assert!(dir.path().join("OrderAlertsTopic.mbox").exists());
    }

    /// The dedup memory is bounded: the oldest ids are forgotten first.
    #[test]
    fn only_the_latest_ids_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("x")).unwrap();
        let mut b = TopicBox {
            file,
            sent: HashSet::default(),
            order: VecDeque::new(),
        };
        for i in 0..=REMEMBERED_IDS {
            b.remember(format!("id-{i}"));
        }
        b.remember("id-5".into());
        assert_eq!(b.sent.len(), REMEMBERED_IDS);
        assert_eq!(b.record("id-0"), None);
        assert_eq!(b.record("id-1"), Some(DedupRecord::Sent));
        assert!(b.sent.contains(&format!("id-{REMEMBERED_IDS}")));
    }

    /// At start only the file's tail is read, from its first whole message on.
    #[tokio::test]
    async fn the_ids_read_at_start_come_from_whole_messages_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let n = outbox(dir.path());
        for i in 0..10 {
            n.publish(Topic::OrderAlerts, note(&format!("t-{i}"), "body"))
                .await
                .unwrap();
        }
        let path = n.mbox(Topic::OrderAlerts);
        let len = std::fs::metadata(&path).unwrap().len();
        let ids = message_ids(&read_tail(&path, len / 2).unwrap());
        assert!(!ids.is_empty() && ids.len() < 10, "{ids:?}");
        assert_eq!(ids.last().map(String::as_str), Some("t-9"));
        assert_eq!(message_ids(&read_tail(&path, len).unwrap()).len(), 10);
    }

    /// Many publishers at once: every email whole, none lost, none twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_publishes_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let n = outbox(dir.path());
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let n = n.clone();
            tasks.spawn(async move {
                let id = format!("c-{}", i % 100);
                n.publish(Topic::OrderAlerts, note(&id, &"line\n".repeat(50)))
                    .await
                    .unwrap();
            });
        }
        while tasks.join_next().await.is_some() {}
        let mails = n.messages(Topic::OrderAlerts);
        assert_eq!(mails.len(), 100);
        assert!(mails.iter().all(|m| m.matches("line\n").count() == 50));
    }
}
