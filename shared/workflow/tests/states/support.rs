//! Test doubles and helpers shared by the test modules.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

pub use order_workflow::Transition;
use order_workflow::{ExecutionContext, RunOptions, StateMachine, TaskFailure, TaskInvoker, step};
use serde_json::Value;

/// What a scripted resource does on one call.
#[derive(Debug, Clone)]
pub enum Reply {
    Ok(Value),
    Fail(&'static str),
    /// Returns the input it was given.
    Echo,
    /// Never finishes; sets the flag when the call is dropped (cancelled).
    Hang(Arc<AtomicBool>),
}

/// Answers each resource from its own queue of replies and records every
/// call. An exhausted queue fails with `Test.Unscripted`.
#[derive(Default)]
pub struct ScriptedInvoker {
    replies: Mutex<HashMap<String, VecDeque<Reply>>>,
    calls: Mutex<Vec<(String, Value)>>,
}

impl ScriptedInvoker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn on(self, resource: &str, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.replies
            .lock()
            .expect("lock")
            .entry(resource.to_owned())
            .or_default()
            .extend(replies);
        self
    }

    pub fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().expect("lock").clone()
    }

    /// Inputs of every call, in order.
    pub fn inputs(&self) -> Vec<Value> {
        self.calls().into_iter().map(|(_, input)| input).collect()
    }
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl TaskInvoker for ScriptedInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        self.calls
            .lock()
            .expect("lock")
            .push((resource.to_owned(), input.clone()));
        let reply = self
            .replies
            .lock()
            .expect("lock")
            .get_mut(resource)
            .and_then(VecDeque::pop_front);
        match reply {
            Some(Reply::Ok(value)) => Ok(value),
            Some(Reply::Fail(error)) => {
                Err(TaskFailure::new(error, format!("{error} from {resource}")))
            }
            Some(Reply::Echo) => Ok(input),
            Some(Reply::Hang(cancelled)) => {
                let _guard = SetOnDrop(cancelled);
                std::future::pending().await
            }
            None => Err(TaskFailure::new("Test.Unscripted", resource.to_owned())),
        }
    }
}

/// A machine starting at `start` whose `Next`/`Default` targets that `states`
/// does not define are added as Succeed states, so a fixture names only the
/// states it exercises (unreachable states are a definition error).
pub fn machine_from(start: &str, states: Value) -> StateMachine {
    fn targets(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, item) in map {
                    match (key.as_str(), item) {
                        ("Next" | "Default", Value::String(name)) => out.push(name.clone()),
                        _ => targets(item, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| targets(item, out)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    targets(&states, &mut names);
    let mut states = states;
    for name in names {
        if states.get(&name).is_none() {
            states[name.as_str()] = serde_json::json!({"Type": "Succeed"});
        }
    }
    machine(&serde_json::json!({"StartAt": start, "States": states}))
}

pub fn machine(definition: &Value) -> StateMachine {
    StateMachine::from_json(&definition.to_string(), &BTreeMap::new()).expect("valid definition")
}

pub fn ctx() -> ExecutionContext {
    ExecutionContext {
        execution_id: "exec-1".to_owned(),
        execution_name: "order-42".to_owned(),
        state_machine_name: "OrderProcessing".to_owned(),
        start_time: "2026-01-02T03:04:05.000Z".to_owned(),
    }
}

/// Delays are not waited for.
pub fn instant() -> RunOptions {
    RunOptions {
        interval_scale: 0.0,
    }
}

/// Runs `state` once with delays skipped.
pub async fn step_with(
    machine: &StateMachine,
    state: &str,
    input: Value,
    invoker: &ScriptedInvoker,
) -> Transition {
    step(machine, state, input, &ctx(), invoker, &instant()).await
}

pub fn next(state: &str, output: Value) -> Transition {
    Transition::Next {
        state: state.to_owned(),
        output,
    }
}

/// The error name of a `Failed` transition.
pub fn error_of(transition: &Transition) -> Option<&str> {
    match transition {
        Transition::Failed { error, .. } => Some(error),
        _ => None,
    }
}
