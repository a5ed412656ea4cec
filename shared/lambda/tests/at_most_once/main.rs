//! At most once per effect, under AWS's at-least-once delivery: two executions of one order run
//! at once (Express never dedupes by name, and a repeated queue message starts a second one),
//! and the same bus event reaches the rules' handlers again and again. Each effect happens
//! once: one charge, one reservation per product, one terminal event, one email.
//!
//! - [`executions`]: two concurrent executions of one order, on the local runtime's workflow
//!   (SQLite) and on the AWS host's task entry points (`order_lambda::task::run_task`, what the
//!   task Lambdas run) against the emulator, driven by the project's ASL interpreter.
//! - [`emails`]: OrderCompleted / OrderFailed / OrderPlaced delivered twice and concurrently to
//!   the Lambda handlers publish one email each; a publisher that crashed between its dedup record and its
//!   publish blocks (retryably) while its lease lives and is published once after it lapses.

mod emails;
mod executions;
mod support;
