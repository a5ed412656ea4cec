//! The contract of the notifier port (cases and the `notifier_contract!` macro).
