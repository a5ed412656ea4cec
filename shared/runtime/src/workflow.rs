//! Durable workflow executions: the local stand-in for Step Functions.
//!
//! An execution is a row named by the order id (so the same order never runs twice at once);
//! after every state the current state and data are written, so a restart resumes every
//! RUNNING execution where it was. The states themselves run in `order-workflow`'s
//! interpreter on the same definition CloudFormation deploys.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use order_app::gateway::SimulatedGateway;
use order_domain::OrderId;
use order_domain::ports::{
    EventStore, KeyStore, Notification, Notifier, PortError, StartOutcome, Topic, WorkflowStarter,
};
use order_embedded::db::{Db, now_ms};
use order_workflow::{ExecutionContext, RunOptions, StateMachine, Transition, step};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::functions::{LocalFunctions, substitutions};

/// The state machine definition: the same file the template deploys.
pub const DEFINITION: &str = include_str!("../../workflow/order-processing.asl.json");
pub const STATE_MACHINE_NAME: &str = "OrderProcessingStateMachine";

/// Parses the definition with the local substitutions.
pub fn state_machine() -> Result<StateMachine, order_workflow::DefinitionError> {
    StateMachine::from_json(DEFINITION, &substitutions())
}

/// Starts executions (StartExecution).
#[derive(Clone)]
pub struct LocalWorkflow {
    db: Db,
    start_at: String,
    /// Hands a started execution to the runner, with its row so the runner need not read it.
    wake: mpsc::UnboundedSender<(String, Option<Row>)>,
}

impl WorkflowStarter for LocalWorkflow {
    async fn start(&self, order_id: OrderId, input: Value) -> Result<StartOutcome, PortError> {
        let name = order_id.to_string();
        let (n, start_at) = (name.clone(), self.start_at.clone());
        let data = input.to_string();
        let row = Row {
            status: "RUNNING".into(),
            state: Some(start_at.clone()),
            data: data.clone(),
            started_at: now_ms(),
        };
        let started_at = row.started_at;
        let inserted = self
            .db
            .write_statement(move |c| {
                c.prepare_cached(
                    "INSERT OR IGNORE INTO executions (name, status, current_state, data, input, started_at, updated_at) \
                     VALUES (?1, 'RUNNING', ?2, ?3, ?3, ?4, ?4)",
                )?
                .execute(params![n, start_at, data, started_at])
            })
            .await
            .map_err(|e| PortError(format!("start execution: {e:?}")))?;
        if inserted == 1 {
            let _ = self.wake.send((name, Some(row)));
            Ok(StartOutcome::Started)
        } else {
            Ok(StartOutcome::AlreadyStarted)
        }
    }
}

/// Runs executions to their end, resuming RUNNING ones at start. The executions live in the
/// local database whatever backend the tasks use (they are the local runner's own state, as
/// Step Functions keeps its own).
pub struct Runner<S, N, K> {
    db: Db,
    machine: Arc<StateMachine>,
    store: S,
    notifier: N,
    keys: K,
    options: Arc<RunOptions>,
    rx: mpsc::UnboundedReceiver<(String, Option<Row>)>,
    in_flight: Arc<Mutex<HashSet<String>>>,
    slots: Arc<Semaphore>,
}

/// Creates the starter and its runner.
pub fn local_workflow<S: EventStore + Clone, N: Notifier + Clone, K: KeyStore + Clone>(
    db: Db,
    (store, notifier, keys): (S, N, K),
    interval_scale: f64,
    max_concurrent: usize,
) -> Result<(LocalWorkflow, Runner<S, N, K>), order_workflow::DefinitionError> {
    let machine = Arc::new(state_machine()?);
    let (tx, rx) = mpsc::unbounded_channel();
    let starter = LocalWorkflow {
        db: db.clone(),
        start_at: machine.start_at().to_owned(),
        wake: tx,
    };
    let runner = Runner {
        db,
        machine,
        store,
        notifier,
        keys,
        options: Arc::new(RunOptions { interval_scale }),
        rx,
        in_flight: Arc::new(Mutex::new(HashSet::new())),
        slots: Arc::new(Semaphore::new(max_concurrent)),
    };
    Ok((starter, runner))
}

/// An execution's saved progress.
pub struct Row {
    status: String,
    state: Option<String>,
    data: String,
    started_at: i64,
}

impl<S: EventStore + Clone, N: Notifier + Clone, K: KeyStore + Clone> Runner<S, N, K> {
    /// Runs until `shutdown` turns true. Executions in flight then stop between states (their
    /// progress is saved) and resume on the next start.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let resumable: Vec<String> = self
            .db
            .read(|c| {
                let mut s = c.prepare(
                    "SELECT name FROM executions WHERE status = 'RUNNING' ORDER BY started_at",
                )?;
                s.query_map([], |r| r.get(0))?.collect()
            })
            .await
            .unwrap_or_default();
        if !resumable.is_empty() {
            tracing::info!(count = resumable.len(), "resuming running executions");
        }
        for name in resumable {
            self.spawn(name, None, shutdown.clone());
        }
        loop {
            tokio::select! {
                started = self.rx.recv() => match started {
                    Some((name, row)) => self.spawn(name, row, shutdown.clone()),
                    None => break,
                },
                _ = shutdown.changed() => break,
            }
        }
    }

    fn spawn(&self, name: String, row: Option<Row>, shutdown: watch::Receiver<bool>) {
        {
            let Ok(mut set) = self.in_flight.lock() else {
                return;
            };
            if !set.insert(name.clone()) {
                return;
            }
        }
        let exec = Execution {
            db: self.db.clone(),
            machine: Arc::clone(&self.machine),
            functions: LocalFunctions {
                store: self.store.clone(),
                gateway: SimulatedGateway,
                keys: self.keys.clone(),
            },
            notifier: self.notifier.clone(),
            options: Arc::clone(&self.options),
            name,
        };
        let (in_flight, slots) = (Arc::clone(&self.in_flight), Arc::clone(&self.slots));
        tokio::spawn(async move {
            let Ok(_permit) = slots.acquire_owned().await else {
                return;
            };
            let name = exec.name.clone();
            exec.drive(row, shutdown).await;
            if let Ok(mut set) = in_flight.lock() {
                set.remove(&name);
            }
        });
    }
}

struct Execution<S, N, K> {
    db: Db,
    machine: Arc<StateMachine>,
    functions: LocalFunctions<S, K>,
    notifier: N,
    options: Arc<RunOptions>,
    name: String,
}

impl<S: EventStore, N: Notifier, K: KeyStore> Execution<S, N, K> {
    #[tracing::instrument(skip_all, fields(order_id = %self.name))]
    async fn drive(self, row: Option<Row>, shutdown: watch::Receiver<bool>) {
        let name = self.name.clone();
        let row = match row {
            Some(row) => Ok(Some(row)),
            None => self.db.read(move |c| {
                c.query_row(
                    "SELECT status, current_state, data, started_at FROM executions WHERE name = ?1",
                    [&name],
                    |r| Ok(Row { status: r.get(0)?, state: r.get(1)?, data: r.get(2)?, started_at: r.get(3)? }),
                )
                .optional()
            })
            .await,
        };
        let Ok(Some(row)) = row else {
            tracing::error!("execution row not found");
            return;
        };
        if row.status != "RUNNING" {
            return;
        }
        let Some(mut state) = row.state else { return };
        let mut data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
        let ctx = ExecutionContext {
            execution_id: format!(
                "arn:aws:states:local:000000000000:execution:{STATE_MACHINE_NAME}:{}",
                self.name
            ),
            execution_name: self.name.clone(),
            state_machine_name: STATE_MACHINE_NAME.into(),
            start_time: order_domain::Timestamp::from_millis(
                u64::try_from(row.started_at).unwrap_or(0),
            )
            .to_rfc3339(),
        };
        loop {
            if *shutdown.borrow() {
                return;
            }
            let t = step(
                &self.machine,
                &state,
                data,
                &ctx,
                &self.functions,
                &self.options,
            )
            .await;
            tracing::debug!(state = %state, ?t, "state finished");
            let saved = self.save(&t).await;
            if let Err(e) = saved {
                // Progress not saved: stop here; the execution resumes from its last saved state.
                tracing::error!(error = %e, "could not save execution progress");
                return;
            }
            match t {
                Transition::Next {
                    state: next,
                    output,
                } => {
                    state = next;
                    data = output;
                }
                Transition::Succeeded { .. } => return,
                Transition::Failed { error, cause } => {
                    tracing::warn!(%error, %cause, "execution failed");
                    self.alarm(&error, &cause).await;
                    return;
                }
            }
        }
    }

    async fn save(&self, t: &Transition) -> Result<(), String> {
        let name = self.name.clone();
        let (status, state, data, error, cause) = match t {
            Transition::Next { state, output } => (
                "RUNNING",
                Some(state.clone()),
                output.to_string(),
                None,
                None,
            ),
            Transition::Succeeded { output } => ("SUCCEEDED", None, output.to_string(), None, None),
            Transition::Failed { error, cause } => (
                "FAILED",
                None,
                "null".to_owned(),
                Some(error.clone()),
                Some(cause.clone()),
            ),
        };
        self.db
            .write_statement(move |c| {
                c.prepare_cached(
                    "UPDATE executions SET status = ?2, current_state = ?3, data = CASE WHEN ?2 = 'FAILED' THEN data ELSE ?4 END, \
                     error = ?5, cause = ?6, transitions = transitions + 1, updated_at = ?7 WHERE name = ?1 AND status = 'RUNNING'",
                )?
                .execute(params![name, status, state, data, error, cause, now_ms()])
                .map(|_| ())
            })
            .await
            .map_err(|e| format!("{e:?}"))
    }

    /// OrderProcessingWorkflowFailureAlarm's local stand-in: one critical alert per failed execution.
    async fn alarm(&self, error: &str, cause: &str) {
        let n = Notification {
            dedup_id: format!("workflow-failed-{}", self.name),
            subject: format!(
                "ALARM: OrderProcessingWorkflowFailureAlarm (execution {})",
                self.name
            ),
            body: format!(
                "The execution {} of {STATE_MACHINE_NAME} failed.\nError: {error}\nCause: {cause}\n",
                self.name
            ),
            recipients: vec![],
        };
        if let Err(e) = self.notifier.publish(Topic::CriticalAlerts, n).await {
            tracing::error!(error = %e, "could not send the workflow failure alarm");
        }
    }
}
