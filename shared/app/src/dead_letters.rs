//! Dead letters as an operator acts on them: look, then redrive once the cause is fixed. Every
//! redrive is logged at INFO as an operator action (who, which message, what it did), so the
//! log says who pushed a message through and when.

use order_domain::ports::{DeadLetter, DeadLetters, PortError, Redrive};
use serde::Serialize;

/// Who acts: the CLI user is `cli`.
pub const CLI_OPERATOR: &str = "cli";

/// Which dead letters a redrive moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Ids(Vec<String>),
}

/// One id's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redriven {
    pub id: String,
    pub outcome: Redrive,
}

/// Every dead letter.
///
/// # Errors
/// When the queue cannot be read.
pub async fn list<D: DeadLetters>(letters: &D) -> Result<Vec<DeadLetter>, PortError> {
    letters.list().await
}

/// One dead letter, `None` for an unknown id.
///
/// # Errors
/// When the queue cannot be read.
pub async fn show<D: DeadLetters>(letters: &D, id: &str) -> Result<Option<DeadLetter>, PortError> {
    letters.show(id).await
}

/// Redrives `selection` on behalf of `operator`, logging each outcome. `All` redrives what the
/// list shows now; a message dead-lettered meanwhile waits for the next redrive.
///
/// # Errors
/// The first failure; the ids before it were redriven (and logged).
pub async fn redrive<D: DeadLetters>(
    letters: &D,
    selection: Selection,
    operator: &str,
) -> Result<Vec<Redriven>, PortError> {
    let ids = match selection {
        Selection::All => letters.list().await?.into_iter().map(|l| l.id).collect(),
        Selection::Ids(ids) => ids,
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let outcome = letters.redrive(&id).await?;
        tracing::info!(
            operator,
            action = "dlq.redrive",
            message_id = %id,
            ?outcome,
            "operator action: dead letter redrive"
        );
        out.push(Redriven { id, outcome });
    }
    Ok(out)
}
