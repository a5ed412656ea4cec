//! Durable workflow executions: the local stand-in for Step Functions, for both state machines
//! (`order_app::dispatch::Workflow`): OrderProcessingStateMachine, one execution per order named
//! by the order id, and RefundProcessingStateMachine, one per refund named by the refund id.
//!
//! An execution is a row of `executions` named as above (so the same order, or the same refund,
//! never runs twice at once) with its state machine, written when it starts and when it ends; a
//! restart runs every RUNNING execution again from its first state, on its own definition, and
//! each task answers from the log what it had already done ([`crate::execution`]). The states
//! themselves run in `order-workflow`'s interpreter on the same definitions CloudFormation
//! deploys.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use order_app::dispatch::Workflow;
use order_app::gateway::SimulatedGateway;
use order_domain::OrderId;
use order_domain::ports::{
    EventStore, KeyStore, Notifier, PortError, StartOutcome, WorkflowStarter,
};
use order_embedded::db::{Db, now_ms};
use order_workflow::{RunOptions, StateMachine};
use rusqlite::params;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::execution::{Execution, Row};
use crate::functions::{LocalFunctions, substitutions};
use crate::limit::{Concurrency, Slots};

/// The order state machine's definition: the same file the template deploys.
pub const DEFINITION: &str = Workflow::OrderProcessing.definition();
pub const STATE_MACHINE_NAME: &str = Workflow::OrderProcessing.name();

/// Parses the order state machine's definition with the local substitutions.
pub fn state_machine() -> Result<StateMachine, order_workflow::DefinitionError> {
    parse(Workflow::OrderProcessing)
}

/// Parses `workflow`'s definition with the local substitutions.
pub fn parse(workflow: Workflow) -> Result<StateMachine, order_workflow::DefinitionError> {
    StateMachine::from_json(workflow.definition(), &substitutions(workflow))
}

/// Every state machine, parsed once.
pub(crate) type Machines = BTreeMap<Workflow, Arc<StateMachine>>;

/// Starts executions of one state machine (StartExecution). [`LocalWorkflow::of`] gives the
/// starter of another, on the same runner.
#[derive(Clone)]
pub struct LocalWorkflow {
    db: Db,
    workflow: Workflow,
    machines: Arc<Machines>,
    /// Hands a started execution to the runner, with its row so the runner need not read it.
    wake: mpsc::UnboundedSender<(String, Option<Row>)>,
}

impl LocalWorkflow {
    /// The starter of `workflow`'s executions, run by the same runner.
    #[must_use]
    pub fn of(&self, workflow: Workflow) -> Self {
        Self {
            workflow,
            ..self.clone()
        }
    }

    /// The state machine this starter starts.
    pub fn workflow(&self) -> Workflow {
        self.workflow
    }

    /// Starts the execution named `name` with `input`, unless one by that name exists (of any
    /// state machine: an order id and a refund id never coincide), which is a success, as a
    /// redelivered start is.
    pub async fn start_named(&self, name: String, input: Value) -> Result<StartOutcome, PortError> {
        let machine = self
            .machines
            .get(&self.workflow)
            .ok_or_else(|| PortError(format!("no state machine {}", self.workflow.name())))?;
        let start_at = machine.start_at().to_owned();
        let data = serde_json::to_string(&input)
            .map_err(|e| PortError(format!("start execution: the input as JSON: {e}")))?;
        let row = Row {
            workflow: self.workflow,
            status: "RUNNING".into(),
            state: Some(start_at.clone()),
            data: data.clone(),
            started_at: now_ms(),
        };
        let (n, started_at, machine_name) = (name.clone(), row.started_at, self.workflow.name());
        let inserted = self
            .db
            .write_direct(move |c| {
                c.prepare_cached(
                    "INSERT OR IGNORE INTO executions (name, status, current_state, data, input, started_at, updated_at, state_machine) \
                     VALUES (?1, 'RUNNING', ?2, ?3, ?3, ?4, ?4, ?5)",
                )?
                .execute(params![n, start_at, data, started_at, machine_name])
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

impl WorkflowStarter for LocalWorkflow {
    async fn start(&self, order_id: OrderId, input: Value) -> Result<StartOutcome, PortError> {
        self.start_named(order_id.to_string(), input).await
    }
}

/// Runs executions to their end, resuming RUNNING ones at start. The executions live in the
/// local database whatever backend the tasks use (they are the local runner's own state, as
/// Step Functions keeps its own).
pub struct Runner<S, N, K> {
    db: Db,
    machines: Arc<Machines>,
    store: S,
    notifier: N,
    keys: K,
    options: Arc<RunOptions>,
    rx: mpsc::UnboundedReceiver<(String, Option<Row>)>,
    in_flight: Arc<Mutex<HashSet<String>>>,
    slots: Arc<Slots>,
}

/// Creates the runner of both state machines and the order state machine's starter
/// ([`LocalWorkflow::of`] gives the refund one's).
pub fn local_workflow<S: EventStore + Clone, N: Notifier + Clone, K: KeyStore + Clone>(
    db: Db,
    (store, notifier, keys): (S, N, K),
    interval_scale: f64,
    concurrency: impl Into<Concurrency>,
) -> Result<(LocalWorkflow, Runner<S, N, K>), order_workflow::DefinitionError> {
    let machines: Machines = Workflow::ALL
        .into_iter()
        .map(|w| parse(w).map(|m| (w, Arc::new(m))))
        .collect::<Result<_, _>>()?;
    let machines = Arc::new(machines);
    let (tx, rx) = mpsc::unbounded_channel();
    let starter = LocalWorkflow {
        db: db.clone(),
        workflow: Workflow::OrderProcessing,
        machines: Arc::clone(&machines),
        wake: tx,
    };
    let runner = Runner {
        db,
        machines,
        store,
        notifier,
        keys,
        options: Arc::new(RunOptions { interval_scale }),
        rx,
        in_flight: Arc::new(Mutex::new(HashSet::new())),
        slots: Slots::new(concurrency.into()),
    };
    Ok((starter, runner))
}

impl<S: EventStore + Clone, N: Notifier + Clone, K: KeyStore + Clone> Runner<S, N, K> {
    /// Runs until `shutdown` turns true. Executions in flight then stop between states and run
    /// again from their first state on the next start.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let resumable: Vec<String> = self
            .db
            .read(|c| {
                let mut s = c.prepare(order_embedded::db::RUNNING_EXECUTIONS)?;
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
            machines: Arc::clone(&self.machines),
            functions: LocalFunctions {
                store: self.store.clone(),
                gateway: SimulatedGateway,
                keys: self.keys.clone(),
            },
            notifier: self.notifier.clone(),
            options: Arc::clone(&self.options),
            name,
            slots: self.slots.is_adaptive().then(|| Arc::clone(&self.slots)),
        };
        let (in_flight, slots) = (Arc::clone(&self.in_flight), Arc::clone(&self.slots));
        tokio::spawn(async move {
            let Some(slot) = slots.acquire().await else {
                return;
            };
            let name = exec.name.clone();
            crate::limit::holding(slot, Box::pin(exec.drive(row, shutdown))).await;
            if let Ok(mut set) = in_flight.lock() {
                set.remove(&name);
            }
        });
    }
}
