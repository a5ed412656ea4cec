//! A small interpreter for the Amazon States Language (AWS Step Functions),
//! so the local runtime executes the same state machine JSON that
//! `CloudFormation` deploys.
//!
//! Executions are durable on the caller's side: [`step`] executes one state
//! (with its retries and catchers) and returns a [`Transition`]; the caller
//! persists it and loops. [`run`] does the loop in memory. Tasks go through
//! the caller's [`TaskInvoker`], which maps each `Resource` to a handler.
//!
//! Supported: Task, Pass, Choice, Wait (`Seconds`/`SecondsPath`), Succeed
//! and Fail states; `InputPath`, `Parameters`, `ResultSelector`,
//! `ResultPath`, `OutputPath` with reference paths and the context object
//! (`$$`); the intrinsics `States.Format`, `States.JsonToString`,
//! `States.StringToJson`, `States.Array`; `Retry`, `Catch` and
//! `TimeoutSeconds`. Anything else (Parallel, Map, `JSONata`, timestamps,
//! `JSONPath` wildcards) is rejected when the definition is parsed.
//!
//! # Layout
//! - `definition`: [`StateMachine`] parsing and whole-machine validation;
//!   `state` parses one state, `fields` reads JSON fields with located
//!   errors, `substitution` replaces `${Name}` placeholders.
//! - `path`: reference paths, reading and writing.
//! - `template`: `Parameters` / `ResultSelector` payload templates;
//!   `intrinsic`: the `States.*` functions they may call.
//! - `choice`: Choice rules. `retry`: `Retry`/`Catch` matching and backoff.
//! - `processing`: `InputPath` / `ResultPath` / `OutputPath`.
//! - `execution`: the caller-facing types; `interpreter`: [`step`], [`run`].
//! - [`errors`]: the `States.*` error names.

mod choice;
mod context;
mod definition;
pub mod errors;
mod execution;
mod fields;
mod interpreter;
mod intrinsic;
mod path;
mod processing;
mod retry;
mod state;
mod substitution;
mod template;

pub use definition::{DefinitionError, StateMachine, TaskInfo};
pub use execution::{ExecutionContext, RunOptions, TaskFailure, TaskInvoker, Transition};
pub use interpreter::{run, step};
pub use retry::backoff_delay;
