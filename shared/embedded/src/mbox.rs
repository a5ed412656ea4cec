//! The outbox's file format, with no IO: a notification as an RFC 5322 email, framed as one
//! mboxrd entry, and an mbox's text split back into messages and `Message-ID`s.
//!
//! - **Format: mboxrd.** Each message starts with a `From ` separator line; body lines that
//!   start with `From ` (after any `>`s) get one more `>`; lines end with LF.
//! - **The dedup id is the `Message-ID`** (`<id@orders.local>`), so the outbox can rebuild its
//!   dedup memory from the file itself.
//! - **The order's trace context is a `traceparent` header** (W3C text form), so an email can
//!   be found in its order's trace.
//!
//! Headers hold only addresses that passed [`order_domain::Email`]'s strict parse and subjects
//! this system composes; customer text goes nowhere near a header.

use std::time::SystemTime;

use lettre::address::Envelope;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use order_domain::ports::{Notification, PortError, Topic};
use order_domain::{Email, Timestamp, TraceParent};

use self::dates::asctime;
use self::plain::plain_entry;

mod dates;
mod plain;

/// The `traceparent` header of an email: its order's W3C trace context.
#[derive(Debug, Clone, Copy)]
struct TraceParentHeader(TraceParent);

impl Header for TraceParentHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("traceparent")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(TraceParent::parse(s.trim())?))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

/// The domain of every `Message-ID` the outbox writes.
pub const MESSAGE_ID_DOMAIN: &str = "orders.local";

/// Who the emails are from and who receives every topic (NotificationEmailName in the template).
#[derive(Debug, Clone)]
pub struct Addresses {
    from: Mailbox,
    subscriber: Mailbox,
    /// The subscriber's address as a header writes it.
    subscriber_text: String,
}

impl Addresses {
    /// From `order-pipeline@orders.local` to `subscriber` (and Cc on customer emails).
    pub fn new(subscriber: &Email) -> Result<Self, PortError> {
        let from = format!("order-pipeline@{MESSAGE_ID_DOMAIN}")
            .parse::<lettre::Address>()
            .map(|a| Mailbox::new(Some("Order pipeline".into()), a))
            .map_err(|e| PortError(e.to_string()))?;
        Ok(Self {
            from,
            subscriber: mailbox(subscriber)?,
            subscriber_text: subscriber.as_str().to_owned(),
        })
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
pub fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len().min(800));
    line.extend(text.chars().filter(|c| !c.is_control()).take(200));
    line
}

/// Keeps an id to `[A-Za-z0-9_-]`, as it goes into a `Message-ID`: the form the outbox
/// remembers dedup ids in.
pub fn safe_id(id: &str) -> String {
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

/// The notification as one mboxrd entry: To the recipients and Cc the subscriber (or To the
/// subscriber alone), its dedup id as the `Message-ID`.
pub fn render(addresses: &Addresses, topic: Topic, n: &Notification) -> Result<Vec<u8>, PortError> {
    render_at(addresses, topic, n, Timestamp::now().as_millis() / 1000)
}

/// [`render`] at `unix_seconds` (the `Date` header and the separator line).
fn render_at(
    addresses: &Addresses,
    topic: Topic,
    n: &Notification,
    unix_seconds: u64,
) -> Result<Vec<u8>, PortError> {
    let subject = one_line(&n.subject);
    if let Some(entry) = plain_entry(addresses, topic, n, &subject, unix_seconds) {
        return Ok(entry);
    }
    let date = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(unix_seconds);
    let message = message(addresses, topic, n, subject, date)?;
    Ok(mboxrd_entry(&message.formatted(), unix_seconds))
}

/// The notification as an email.
fn message(
    addresses: &Addresses,
    topic: Topic,
    n: &Notification,
    subject: String,
    date: SystemTime,
) -> Result<Message, PortError> {
    let mut builder = Message::builder()
        .from(addresses.from.clone())
        .subject(subject)
        .message_id(Some(format!(
            "<{}@{MESSAGE_ID_DOMAIN}>",
            safe_id(&n.dedup_id)
        )))
        .date(date)
        .header(ContentType::TEXT_PLAIN)
        .user_agent(format!("order-pipeline ({})", topic.name()));
    if let Some(trace) = n.trace_parent {
        builder = builder.header(TraceParentHeader(trace));
    }
    // The envelope is given, not derived: lettre would otherwise format the To/Cc/From headers
    // and parse them back into addresses for every message (most of rendering's time).
    let mut rcpt = Vec::with_capacity(n.recipients.len() + 1);
    if n.recipients.is_empty() {
        builder = builder.to(addresses.subscriber.clone());
    } else {
        for r in &n.recipients {
            let to = mailbox(r)?;
            rcpt.push(to.email.clone());
            builder = builder.to(to);
        }
        builder = builder.cc(addresses.subscriber.clone());
    }
    rcpt.push(addresses.subscriber.email.clone());
    let envelope = Envelope::new(Some(addresses.from.email.clone()), rcpt)
        .map_err(|e| PortError(format!("email: {e}")))?;
    builder
        .envelope(envelope)
        .body(n.body.clone())
        .map_err(|e| PortError(format!("email: {e}")))
}

/// One mboxrd entry: the separator line, the message with LF line endings and `From ` lines
/// quoted, and a blank line.
fn mboxrd_entry(message: &[u8], unix_seconds: u64) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let date = asctime(unix_seconds);
    let mut out = format!("From order-pipeline@{MESSAGE_ID_DOMAIN} {date}\n");
    push_mboxrd_lines(&mut out, &text);
    out.into_bytes()
}

/// `text`'s lines with LF endings and `From ` lines quoted, then the blank line that ends an
/// entry.
fn push_mboxrd_lines(out: &mut String, text: &str) {
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
}

/// The messages of an mbox's text, unquoted, without separators.
pub fn split_mbox(text: &str) -> Vec<String> {
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

/// The dedup ids of the messages in an mbox's text, in file order: their `Message-ID`s, read
/// from headers only.
pub fn message_ids(text: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn note(id: &str, subject: &str, body: &str) -> Notification {
        Notification {
            dedup_id: id.into(),
            subject: subject.into(),
            body: body.into(),
            recipients: vec![Email::parse("jane@example.com").unwrap()],
            trace_parent: None,
            opened_with: None,
        }
    }

    pub(super) fn addresses() -> Addresses {
        Addresses::new(&Email::parse("ops@example.com").unwrap()).unwrap()
    }

    #[test]
    fn a_notification_is_one_rfc5322_email_whose_message_id_is_its_dedup_id() {
        let msg = note(
            "01JX",
            "Order 1 confirmed\r\nBcc: evil@example.com",
            "Thanks",
        );
        let entry = render(&addresses(), Topic::OrderAlerts, &msg).unwrap();
        let text = String::from_utf8(entry).unwrap();
        let mails = split_mbox(&text);
        assert_eq!(mails.len(), 1);
        assert!(mails[0].contains("To: jane@example.com"));
        assert!(mails[0].contains("Cc: ops@example.com"));
        assert!(mails[0].contains("Message-ID: <01JX@orders.local>"));
        assert!(
            !mails[0].contains("\nBcc:"),
            "a line break in a subject must not make a header"
        );
        assert_eq!(message_ids(&text), vec!["01JX".to_owned()]);
    }

    #[test]
    fn a_notification_without_recipients_goes_to_the_subscriber() {
        let mut msg = note("a", "Alarm", "x");
        msg.recipients.clear();
        let text =
            String::from_utf8(render(&addresses(), Topic::CriticalAlerts, &msg).unwrap()).unwrap();
        assert!(text.contains("To: ops@example.com") && !text.contains("Cc:"));
    }

    #[test]
    fn the_given_envelope_is_the_one_the_headers_say() {
        let mut subscriber_only = note("e-2", "s", "b");
        subscriber_only.recipients.clear();
        for n in [note("e-1", "s", "b"), subscriber_only] {
            let subject = one_line(&n.subject);
            let m = message(
                &addresses(),
                Topic::OrderAlerts,
                &n,
                subject,
                SystemTime::now(),
            )
            .unwrap();
            let derived = Envelope::try_from(m.headers()).unwrap();
            assert_eq!(m.envelope(), &derived, "{:?}", n.recipients);
        }
    }

    /// A body line that looks like an mbox separator is quoted on the way in and unquoted on
    /// the way out, so it neither splits the message nor changes.
    #[test]
    fn a_from_line_in_a_body_survives_the_mbox() {
        let body = "Hello\nFrom here on, thanks\n>From quoted\n";
        let mut raw = render(&addresses(), Topic::OrderAlerts, &note("b-1", "Hi", body)).unwrap();
        raw.extend(
            render(
                &addresses(),
                Topic::OrderAlerts,
                &note("b-2", "Hi", "second"),
            )
            .unwrap(),
        );
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains("\n>From here on, thanks\n"));
        assert!(raw.contains("\n>>From quoted\n"));
        let mails = split_mbox(&raw);
        assert_eq!(mails.len(), 2);
        assert!(mails[0].contains("\nFrom here on, thanks\n>From quoted\n"));
        assert!(mails[1].contains("second"));
        assert_eq!(message_ids(&raw), vec!["b-1".to_owned(), "b-2".to_owned()]);
    }

    #[test]
    fn an_id_is_kept_to_what_a_message_id_may_hold() {
        assert_eq!(safe_id("exec-1/Order Alerts@x"), "exec-1_Order_Alerts_x");
        assert_eq!(safe_id(&"a".repeat(300)).len(), 120);
    }
}
