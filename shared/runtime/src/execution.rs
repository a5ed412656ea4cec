//! One execution of a state machine, driven state by state by the local runner
//! ([`crate::workflow`]), and the failure alarm's stand-in when it fails.
//!
//! An execution's row is written twice: when it starts (its first state and input) and when it
//! ends. The states between are not saved, as an Express workflow (what the template deploys)
//! saves nothing between them either: an execution cut off midway, by a crash or a stop, runs
//! again from its first state on the next start, and each task answers from the order's log
//! what it already did there (`order_app::tasks`: every task is safe to run twice, which Step
//! Functions' at-least-once delivery requires on AWS anyway). Saving each transition cost a
//! writer job per state, about a tenth of the pipeline's CPU per order.

use std::sync::Arc;
use std::time::Instant;

use order_app::dispatch::Workflow;
use order_domain::ports::{EventStore, KeyStore, Notification, Notifier, Topic};
use order_embedded::db::{Db, now_ms};
use order_workflow::{ExecutionContext, RunOptions, TaskFailure, TaskInvoker, Transition, step};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use tokio::sync::watch;

use crate::functions::LocalFunctions;
use crate::limit::Slots;
use crate::workflow::Machines;

/// An execution's saved progress.
pub struct Row {
    pub(crate) workflow: Workflow,
    pub(crate) status: String,
    pub(crate) state: Option<String>,
    pub(crate) data: String,
    pub(crate) started_at: i64,
}

/// Tries of a failed execution's alarm before the execution is left RUNNING for the next start.
const ALARM_ATTEMPTS: u32 = 3;
/// The pause before the alarm's second try (twice that before the third).
const ALARM_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// How an execution ended.
enum End {
    Succeeded(Value),
    Failed { error: String, cause: String },
}

pub(crate) struct Execution<S, N, K> {
    pub(crate) db: Db,
    pub(crate) machines: Arc<Machines>,
    pub(crate) functions: LocalFunctions<S, K>,
    pub(crate) notifier: N,
    pub(crate) options: Arc<RunOptions>,
    pub(crate) name: String,
    /// The runner's slots when their number follows the tasks' latency: each task is timed
    /// for them.
    pub(crate) slots: Option<Arc<Slots>>,
}

/// The execution's tasks, each timed for the adaptive limit ([`crate::limit`]).
struct Timed<'a, I> {
    inner: &'a I,
    slots: &'a Slots,
}

impl<I: TaskInvoker> TaskInvoker for Timed<'_, I> {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        // The function a `lambda:invoke` names: each is judged against its own latency.
        let task = input
            .get("FunctionName")
            .and_then(Value::as_str)
            .unwrap_or(resource)
            .to_owned();
        let started = Instant::now();
        let result = self.inner.invoke(resource, input).await;
        self.slots.observe(&task, started.elapsed());
        result
    }
}

impl<S: EventStore, N: Notifier, K: KeyStore> Execution<S, N, K> {
    /// The execution's row, as saved.
    async fn load(&self) -> Option<Row> {
        let name = self.name.clone();
        let read = self.db.read(move |c| {
            c.query_row(
                "SELECT status, current_state, data, started_at, state_machine FROM executions WHERE name = ?1",
                [&name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?)),
            )
            .optional()
        });
        let Ok(Some((status, state, data, started_at, machine))) = read.await else {
            tracing::error!("execution row not found");
            return None;
        };
        let Some(workflow) = Workflow::from_name(&machine) else {
            tracing::error!(state_machine = %machine, "execution of an unknown state machine");
            return None;
        };
        Some(Row {
            workflow,
            status,
            state,
            data,
            started_at,
        })
    }

    #[tracing::instrument(skip_all, fields(execution = %self.name))]
    pub(crate) async fn drive(self, row: Option<Row>, shutdown: watch::Receiver<bool>) {
        let row = match row {
            Some(row) => row,
            None => match self.load().await {
                Some(row) => row,
                None => return,
            },
        };
        if row.status != "RUNNING" {
            return;
        }
        let Some(machine) = self.machines.get(&row.workflow) else {
            return;
        };
        let Some(mut state) = row.state else { return };
        let mut data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
        let name = row.workflow.name();
        let ctx = ExecutionContext {
            execution_id: format!(
                "arn:aws:states:local:000000000000:execution:{name}:{}",
                self.name
            ),
            execution_name: self.name.clone(),
            state_machine_name: name.into(),
            start_time: order_domain::Timestamp::from_millis(
                u64::try_from(row.started_at).unwrap_or(0),
            )
            .to_rfc3339(),
        };
        // States run in this drive, added to the row's `transitions` at the end (Step Functions
        // Standard's billing unit, which the cost model reads).
        let mut transitions = 0_i64;
        let end = loop {
            if *shutdown.borrow() {
                // Not saved: the next start runs the execution again from its first state.
                return;
            }
            let t = match &self.slots {
                Some(slots) => {
                    let timed = Timed {
                        inner: &self.functions,
                        slots,
                    };
                    step(machine, &state, data, &ctx, &timed, &self.options).await
                }
                None => step(machine, &state, data, &ctx, &self.functions, &self.options).await,
            };
            tracing::debug!(state = %state, ?t, "state finished");
            transitions += 1;
            match t {
                Transition::Next {
                    state: next,
                    output,
                } => {
                    state = next;
                    data = output;
                }
                Transition::Succeeded { output } => break End::Succeeded(output),
                Transition::Failed { error, cause } => break End::Failed { error, cause },
            }
        };
        // A failure's alarm goes before its end is saved: once the row says FAILED nothing
        // runs the execution again, so an alarm lost after the save (a crash, a notifier
        // that did not answer) would be lost for good. Before it, the execution stays RUNNING
        // and runs again at the next start, its tasks answering from the log, and alarms
        // again; the alarm's dedup id drops the repeat.
        if let End::Failed { error, cause } = &end {
            tracing::warn!(state_machine = name, %error, %cause, "execution failed");
            if let Err(e) = self.alarm(row.workflow, error, cause).await {
                tracing::error!(
                    error = %e,
                    "could not send the workflow failure alarm: the execution stays RUNNING \
                     and alarms again at the next start"
                );
                return;
            }
        }
        if let Err(e) = self.save(&end, transitions).await {
            // The end not saved: the execution stays RUNNING and runs again on the next start,
            // its tasks answering from the log.
            tracing::error!(error = %e, "could not save the execution's end");
        }
    }

    /// Saves how the execution ended, once: the row is only ever updated while RUNNING.
    async fn save(&self, end: &End, transitions: i64) -> Result<(), String> {
        let name = self.name.clone();
        let (status, data, error, cause) = match end {
            // Not `to_string`: through `Display` the text grows write by write behind a
            // formatter, about three times serde_json's own writer (620 against 220 ns for an
            // order's output).
            End::Succeeded(output) => ("SUCCEEDED", serde_json::to_string(output).ok(), None, None),
            End::Failed { error, cause } => {
                ("FAILED", None, Some(error.clone()), Some(cause.clone()))
            }
        };
        self.db
            .write_direct(move |c| {
                c.prepare_cached(
                    "UPDATE executions SET status = ?2, current_state = NULL, data = COALESCE(?3, data), \
                     error = ?4, cause = ?5, transitions = transitions + ?6, updated_at = ?7 WHERE name = ?1 AND status = 'RUNNING'",
                )?
                .execute(params![name, status, data, error, cause, transitions, now_ms()])
                .map(|_| ())
            })
            .await
            .map_err(|e| format!("{e:?}"))
    }

    /// The state machine's failure alarm's local stand-in (OrderProcessingWorkflowFailureAlarm,
    /// RefundProcessingWorkflowFailureAlarm): one critical alert per failed execution. A
    /// notifier that does not answer is asked again, three times in all, a moment apart.
    async fn alarm(&self, workflow: Workflow, error: &str, cause: &str) -> Result<(), String> {
        let n = Notification {
            dedup_id: format!("workflow-failed-{}", self.name),
            subject: format!(
                "ALARM: {} (execution {})",
                workflow.failure_alarm(),
                self.name
            ),
            body: format!(
                "The execution {} of {} failed.\nError: {error}\nCause: {cause}\n",
                self.name,
                workflow.name()
            ),
            recipients: vec![],
            trace_parent: None,
            opened_with: None,
        };
        let mut last = String::new();
        for attempt in 0..ALARM_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(ALARM_RETRY_PAUSE * attempt).await;
            }
            match self
                .notifier
                .publish(Topic::CriticalAlerts, n.clone())
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "the workflow failure alarm was not sent");
                    last = e.to_string();
                }
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use order_app::gateway::SimulatedGateway;
    use order_app::vault::CachedKeys;
    use order_domain::Email;
    use order_embedded::db::Durability;
    use order_embedded::keys::SqliteKeys;
    use order_embedded::outbox::OutboxNotifier;
    use order_embedded::store::SqliteEventStore;

    use super::*;
    use crate::limit::{Concurrency, Slots};
    use crate::recent_emails::{RecentEmails, Recording};

    /// An execution's future is allocated once per order and moved whole when it is spawned,
    /// so it is kept small: the task it runs is boxed ([`LocalFunctions`]), and the runner
    /// boxes the execution before its slot holds it. Unboxed, the embedded host's spawned
    /// future was 18,000 bytes; the execution's, as typed here, is about 2,300.
    #[tokio::test]
    async fn an_executions_future_holds_its_task_boxed() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("orders.db"), Durability::Normal).unwrap();
        let email = Email::parse("ops@example.com").unwrap();
        let execution = Execution {
            db: db.clone(),
            machines: Arc::new(BTreeMap::new()),
            functions: LocalFunctions {
                store: SqliteEventStore::new(db.clone()),
                gateway: SimulatedGateway,
                keys: Arc::new(CachedKeys::new(
                    SqliteKeys::open(db, dir.path()).unwrap(),
                    Duration::from_mins(1),
                )),
            },
            notifier: Recording::new(
                OutboxNotifier::new(&dir.path().join("outbox"), &email).unwrap(),
                RecentEmails::default(),
            ),
            options: Arc::new(RunOptions {
                interval_scale: 1.0,
            }),
            name: "size".into(),
            slots: Some(Slots::new(Concurrency::REMOTE)),
        };
        let (_stop, shutdown) = watch::channel(false);
        let drive = execution.drive(None, shutdown);
        let size = std::mem::size_of_val(&drive);
        assert!(size <= 4096, "an execution's future is {size} bytes");
    }
}
