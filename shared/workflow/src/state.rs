//! One state of a definition: its parsed form, per state type.

use std::time::Duration;

use serde_json::Value;

use crate::choice::{ChoiceRule, parse_choices};
use crate::definition::DefinitionError;
use crate::fields::Fields;
use crate::path::ReferencePath;
use crate::retry::{Catcher, Retrier, parse_catchers, parse_retriers};
use crate::template::Template;

/// Where a state goes when it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
    Next(String),
    End,
}

/// `InputPath` and `OutputPath`; `None` stands for `null` (an empty object).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filters {
    pub(crate) input_path: Option<ReferencePath>,
    pub(crate) output_path: Option<ReferencePath>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PassState {
    pub(crate) filters: Filters,
    pub(crate) parameters: Option<Template>,
    pub(crate) result: Option<Value>,
    pub(crate) result_path: Option<ReferencePath>,
    pub(crate) flow: Flow,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskState {
    pub(crate) filters: Filters,
    pub(crate) resource: String,
    /// `Parameters` as written (after substitution), for [`crate::TaskInfo`].
    pub(crate) raw_parameters: Option<Value>,
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: Option<ReferencePath>,
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) flow: Flow,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoiceState {
    pub(crate) filters: Filters,
    pub(crate) choices: Vec<ChoiceRule>,
    pub(crate) default: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WaitFor {
    Seconds(u32),
    SecondsPath(ReferencePath),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WaitState {
    pub(crate) filters: Filters,
    pub(crate) wait: WaitFor,
    pub(crate) flow: Flow,
}

/// `Error`/`Cause` as literals or computed (`ErrorPath`/`CausePath`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Text {
    Literal(String),
    Computed(Template),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailState {
    pub(crate) error: Option<Text>,
    pub(crate) cause: Option<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    Pass(PassState),
    Task(TaskState),
    Choice(ChoiceState),
    Wait(WaitState),
    Succeed(Filters),
    Fail(FailState),
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

impl State {
    /// Parses the state named `name` (`value` is its JSON object).
    pub(crate) fn parse(name: &str, value: &Value) -> Result<Self, DefinitionError> {
        let f = Fields::new(value, format!("States.{name}"))?;
        let kind = f.required_string("Type")?;
        if let Some(language) = f.string("QueryLanguage")?
            && language != "JSONPath"
        {
            return Err(f.error("QueryLanguage", "only JSONPath is supported"));
        }
        let allowed = |specific: &[&str]| f.only(&[COMMON, specific].concat());
        let state = match kind {
            "Pass" => {
                allowed(&[
                    "InputPath",
                    "OutputPath",
                    "Parameters",
                    "Result",
                    "ResultPath",
                    "Next",
                    "End",
                ])?;
                Self::Pass(PassState {
                    filters: filters(&f)?,
                    parameters: f.template("Parameters")?,
                    result: f.get("Result").cloned(),
                    result_path: f.result_path()?,
                    flow: flow(&f)?,
                })
            }
            "Task" => {
                allowed(&[
                    "Resource",
                    "InputPath",
                    "OutputPath",
                    "Parameters",
                    "ResultSelector",
                    "ResultPath",
                    "Retry",
                    "Catch",
                    "TimeoutSeconds",
                    "HeartbeatSeconds",
                    "Next",
                    "End",
                ])?;
                task(&f)?
            }
            "Choice" => {
                allowed(&["InputPath", "OutputPath", "Choices", "Default"])?;
                Self::Choice(ChoiceState {
                    filters: filters(&f)?,
                    choices: parse_choices(&f)?,
                    default: f.string("Default")?.map(str::to_owned),
                })
            }
            "Wait" => {
                allowed(&[
                    "InputPath",
                    "OutputPath",
                    "Seconds",
                    "SecondsPath",
                    "Next",
                    "End",
                ])?;
                let wait = match (f.seconds("Seconds")?, f.path("SecondsPath")?) {
                    (Some(seconds), None) => WaitFor::Seconds(seconds),
                    (None, Some(path)) => WaitFor::SecondsPath(path),
                    _ => {
                        return Err(f.error(
                            "Seconds",
                            "exactly one of Seconds or SecondsPath is required",
                        ));
                    }
                };
                Self::Wait(WaitState {
                    filters: filters(&f)?,
                    wait,
                    flow: flow(&f)?,
                })
            }
            "Succeed" => {
                allowed(&["InputPath", "OutputPath"])?;
                Self::Succeed(filters(&f)?)
            }
            "Fail" => {
                allowed(&["Error", "ErrorPath", "Cause", "CausePath"])?;
                Self::Fail(FailState {
                    error: text(&f, "Error", "ErrorPath")?,
                    cause: text(&f, "Cause", "CausePath")?,
                })
            }
            "Parallel" | "Map" => {
                return Err(DefinitionError::UnsupportedStateType {
                    state: name.to_owned(),
                    kind: kind.to_owned(),
                });
            }
            _ => return Err(f.error("Type", format!("{kind:?} is not a state type"))),
        };
        Ok(state)
    }

    /// The AWS name of this state's type.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Pass(_) => "Pass",
            Self::Task(_) => "Task",
            Self::Choice(_) => "Choice",
            Self::Wait(_) => "Wait",
            Self::Succeed(_) => "Succeed",
            Self::Fail(_) => "Fail",
        }
    }

    /// Every state this one can go to, with the field that names it.
    pub(crate) fn targets(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::Pass(pass) => next(&pass.flow).into_iter().collect(),
            Self::Wait(wait) => next(&wait.flow).into_iter().collect(),
            Self::Task(task) => next(&task.flow)
                .into_iter()
                .chain(task.catch.iter().map(|c| ("Catch.Next", c.next.as_str())))
                .collect(),
            Self::Choice(choice) => choice
                .choices
                .iter()
                .map(|rule| ("Choices.Next", rule.next.as_str()))
                .chain(choice.default.iter().map(|d| ("Default", d.as_str())))
                .collect(),
            Self::Succeed(_) | Self::Fail(_) => Vec::new(),
        }
    }
}

fn next(flow: &Flow) -> Option<(&'static str, &str)> {
    match flow {
        Flow::Next(next) => Some(("Next", next.as_str())),
        Flow::End => None,
    }
}

fn task(f: &Fields<'_>) -> Result<State, DefinitionError> {
    let timeout = f.seconds("TimeoutSeconds")?;
    if timeout == Some(0) {
        return Err(f.error("TimeoutSeconds", "must be at least 1"));
    }
    // HeartbeatSeconds only matters for callback tasks, which the invoker
    // owns; it is validated and otherwise ignored.
    let heartbeat = f.seconds("HeartbeatSeconds")?;
    if let (Some(heartbeat), Some(timeout)) = (heartbeat, timeout)
        && heartbeat >= timeout
    {
        return Err(f.error("HeartbeatSeconds", "must be smaller than TimeoutSeconds"));
    }
    Ok(State::Task(TaskState {
        filters: filters(f)?,
        resource: f.required_string("Resource")?.to_owned(),
        raw_parameters: f.get("Parameters").cloned(),
        parameters: f.template("Parameters")?,
        result_selector: f.template("ResultSelector")?,
        result_path: f.result_path()?,
        retry: parse_retriers(f)?,
        catch: parse_catchers(f)?,
        timeout: timeout.map(|seconds| Duration::from_secs(u64::from(seconds))),
        flow: flow(f)?,
    }))
}

fn filters(f: &Fields<'_>) -> Result<Filters, DefinitionError> {
    Ok(Filters {
        input_path: f.nullable_path("InputPath")?,
        output_path: f.nullable_path("OutputPath")?,
    })
}

fn flow(f: &Fields<'_>) -> Result<Flow, DefinitionError> {
    match (f.string("Next")?, f.bool("End")?) {
        (Some(next), None | Some(false)) => Ok(Flow::Next(next.to_owned())),
        (None, Some(true)) => Ok(Flow::End),
        (Some(_), Some(true)) => Err(f.error("End", "a state cannot have both Next and End")),
        (None, _) => Err(DefinitionError::Invalid {
            location: f.location().to_owned(),
            message: "a non-terminal state needs Next or \"End\": true".to_owned(),
        }),
    }
}

fn text(f: &Fields<'_>, literal: &str, computed: &str) -> Result<Option<Text>, DefinitionError> {
    match (f.string(literal)?, f.dynamic(computed)?) {
        (Some(_), Some(_)) => {
            Err(f.error(computed, format!("cannot be used together with {literal}")))
        }
        (Some(text), None) => Ok(Some(Text::Literal(text.to_owned()))),
        (None, Some(template)) => Ok(Some(Text::Computed(template))),
        (None, None) => Ok(None),
    }
}
