//! An email written directly, without lettre, when nothing in it needs encoding or folding.

use std::fmt::Write as _;

use order_domain::Email;
use order_domain::ports::{Notification, Topic};

use super::dates::{asctime, rfc2822};
use super::{Addresses, MESSAGE_ID_DOMAIN, push_mboxrd_lines, safe_id};

/// Longest header line written without lettre: past it lettre folds the line.
const PLAIN_HEADER_LINE: usize = 76;
/// Longest body line written without lettre: past it lettre encodes the body.
const PLAIN_BODY_LINE: usize = 74;

/// The mbox entry of a notification that needs no encoding and no folding (printable ASCII,
/// short lines: every email this system composes for an ASCII name), written directly, byte
/// for byte as lettre would write it (test: `plain_entries_are_the_ones_lettre_writes`).
/// `None` when anything needs lettre. Rendering through lettre's builder was most of an email's
/// cost: it formats each address and parses the From header back.
pub(super) fn plain_entry(
    addresses: &Addresses,
    topic: Topic,
    n: &Notification,
    subject: &str,
    unix_seconds: u64,
) -> Option<Vec<u8>> {
    let printable = |text: &str| text.bytes().all(|b| (b' '..=b'~').contains(&b));
    let fits_len = |name: &str, len: usize| name.len() + 2 + len <= PLAIN_HEADER_LINE;
    let fits = |name: &str, value: &str| fits_len(name, value.len());
    let plain_body = n
        .body
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || b == b'\n')
        && n.body.split('\n').all(|line| line.len() <= PLAIN_BODY_LINE);
    if !printable(subject)
        || subject.contains("=?")
        || subject.starts_with(' ')
        || subject.ends_with(' ')
        || subject.contains("  ")
        || !fits("Subject", subject)
        || !plain_body
    {
        return None;
    }
    let id = safe_id(&n.dedup_id);
    // `<id@domain>`, measured without being written.
    if !fits_len("Message-ID", id.len() + MESSAGE_ID_DOMAIN.len() + 3) {
        return None;
    }
    let (to, cc) = if n.recipients.is_empty() {
        (addresses.subscriber_text.clone(), None)
    } else {
        let list: Vec<&str> = n.recipients.iter().map(Email::as_str).collect();
        (list.join(", "), Some(addresses.subscriber_text.as_str()))
    };
    if !fits("To", &to) || cc.is_some_and(|cc| !fits("Cc", cc)) {
        return None;
    }
    let mut out = String::with_capacity(512 + n.body.len());
    let _ = write!(
        out,
        "From order-pipeline@{MESSAGE_ID_DOMAIN} {}\n\
         From: \"Order pipeline\" <order-pipeline@{MESSAGE_ID_DOMAIN}>\n\
         Subject: {subject}\n\
         Message-ID: <{id}@{MESSAGE_ID_DOMAIN}>\n\
         Date: {}\n\
         Content-Type: text/plain; charset=utf-8\n\
         User-Agent: order-pipeline ({})\n",
        asctime(unix_seconds),
        rfc2822(unix_seconds),
        topic.name(),
    );
    if let Some(trace) = n.trace_parent {
        let _ = writeln!(out, "traceparent: {trace}");
    }
    let _ = writeln!(out, "To: {to}");
    if let Some(cc) = cc {
        let _ = writeln!(out, "Cc: {cc}");
    }
    out.push_str("Content-Transfer-Encoding: 7bit\n\n");
    push_mboxrd_lines(&mut out, &n.body);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use order_domain::TraceParent;

    use super::*;
    use crate::mbox::tests::{addresses, note};
    use crate::mbox::{mboxrd_entry, message, one_line, render_at};

    /// What lettre writes for `n` at `secs`.
    fn through_lettre(n: &Notification, topic: Topic, secs: u64) -> String {
        let date = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        let m = message(&addresses(), topic, n, one_line(&n.subject), date).unwrap();
        String::from_utf8(mboxrd_entry(&m.formatted(), secs)).unwrap()
    }

    /// The entries written without lettre are byte for byte lettre's, and every email this
    /// system composes for an ASCII name is one of them.
    #[test]
    fn plain_entries_are_the_ones_lettre_writes() {
        let trace =
            TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        let subjects = [
            "Order 01JX0000000000000000000000 confirmed",
            "We received your order 01JX0000000000000000000000",
            "s",
            "Refund r-1 issued: $9.99 (50% off!) <a> [b] {c} \\ \"q\" ~ ^ `x` #1, @2; 3?",
            "trailing space ",
            " leading",
            "two  spaces",
            "encoded =?utf-8?q?x?=",
            "Commande réglée",
            &"long subject ".repeat(6),
        ];
        let bodies = [
            "Dear Jane,\n\nYour order 01JX is confirmed.\nTotal: $19.98\n",
            "",
            "no newline at the end",
            "From here on, thanks\n>From quoted\n",
            "crlf\r\nline\r\n",
            "tab\there\n",
            &"x".repeat(74),
            &"x".repeat(75),
            &format!("first\n{}\n", "y".repeat(74)),
            "Chère Zoë",
        ];
        let secs = [0, 951_782_400, 1_795_667_838];
        let mut plain = 0;
        for (i, subject) in subjects.iter().enumerate() {
            for (j, body) in bodies.iter().enumerate() {
                let mut n = note(&format!("id-{i}-{j}"), subject, body);
                if (i + j) % 2 == 0 {
                    n.trace_parent = Some(trace);
                }
                if j % 3 == 1 {
                    n.recipients.clear();
                } else if j % 3 == 2 {
                    n.recipients.push(Email::parse("bob@example.org").unwrap());
                }
                let at = secs[(i + j) % secs.len()];
                let subject = one_line(&n.subject);
                if let Some(entry) = plain_entry(&addresses(), Topic::OrderAlerts, &n, &subject, at)
                {
                    plain += 1;
                    let entry = String::from_utf8(entry).unwrap();
                    assert_eq!(
                        entry,
                        through_lettre(&n, Topic::OrderAlerts, at),
                        "{subject:?} {body:?}"
                    );
                }
                let rendered =
                    String::from_utf8(render_at(&addresses(), Topic::OrderAlerts, &n, at).unwrap())
                        .unwrap();
                assert_eq!(rendered, through_lettre(&n, Topic::OrderAlerts, at));
            }
        }
        assert!(
            plain >= 15,
            "only {plain} entries were written without lettre"
        );
        let system = note(
            "01JX",
            "Order 01JX0000000000000000000000 confirmed",
            "Dear Jane,\nthanks.\n",
        );
        assert!(
            plain_entry(
                &addresses(),
                Topic::OrderErrors,
                &system,
                &one_line(&system.subject),
                0
            )
            .is_some()
        );
    }
}
