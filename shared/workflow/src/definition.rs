//! The state machine as a whole: parsing, substitution and the checks that
//! make every transition land on a real state.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

use crate::context::ContextReads;
use crate::fields::Fields;
use crate::state::State;
use crate::substitution;

/// AWS limit on state name length.
const MAX_STATE_NAME_LEN: usize = 80;

/// Why a definition cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// The text is not JSON.
    #[error("definition is not valid JSON: {0}")]
    Json(String),
    /// A `${Name}` placeholder has no entry in the substitutions.
    #[error("placeholder ${{{0}}} has no substitution")]
    UnknownPlaceholder(String),
    /// `StartAt` names a state that does not exist.
    #[error("StartAt names state {0:?}, which does not exist")]
    MissingStartState(String),
    /// A transition (`Next`, `Default`, a choice's or a catcher's `Next`)
    /// names a state that does not exist.
    #[error("state {state:?}: {field} names state {target:?}, which does not exist")]
    UnknownTarget {
        state: String,
        field: String,
        target: String,
    },
    /// A state no path from `StartAt` reaches (AWS rejects these too).
    #[error("state {0:?} cannot be reached from StartAt")]
    UnreachableState(String),
    /// A state type this interpreter does not run (Parallel, Map).
    #[error("state {state:?}: state type {kind} is not supported by this interpreter")]
    UnsupportedStateType { state: String, kind: String },
    /// Any other malformed or unsupported field.
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
}

/// What a Task state calls, for checking a definition against the
/// functions a template deploys.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    /// The state's name.
    pub state: String,
    /// Its `Resource`, after substitution.
    pub resource: String,
    /// Its `Parameters` as written, after substitution (`None` when absent).
    pub parameters: Option<Value>,
}

/// A parsed, validated state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    start_at: String,
    states: BTreeMap<String, State>,
    /// The parts of the context object each state can read (see `context`).
    context_reads: BTreeMap<String, ContextReads>,
}

impl StateMachine {
    /// Parses Amazon States Language JSON.
    ///
    /// Every `${Name}` placeholder in any string is first replaced from
    /// `substitutions` (like `CloudFormation`'s `DefinitionSubstitutions`);
    /// an unknown placeholder is an error naming it. Then the definition is
    /// checked: `StartAt` exists, every `Next`/`Default`/`Catch` target
    /// exists, non-terminal states have `Next` or `End`, every state is
    /// reachable, and unsupported state types (`Parallel`, `Map`) and fields
    /// are rejected.
    pub fn from_json(
        text: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<Self, DefinitionError> {
        let raw: Value =
            serde_json::from_str(text).map_err(|e| DefinitionError::Json(e.to_string()))?;
        let definition = substitution::substitute(raw, substitutions)?;
        let f = Fields::new(&definition, "definition")?;
        f.only(&[
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ])?;
        if f.string("QueryLanguage")?
            .is_some_and(|language| language != "JSONPath")
        {
            return Err(f.error("QueryLanguage", "only JSONPath is supported"));
        }
        f.seconds("TimeoutSeconds")?;
        let start_at = f.required_string("StartAt")?.to_owned();
        let Some(Value::Object(raw_states)) = f.get("States") else {
            return Err(f.error("States", "must be an object of states"));
        };
        let mut states = BTreeMap::new();
        let mut context_reads = BTreeMap::new();
        for (name, value) in raw_states {
            if name.is_empty() || name.chars().count() > MAX_STATE_NAME_LEN {
                return Err(DefinitionError::Invalid {
                    location: format!("States.{name}"),
                    message: format!("state names must have 1 to {MAX_STATE_NAME_LEN} characters"),
                });
            }
            states.insert(name.clone(), State::parse(name, value)?);
            context_reads.insert(name.clone(), ContextReads::of(value));
        }
        let machine = Self {
            start_at,
            states,
            context_reads,
        };
        machine.validate()?;
        Ok(machine)
    }

    fn validate(&self) -> Result<(), DefinitionError> {
        if !self.states.contains_key(&self.start_at) {
            return Err(DefinitionError::MissingStartState(self.start_at.clone()));
        }
        for (name, state) in &self.states {
            for (field, target) in state.targets() {
                if !self.states.contains_key(target) {
                    return Err(DefinitionError::UnknownTarget {
                        state: name.clone(),
                        field: field.to_owned(),
                        target: target.to_owned(),
                    });
                }
            }
        }
        let mut reached = BTreeSet::from([self.start_at.as_str()]);
        let mut queue = VecDeque::from([self.start_at.as_str()]);
        while let Some(name) = queue.pop_front() {
            let Some(state) = self.states.get(name) else {
                continue;
            };
            for (_, target) in state.targets() {
                if reached.insert(target) {
                    queue.push_back(target);
                }
            }
        }
        match self
            .states
            .keys()
            .find(|name| !reached.contains(name.as_str()))
        {
            Some(name) => Err(DefinitionError::UnreachableState(name.clone())),
            None => Ok(()),
        }
    }

    /// The name of the first state.
    pub fn start_at(&self) -> &str {
        &self.start_at
    }

    /// Every state's name, sorted.
    pub fn state_names(&self) -> Vec<&str> {
        self.states.keys().map(String::as_str).collect()
    }

    /// The type (`"Task"`, `"Choice"`, ...) of the named state.
    pub fn state_type(&self, name: &str) -> Option<&'static str> {
        self.states.get(name).map(State::kind)
    }

    /// Every Task state with its `Resource` and `Parameters`, sorted by name.
    pub fn tasks(&self) -> Vec<TaskInfo> {
        self.states
            .iter()
            .filter_map(|(name, state)| match state {
                State::Task(task) => Some(TaskInfo {
                    state: name.clone(),
                    resource: task.resource.clone(),
                    parameters: task.raw_parameters.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// All `${...}` placeholder names a definition text uses (before
    /// substitution).
    pub fn placeholders(text: &str) -> BTreeSet<String> {
        substitution::placeholders(text)
    }

    pub(crate) fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// The parts of the context object the state `name` can read.
    pub(crate) fn context_reads(&self, name: &str) -> ContextReads {
        self.context_reads.get(name).copied().unwrap_or_default()
    }
}
