//! The cost model: the price per million orders of the deployed design, from requests counted
//! in a real local run × published AWS list prices, for Express and Standard workflows.
//!
//! - [`prices`]: the list prices, each with its source.
//! - [`model`]: the per-order arithmetic (DynamoDB units, Lambda GB-seconds, Express billing).
//! - [`lines`]: every priced line, service by service, each counted, derived or assumed;
//!   [`keys`]: the customers' data keys (KMS and their table).
//! - [`count`]: the local run and what it counts; [`emf`]: the EMF metric bytes per invocation.
//! - [`report`]: the markdown the `cost-model` command prints.
//! - [`json`]: the same as one line of JSON (`cost-model --json`).
//! - [`refund`]: one refund priced (issue 14), from its code path and its state machine's
//!   definition; [`refund_report`]: its markdown section and its JSON (`refund`).

pub mod count;
pub mod emf;
pub mod json;
pub mod keys;
pub mod lines;
pub mod model;
pub mod prices;
pub mod refund;
pub mod refund_report;
pub mod report;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_target;
