//! Comparing a rebuilt row with the live one.
//!
//! A live row is its JSON document plus the columns that restate some of its fields for queries
//! (`status`, `version`, ...). Both must agree with the rebuilt view: a row whose document is
//! right but whose `status` column is wrong would still mislead the sweeper's query.

use std::fmt;

use serde_json::Value;

use crate::view::{Model, View};

/// A live read-model row, as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// The row's key (order id or product id).
    pub key: String,
    /// The row's `version` attribute: the last stream version it reflects.
    pub version: u64,
    /// The JSON document.
    pub view: String,
    /// Attributes stored beside the document, by their storage names (see
    /// [`View::attribute`]).
    pub columns: Vec<(&'static str, Value)>,
}

/// One field on which the live row and the log disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// The document field, or `column <name>` for an attribute beside the document.
    pub field: String,
    pub live: String,
    pub log: String,
}

/// How a live row differs from what the log says it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The log has the row; the live model does not.
    Missing { log_version: u64 },
    /// The live model has a row the log does not justify (no stream, or a stream that yields
    /// no row).
    Unjustified { live_version: u64 },
    /// Both have it, with different content.
    Differs {
        live_version: u64,
        log_version: u64,
        fields: Vec<FieldDiff>,
    },
    /// The live document is not valid JSON.
    Unreadable { detail: String },
}

/// A row of a read model that does not match the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub model: Model,
    pub key: String,
    pub mismatch: Mismatch,
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "∅".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Compares what the row should be (`expected`, `None` for no row) with the live row.
pub fn compare(expected: Option<&View>, live: Option<&LiveRow>) -> Option<Mismatch> {
    match (expected, live) {
        (None, None) => None,
        (Some(view), None) => Some(Mismatch::Missing {
            log_version: view.version(),
        }),
        (None, Some(row)) => Some(Mismatch::Unjustified {
            live_version: row.version,
        }),
        (Some(view), Some(row)) => {
            let mut fields = Vec::new();
            // The projection writes the same bytes the rebuilt view serialises to, so equal text
            // settles almost every row without parsing it.
            if view.to_json_text() != row.view {
                let live: Value = match serde_json::from_str(&row.view) {
                    Ok(v) => v,
                    Err(e) => {
                        return Some(Mismatch::Unreadable {
                            detail: e.to_string(),
                        });
                    }
                };
                document_diff(&live, &view.to_json(), &mut fields);
            }
            for (name, value) in &row.columns {
                let want = view.attribute(name);
                if want.as_ref() != Some(value) {
                    fields.push(FieldDiff {
                        field: format!("column {name}"),
                        live: show(Some(value)),
                        log: show(want.as_ref()),
                    });
                }
            }
            (!fields.is_empty()).then(|| Mismatch::Differs {
                live_version: row.version,
                log_version: view.version(),
                fields,
            })
        }
    }
}

/// The top-level fields on which two documents differ (the whole document if neither is an
/// object, or if they differ only in formatting that JSON equality ignores: nothing then).
fn document_diff(live: &Value, log: &Value, fields: &mut Vec<FieldDiff>) {
    if live == log {
        return;
    }
    let empty = serde_json::Map::new();
    let (l, r) = (
        live.as_object().unwrap_or(&empty),
        log.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = l.keys().chain(r.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if l.get(k) != r.get(k) {
            fields.push(FieldDiff {
                field: k.clone(),
                live: show(l.get(k)),
                log: show(r.get(k)),
            });
        }
    }
    if fields.is_empty() {
        fields.push(FieldDiff {
            field: "(document)".into(),
            live: live.to_string(),
            log: log.to_string(),
        });
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.model, self.key)?;
        match &self.mismatch {
            Mismatch::Missing { log_version } => {
                write!(f, "no live row (the log has it at version {log_version})")
            }
            Mismatch::Unjustified { live_version } => write!(
                f,
                "live row (version {live_version}) is not justified by the log"
            ),
            Mismatch::Unreadable { detail } => write!(f, "live row is not readable: {detail}"),
            Mismatch::Differs {
                live_version,
                log_version,
                fields,
            } => {
                write!(f, "live version {live_version}, log version {log_version}")?;
                for d in fields {
                    write!(f, "; {}: live {}, log {}", d.field, d.live, d.log)?;
                }
                Ok(())
            }
        }
    }
}
