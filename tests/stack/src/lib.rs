//! The stack on one machine: `template.yaml` deployed on the AWS emulator, each release Lambda
//! binary run natively behind its own loopback Lambda Runtime API, and fed what AWS would feed
//! it, as the stack wires it. A forgotten environment variable, a filter that drops an event or
//! an event shape a binary cannot parse fails here, where each handler's own tests pass.
//!
//! Everything the harness wires is read from what the emulator built ([`stack`]): each
//! function's environment, its binary (the code's S3 key, `<CodeVersion>/<binary>.zip`), the
//! event source mappings with their batch sizes and filters, the rules and their targets, the
//! state machine's definition, the API's routes. No function is named here: a function added
//! to the template runs as soon as its binary is built.
//!
//! # Layout
//! - [`stack`]: deploys the template (`deploy_stack.py`) and what the emulator built.
//! - [`function`]: one binary behind its stub Runtime API; an invocation and its outcome.
//! - [`pattern`]: event patterns, for the mappings' filter criteria.
//! - [`api`]: API Gateway REST proxy events for the API's routes, with authorizer claims.
//! - [`sqs`]: the queue mappings' poller (batches, partial failures, deletes).
//! - [`streams`]: the stream mappings' poller (shards, filters, checkpoints, retries).
//! - [`recorded`]: what the emulator would have invoked (rule targets, custom resources).
//! - [`schedule`]: the schedule rules' events.
//! - [`workflow`]: Step Functions executions (both state machines: started by a function, or by
//!   a rule's state machine target) run by the project's ASL interpreter, its `lambda:invoke`
//!   and `sns:publish` integrations.
//! - [`harness`]: all of it together, pumped until a condition holds.
//! - [`mail`]: the topics' messages, counted through an SQS subscription.

pub mod api;
pub mod function;
pub mod harness;
pub mod mail;
pub mod pattern;
pub mod recorded;
pub mod schedule;
pub mod sqs;
pub mod stack;
pub mod streams;
pub mod workflow;

pub use harness::{Harness, HarnessError};
