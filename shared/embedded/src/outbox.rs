//! The local stand-in for SNS email subscriptions: every message becomes a real RFC 5322 email,
//! appended to one mbox file per topic, `<data-dir>/outbox/<TopicName>.mbox`, plus one log line.
//!
//! - **One file per topic, not one per email.** A file per email made creating inodes the
//!   largest single cost of the whole pipeline at 1,000 orders/s (`ext4_create`, a third of the
//!   CPU once a directory has seen many deletions), and left a million files per million orders.
//!   An mbox opens in any mail client (`mutt -f outbox/OrderAlertsTopic.mbox`) and reads with
//!   `less`; [`read_mbox`] splits it.
//! - **Format: mboxrd.** Each message starts with a `From ` separator line; body lines that
//!   start with `From ` (after any `>`s) get one more `>`; lines end with LF.
//! - **At least once, delivered once.** A redelivered publish carries the same dedup id, which is
//!   the message's `Message-ID`; an id among the last [`REMEMBERED_IDS`] of its topic is not
//!   written again. Redeliveries come within minutes of the first try, so memory stays bounded
//!   however long the server runs; at start the ids are read from the file's last
//!   [`TAIL_BYTES`] (a crash's redeliveries are of its last messages).
//! - **One write per email.** The message is rendered first and appended with a single `write`
//!   to a file opened in append mode, so concurrent publishers never interleave and a killed
//!   process never leaves half a message behind it.
//!
//! Headers hold only addresses that passed [`order_domain::Email`]'s strict parse and subjects
//! this system composes; customer text goes nowhere near a header.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use order_domain::ports::{Notification, Notifier, PortError, Topic};
use order_domain::{Email, Timestamp};

/// The domain of every `Message-ID` the outbox writes.
const MESSAGE_ID_DOMAIN: &str = "orders.local";
/// Dedup ids remembered per topic: minutes of emails at full speed.
pub const REMEMBERED_IDS: usize = 100_000;
/// How much of an mbox's end is read at start for the ids of its last messages (about as many
/// messages as [`REMEMBERED_IDS`]).
pub const TAIL_BYTES: u64 = 64 * 1024 * 1024;

/// Appends notifications as emails to one mbox per topic.
#[derive(Clone)]
pub struct OutboxNotifier {
    dir: PathBuf,
    from: Mailbox,
    /// The topics' email subscriber (NotificationEmailName in the template).
    subscriber: Mailbox,
    boxes: Arc<HashMap<Topic, Mutex<TopicBox>>>,
}

struct TopicBox {
    file: File,
    /// Dedup ids of the topic's latest messages, and the order they came in.
    sent: HashSet<String>,
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
}

fn mailbox(email: &Email) -> Result<Mailbox, PortError> {
    email
        .as_str()
        .parse::<lettre::Address>()
        .map(|a| Mailbox::new(None, a))
        .map_err(|e| PortError(format!("address {email}: {e}")))
}

/// Keeps a header value on one line and of sane length.
fn one_line(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Keeps an id to `[A-Za-z0-9_-]`, as it goes into a `Message-ID`.
fn safe_id(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect()
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
                sent: HashSet::new(),
                order: VecDeque::new(),
            };
            for id in message_ids(&tail) {
                b.remember(id);
            }
            boxes.insert(topic, Mutex::new(b));
        }
        let from = "order-pipeline@orders.local"
            .parse::<lettre::Address>()
            .map(|a| Mailbox::new(Some("Order pipeline".into()), a))
            .map_err(|e| PortError(e.to_string()))?;
        Ok(Self {
            dir: outbox_dir.to_owned(),
            from,
            subscriber: mailbox(subscriber)?,
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

    fn render(&self, topic: Topic, n: &Notification) -> Result<Vec<u8>, PortError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(one_line(&n.subject))
            .message_id(Some(format!(
                "<{}@{MESSAGE_ID_DOMAIN}>",
                safe_id(&n.dedup_id)
            )))
            .date(SystemTime::now())
            .header(ContentType::TEXT_PLAIN)
            .user_agent(format!("order-pipeline ({})", topic.name()));
        if n.recipients.is_empty() {
            builder = builder.to(self.subscriber.clone());
        } else {
            for r in &n.recipients {
                builder = builder.to(mailbox(r)?);
            }
            builder = builder.cc(self.subscriber.clone());
        }
        let message = builder
            .body(n.body.clone())
            .map_err(|e| PortError(format!("email: {e}")))?;
        Ok(mboxrd_entry(&message.formatted()))
    }
}

/// `<dir>/<TopicName>.mbox`.
pub fn mbox_path(outbox_dir: &Path, topic: Topic) -> PathBuf {
    outbox_dir.join(format!("{}.mbox", topic.name()))
}

/// One mboxrd entry: the separator line, the message with LF line endings and `From ` lines
/// quoted, and a blank line.
fn mboxrd_entry(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let date = asctime(Timestamp::now().as_millis() / 1000);
    let mut out = format!("From order-pipeline@{MESSAGE_ID_DOMAIN} {date}\n");
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_start_matches('>').starts_with("From ") {
            out.push('>');
        }
        out.push_str(line);
        out.push('\n');
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.into_bytes()
}

/// `Thu Nov 26 04:37:18 2026` (UTC): the date format of an mbox separator line (RFC 4155).
fn asctime(unix_seconds: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm), in unsigned arithmetic.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{} {} {day:2} {:02}:{:02}:{:02} {year}",
        DAYS[usize::try_from(days % 7).unwrap_or(0)],
        MONTHS[usize::try_from(month - 1).unwrap_or(0)],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
    )
}

/// The messages of an mbox file (a missing file has none), unquoted, without separators.
pub fn read_mbox(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut messages = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("From ") {
            messages.extend(current.take());
            current = Some(String::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        let line = if line.trim_start_matches('>').starts_with("From ") {
            &line[1..]
        } else {
            line
        };
        m.push_str(line);
        m.push('\n');
    }
    messages.extend(current);
    for m in &mut messages {
        // The blank line that ends each entry is the separator's, not the message's.
        if m.ends_with("\n\n") {
            m.pop();
        }
    }
    messages
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

/// The dedup ids of the messages in an mbox, in file order: their `Message-ID`s, read from
/// headers only.
fn message_ids(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut in_headers = false;
    for line in text.lines() {
        if line.starts_with("From ") {
            in_headers = true;
        } else if line.is_empty() {
            in_headers = false;
        } else if in_headers
            && let Some(value) = line
                .strip_prefix("Message-ID:")
                .or_else(|| line.strip_prefix("Message-Id:"))
            && let Some(id) = value
                .trim()
                .strip_prefix('<')
                .and_then(|v| v.strip_suffix(&format!("@{MESSAGE_ID_DOMAIN}>")))
        {
            ids.push(id.to_owned());
        }
    }
    ids
}

impl Notifier for OutboxNotifier {
    async fn publish(&self, topic: Topic, message: Notification) -> Result<(), PortError> {
        let id = safe_id(&message.dedup_id);
        let bytes = self.render(topic, &message)?;
        let subject = one_line(&message.subject);
        let topic_box = self
            .boxes
            .get(&topic)
            .ok_or_else(|| io(format!("no mbox for {}", topic.name())))?;
        {
            let mut b = topic_box.lock().map_err(|_| io("lock poisoned"))?;
            if b.sent.contains(&id) {
                tracing::debug!(topic = topic.name(), dedup_id = %message.dedup_id, "duplicate notification dropped");
                return Ok(());
            }
            // One small append to the page cache: no slower than the log line below, so it is
            // done here rather than on a blocking thread.
            b.file.write_all(&bytes).map_err(io)?;
            b.remember(id);
        }
        tracing::info!(topic = topic.name(), subject = %subject, mbox = %self.mbox(topic).display(), "notification sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(id: &str, subject: &str, body: &str) -> Notification {
        Notification {
            dedup_id: id.into(),
            subject: subject.into(),
            body: body.into(),
            recipients: vec![Email::parse("jane@example.com").unwrap()],
        }
    }

    #[tokio::test]
    async fn a_notification_is_one_rfc5322_email_and_a_duplicate_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Email::parse("ops@example.com").unwrap();
        let n = OutboxNotifier::new(dir.path(), &ops).unwrap();
        let msg = note(
            "01JX",
            "Order 1 confirmed\r\nBcc: evil@example.com",
            "Thanks",
        );
        n.publish(Topic::OrderAlerts, msg.clone()).await.unwrap();
        n.publish(Topic::OrderAlerts, msg).await.unwrap();
        let mails = n.messages(Topic::OrderAlerts);
        assert_eq!(mails.len(), 1);
        let text = &mails[0];
        assert!(text.contains("To: jane@example.com"));
        assert!(text.contains("Cc: ops@example.com"));
        assert!(text.contains("Message-ID: <01JX@orders.local>"));
        assert!(
            !text.contains("\nBcc:"),
            "a line break in a subject must not make a header"
        );
        assert!(n.messages(Topic::OrderErrors).is_empty());
    }

    /// A restarted process reads the ids already sent, so a redelivery after the restart is
    /// still dropped.
    #[tokio::test]
    async fn a_duplicate_after_a_restart_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Email::parse("ops@example.com").unwrap();
        let first = OutboxNotifier::new(dir.path(), &ops).unwrap();
        first
            .publish(Topic::OrderErrors, note("a-1", "Failed", "x"))
            .await
            .unwrap();
        drop(first);
        let second = OutboxNotifier::new(dir.path(), &ops).unwrap();
        second
            .publish(Topic::OrderErrors, note("a-1", "Failed", "x"))
            .await
            .unwrap();
        second
            .publish(Topic::OrderErrors, note("a-2", "Failed", "y"))
            .await
            .unwrap();
        assert_eq!(second.messages(Topic::OrderErrors).len(), 2);
    }

    /// A body line that looks like an mbox separator is quoted on the way in and unquoted on
    /// the way out, so it neither splits the message nor changes.
    #[tokio::test]
    async fn a_from_line_in_a_body_survives_the_mbox() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Email::parse("ops@example.com").unwrap();
        let n = OutboxNotifier::new(dir.path(), &ops).unwrap();
        let body = "Hello\nFrom here on, thanks\n>From quoted\n";
        n.publish(Topic::OrderAlerts, note("b-1", "Hi", body))
            .await
            .unwrap();
        n.publish(Topic::OrderAlerts, note("b-2", "Hi", "second"))
            .await
            .unwrap();
        let raw = std::fs::read_to_string(n.mbox(Topic::OrderAlerts)).unwrap();
        assert!(raw.contains("\n>From here on, thanks\n"));
        assert!(raw.contains("\n>>From quoted\n"));
        let mails = n.messages(Topic::OrderAlerts);
        assert_eq!(mails.len(), 2);
        assert!(mails[0].contains("\nFrom here on, thanks\n>From quoted\n"));
        assert!(mails[1].contains("second"));
    }

    #[test]
    fn separator_dates_are_in_asctime_form() {
        assert_eq!(asctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(asctime(1_795_667_838), "Thu Nov 26 04:37:18 2026");
        assert_eq!(asctime(951_782_400), "Tue Feb 29 00:00:00 2000");
    }

    /// The dedup memory is bounded: the oldest ids are forgotten first.
    #[test]
    fn only_the_latest_ids_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("x")).unwrap();
        let mut b = TopicBox {
            file,
            sent: HashSet::new(),
            order: VecDeque::new(),
        };
        for i in 0..=REMEMBERED_IDS {
            b.remember(format!("id-{i}"));
        }
        b.remember("id-5".into());
        assert_eq!(b.sent.len(), REMEMBERED_IDS);
        assert!(!b.sent.contains("id-0"));
        assert!(b.sent.contains("id-1") && b.sent.contains(&format!("id-{REMEMBERED_IDS}")));
    }

    /// At start only the file's tail is read, from its first whole message on.
    #[tokio::test]
    async fn the_ids_read_at_start_come_from_whole_messages_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let ops = Email::parse("ops@example.com").unwrap();
        let n = OutboxNotifier::new(dir.path(), &ops).unwrap();
        for i in 0..10 {
            n.publish(Topic::OrderAlerts, note(&format!("t-{i}"), "S", "body"))
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
        let ops = Email::parse("ops@example.com").unwrap();
        let n = OutboxNotifier::new(dir.path(), &ops).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let n = n.clone();
            tasks.spawn(async move {
                let id = format!("c-{}", i % 100);
                n.publish(Topic::OrderAlerts, note(&id, "S", &"line\n".repeat(50)))
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
