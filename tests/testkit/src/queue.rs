//! The contract of the queue port (cases and the `queue_contract!` macro).
