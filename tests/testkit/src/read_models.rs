//! The contract of the read_models port (cases and the `read_models_contract!` macro).
