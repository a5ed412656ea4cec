//! The context object (`$$`), built per state with only the parts the state can read.
//!
//! A state's fields read the context object only through strings that contain `$$` (reference
//! paths, `.$` template values, Choice variables, intrinsic arguments). Which of its parts a
//! state can reach is therefore known when the definition is parsed; building the whole object
//! for every state and task attempt was a fifth of the interpreter's allocations. A part no
//! string of the state can reach is left out: every path selects in it exactly what it selected
//! in the whole object. The state's own part is split by field the same way (a task that
//! reads its `RetryCount` needs neither its name nor its entered time formatted).

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::execution::ExecutionContext;

/// The parts of the context object one state's fields can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ContextReads {
    execution: bool,
    state_machine: bool,
    state: StateReads,
}

/// The fields of the context object's `State` a state's fields can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct StateReads {
    name: bool,
    entered_time: bool,
    retry_count: bool,
}

impl StateReads {
    const ALL: Self = Self {
        name: true,
        entered_time: true,
        retry_count: true,
    };

    fn any(self) -> bool {
        self.name || self.entered_time || self.retry_count
    }
}

impl ContextReads {
    const ALL: Self = Self {
        execution: true,
        state_machine: true,
        state: StateReads::ALL,
    };

    /// What the state whose JSON object is `state` can read: every string in it (at any depth,
    /// literal `Result`s included, which can only over-count) is scanned for `$$`.
    pub(crate) fn of(state: &Value) -> Self {
        let mut reads = Self::default();
        reads.visit(state);
        reads
    }

    fn visit(&mut self, value: &Value) {
        match value {
            Value::String(text) => self.note(text),
            Value::Array(items) => items.iter().for_each(|v| self.visit(v)),
            Value::Object(fields) => fields.values().for_each(|v| self.visit(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Every `$$` in `text` reads the part its next field names (and in `State`, the field
    /// after that); anything else (`$$` alone, a bracket, a part this interpreter does not
    /// fill) may read the whole object, or the whole of `State`.
    fn note(&mut self, text: &str) {
        for (at, _) in text.match_indices("$$") {
            let rest = &text[at + 2..];
            if rest.starts_with(".Execution") {
                self.execution = true;
            } else if rest.starts_with(".StateMachine") {
                self.state_machine = true;
            } else if let Some(field) = rest.strip_prefix(".State") {
                if field.starts_with(".Name") {
                    self.state.name = true;
                } else if field.starts_with(".EnteredTime") {
                    self.state.entered_time = true;
                } else if field.starts_with(".RetryCount") {
                    self.state.retry_count = true;
                } else {
                    self.state = StateReads::ALL;
                }
            } else {
                *self = Self::ALL;
            }
        }
    }
}

/// What the context object of the running state is made from.
pub(crate) struct StateContext<'a> {
    pub(crate) execution: &'a ExecutionContext,
    pub(crate) state: &'a str,
    pub(crate) entered: SystemTime,
    pub(crate) reads: ContextReads,
}

impl StateContext<'_> {
    /// The context object for one attempt of the state: the parts it can read, in the order
    /// Step Functions writes them.
    pub(crate) fn object(&self, retry_count: u32) -> Value {
        let mut object = Map::new();
        if self.reads.execution {
            object.insert(
                "Execution".to_owned(),
                json!({
                    "Id": self.execution.execution_id,
                    "Name": self.execution.execution_name,
                    "StartTime": self.execution.start_time,
                }),
            );
        }
        if self.reads.state_machine {
            object.insert(
                "StateMachine".to_owned(),
                json!({ "Name": self.execution.state_machine_name }),
            );
        }
        let reads = self.reads.state;
        if reads.any() {
            let mut state = Map::new();
            if reads.name {
                state.insert("Name".to_owned(), json!(self.state));
            }
            if reads.entered_time {
                let entered = humantime::format_rfc3339_millis(self.entered).to_string();
                state.insert("EnteredTime".to_owned(), Value::String(entered));
            }
            if reads.retry_count {
                state.insert("RetryCount".to_owned(), json!(retry_count));
            }
            object.insert("State".to_owned(), Value::Object(state));
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(state: &Value) -> (bool, bool, bool) {
        let r = ContextReads::of(state);
        (r.execution, r.state_machine, r.state.any())
    }

    fn state_reads(state: &Value) -> (bool, bool, bool) {
        let r = ContextReads::of(state).state;
        (r.name, r.entered_time, r.retry_count)
    }

    #[test]
    fn the_state_part_is_read_field_by_field() {
        let retry = json!({"Parameters": {"Payload": {"attempt.$": "$$.State.RetryCount"}}});
        assert_eq!(state_reads(&retry), (false, false, true));
        let named = json!({"Parameters": {"n.$": "States.Format('{}', $$.State.Name)"}});
        assert_eq!(state_reads(&named), (true, false, false));
        let entered = json!({"Choices": [{"Variable": "$$.State.EnteredTime"}]});
        assert_eq!(state_reads(&entered), (false, true, false));
        for whole in ["$$.State", "$$.State['Name']", "$$.StateX"] {
            let state = json!({"Parameters": {"s.$": whole}});
            assert_eq!(state_reads(&state), (true, true, true), "{whole}");
        }
    }

    #[test]
    fn a_state_without_dollar_dollar_reads_nothing() {
        let state = json!({"Type": "Task", "Parameters": {"orderId.$": "$.orderId"}, "Result": 1});
        assert_eq!(reads(&state), (false, false, false));
    }

    #[test]
    fn each_part_is_found_wherever_it_is_named() {
        let retry = json!({"Parameters": {"Payload": {"attempt.$": "$$.State.RetryCount"}}});
        assert_eq!(reads(&retry), (false, false, true));
        let machine = json!({"Choices": [{"Variable": "$$.StateMachine.Name"}]});
        assert_eq!(reads(&machine), (false, true, false));
        let format = json!({"Parameters": {"id.$": "States.Format('{}', $$.Execution.Id)"}});
        assert_eq!(reads(&format), (true, false, false));
        let list = json!({"Parameters": {"a.$": "States.Array($$.Execution.Name, $$.State.Name)"}});
        assert_eq!(reads(&list), (true, false, true));
    }

    #[test]
    fn a_read_of_the_whole_object_or_by_bracket_reads_every_part() {
        for path in ["$$", "$$['State']", "$$.Task.Token", "$$$.x"] {
            let state = json!({"Parameters": {"c.$": path}});
            assert_eq!(reads(&state), (true, true, true), "{path}");
        }
    }

    #[test]
    fn the_object_holds_only_the_parts_read_with_their_values() {
        let execution = ExecutionContext {
            execution_id: "arn:execution".into(),
            execution_name: "exec-1".into(),
            state_machine_name: "Orders".into(),
            start_time: "2026-12-04T20:00:00.000Z".into(),
        };
        let context = |reads| StateContext {
            execution: &execution,
            state: "ValidateOrder",
            entered: SystemTime::UNIX_EPOCH,
            reads,
        };
        let state_only = ContextReads {
            state: StateReads::ALL,
            ..ContextReads::default()
        };
        let retry_only = ContextReads {
            state: StateReads {
                retry_count: true,
                ..StateReads::default()
            },
            ..ContextReads::default()
        };
        assert_eq!(
            context(retry_only).object(3),
            json!({"State": {"RetryCount": 3}})
        );
        assert_eq!(
            context(state_only).object(2),
            json!({"State": {
                "Name": "ValidateOrder",
                "EnteredTime": "1970-01-01T00:00:00.000Z",
                "RetryCount": 2,
            }})
        );
        assert_eq!(context(ContextReads::default()).object(0), json!({}));
        assert_eq!(
            context(ContextReads::ALL).object(0),
            json!({
                "Execution": {
                    "Id": "arn:execution",
                    "Name": "exec-1",
                    "StartTime": "2026-12-04T20:00:00.000Z",
                },
                "StateMachine": {"Name": "Orders"},
                "State": {
                    "Name": "ValidateOrder",
                    "EnteredTime": "1970-01-01T00:00:00.000Z",
                    "RetryCount": 0,
                },
            })
        );
    }
}
