//! Behaviour of the interpreter, state type by state type, through the
//! public API only.

mod support;

mod catch;
mod choice;
mod definition;
mod end_to_end;
mod pass;
mod refund_definition;
mod retry;
mod task;
mod terminal;
