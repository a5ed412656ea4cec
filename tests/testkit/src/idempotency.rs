//! The contract of the idempotency port (cases and the `idempotency_contract!` macro).
