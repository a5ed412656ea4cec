//! W3C trace context (`traceparent`) as a value: the one trace an order's events, tasks,
//! projections and emails belong to.
//!
//! The text form is `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`
//! (<https://www.w3.org/TR/trace-context/#traceparent-header>). Held as bytes, so the type is
//! `Copy` and carrying it through a step allocates nothing.
//!
//! A new trace id starts with the current epoch seconds (the rest is random): that is the form
//! AWS X-Ray requires of a W3C trace id (`1-<8 hex epoch>-<24 hex>`), so a trace started by
//! either host can be sent to X-Ray as is.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// The `sampled` flag: the only flag W3C defines in version 00.
pub const SAMPLED: u8 = 0x01;

/// A validated `traceparent`: which trace, which span is the parent, and the trace flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

/// A `traceparent` that is not W3C version 00 with non-zero ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid traceparent: {0}")]
pub struct TraceParentError(&'static str);

impl TraceParent {
    /// A new trace (sampled), its root span id random.
    pub fn new_root() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut trace_id = [0u8; 16];
        trace_id[..4].copy_from_slice(&u32::try_from(secs).unwrap_or(u32::MAX).to_be_bytes());
        trace_id[4..].copy_from_slice(&random_u128().to_be_bytes()[4..]);
        Self {
            trace_id,
            span_id: new_span_id(),
            flags: SAMPLED,
        }
    }

    /// The context a trace's parts are built from, as OpenTelemetry holds it. `None` when
    /// either id is all zeros (invalid in W3C).
    pub fn from_parts(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> Option<Self> {
        (trace_id != [0; 16] && span_id != [0; 8]).then_some(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// Parses the header's text form (version 00 only; lowercase hex, as W3C requires).
    pub fn parse(text: &str) -> Result<Self, TraceParentError> {
        let b = text.as_bytes();
        if b.len() != 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(TraceParentError("expected 00-<32 hex>-<16 hex>-<2 hex>"));
        }
        if &b[..2] != b"00" {
            return Err(TraceParentError("unsupported version"));
        }
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        let mut flags = [0u8; 1];
        decode_lower_hex(&b[3..35], &mut trace_id)?;
        decode_lower_hex(&b[36..52], &mut span_id)?;
        decode_lower_hex(&b[53..55], &mut flags)?;
        Self::from_parts(trace_id, span_id, flags[0])
            .ok_or(TraceParentError("all-zero trace or span id"))
    }

    /// The trace context of an AWS X-Ray trace header (`X-Amzn-Trace-Id`, `_X_AMZN_TRACE_ID`):
    /// `Root=1-<8 hex epoch>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`, the same ids as W3C's
    /// written another way. `None` without a root and a parent (API Gateway's own header,
    /// before a segment exists, has no parent).
    pub fn from_xray(header: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", v)) => root = Some(v),
                Some(("Parent", v)) => parent = Some(v),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        let root = root?.strip_prefix("1-")?;
        let (epoch, random) = root.split_once('-')?;
        let flags = if sampled { "01" } else { "00" };
        Self::parse(&format!("00-{epoch}{random}-{}-{flags}", parent?)).ok()
    }

    /// The same trace, with a new span as the parent of what comes next: the context a step
    /// hands on (a task's appended events, an email) when no tracer made a span for it.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            span_id: new_span_id(),
            ..*self
        }
    }

    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex::encode(self.trace_id)
    }
}

fn random_u128() -> u128 {
    // A ULID's low 80 bits are random; two of them give 96 random bits and more.
    let (a, b) = (Ulid::generate().0, Ulid::generate().0);
    (a << 48) ^ (b & ((1u128 << 80) - 1))
}

fn new_span_id() -> [u8; 8] {
    // The low 64 bits of a ULID are random; never all zeros in practice, but W3C forbids it.
    let bytes = Ulid::generate().0.to_be_bytes();
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[8..]);
    if id == [0; 8] {
        id[7] = 1;
    }
    id
}

fn decode_lower_hex(src: &[u8], out: &mut [u8]) -> Result<(), TraceParentError> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(TraceParentError("not lowercase hex")),
    };
    for (o, pair) in out.iter_mut().zip(src.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(())
}

/// A `traceparent`'s text on the stack: what a store writes, without an allocation.
#[derive(Clone, Copy)]
pub struct TraceText([u8; 55]);

impl TraceText {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl TraceParent {
    /// The text form (`00-…-…-…`) without allocating.
    pub fn to_text(&self) -> TraceText {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
        let mut put = |at: usize, bytes: &[u8]| {
            for (i, b) in bytes.iter().enumerate() {
                out[at + 2 * i] = HEX[usize::from(b >> 4)];
                out[at + 2 * i + 1] = HEX[usize::from(b & 0x0f)];
            }
        };
        put(3, &self.trace_id);
        put(36, &self.span_id);
        put(53, &[self.flags]);
        TraceText(out)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_text().as_str())
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceParent({self})")
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for TraceParent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TraceParent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_round_trips() {
        let tp = TraceParent::parse(SAMPLE).unwrap();
        assert_eq!(tp.to_string(), SAMPLE);
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.flags(), SAMPLED);
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "garbage",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        ] {
            assert!(TraceParent::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_child_keeps_the_trace_and_gets_a_new_span() {
        let tp = TraceParent::parse(SAMPLE).unwrap();
        let child = tp.child();
        assert_eq!(child.trace_id(), tp.trace_id());
        assert_ne!(child.span_id(), tp.span_id());
        assert_eq!(child.flags(), tp.flags());
    }

    #[test]
    fn a_new_trace_is_valid_and_starts_with_the_epoch_seconds() {
        let a = TraceParent::new_root();
        let b = TraceParent::new_root();
        assert_ne!(a.trace_id(), b.trace_id());
        assert_eq!(TraceParent::parse(&a.to_string()), Ok(a));
        let secs = u32::from_be_bytes(a.trace_id()[..4].try_into().unwrap());
        assert!(secs > 1_700_000_000);
    }

    #[test]
    fn an_xray_header_is_the_same_trace_in_w3c_form() {
        let tp = TraceParent::from_xray(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )
        .unwrap();
        assert_eq!(
            tp.to_string(),
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
        );
        assert_eq!(
            TraceParent::from_xray("Root=1-5759e988-bd862e3fe1be46a994272793"),
            None
        );
        assert_eq!(TraceParent::from_xray("garbage"), None);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let tp = TraceParent::parse(SAMPLE).unwrap();
        let json = serde_json::to_string(&tp).unwrap();
        assert_eq!(json, format!("\"{SAMPLE}\""));
        assert_eq!(serde_json::from_str::<TraceParent>(&json).unwrap(), tp);
    }
}
