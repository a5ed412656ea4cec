//! The replay library on generated logs: verification, comparison, rebuild and time travel.

mod as_of;
mod audit;
mod compare;
mod rebuild;
mod rows;
mod support;
mod verify;
