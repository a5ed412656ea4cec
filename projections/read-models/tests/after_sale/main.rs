//! The order-status view after an order is placed: cancellations, shipments and refunds, as
//! the aggregate decides them. Each history is decided command by command on the aggregate
//! (`story`), so every log the tests fold is one the pipeline can write.

mod property;
mod steps;
mod story;
