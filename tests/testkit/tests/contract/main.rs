//! The port contracts, each case once per backend: SQLite (the embedded default) and the AWS
//! adapters on the emulator (moto on `AWS_ENDPOINT_URL`; skipped without it, failing under
//! `CI=true`). A module per port, a line per backend.

mod backends;

mod event_store_contract {
    order_testkit::event_store_contract!(sqlite, crate::backends::sqlite_event_store);
    order_testkit::event_store_contract!(dynamodb, crate::backends::dynamodb_event_store);
}

mod idempotency_contract {
    order_testkit::idempotency_contract!(sqlite, crate::backends::sqlite_idempotency);
    order_testkit::idempotency_contract!(dynamodb, crate::backends::dynamodb_idempotency);
}

mod read_models_contract {
    order_testkit::read_models_contract!(sqlite, crate::backends::sqlite_read_models);
    order_testkit::read_models_contract!(dynamodb, crate::backends::dynamodb_read_models);
}

mod notifier_contract {
    order_testkit::notifier_contract!(outbox, crate::backends::outbox_notifier);
    order_testkit::notifier_contract!(sns, crate::backends::sns_notifier);
}

mod queue_contract {
    order_testkit::queue_contract!(sqlite, crate::backends::sqlite_queue);
    order_testkit::queue_contract!(sqs, crate::backends::sqs_queue);
}

mod dead_letters_contract {
    order_testkit::dead_letters_contract!(sqlite, crate::backends::sqlite_queue);
    order_testkit::dead_letters_contract!(sqs, crate::backends::sqs_queue);
}

mod keys_contract {
    order_testkit::keys_contract!(sqlite, crate::backends::sqlite_keys);
    order_testkit::keys_contract!(dynamodb, crate::backends::dynamodb_keys);
}

mod intake_contract {
    order_testkit::intake_contract!(sqlite, crate::backends::sqlite_intake);
    order_testkit::intake_contract!(dynamodb, crate::backends::dynamodb_intake);
}

mod stuck_orders_contract {
    order_testkit::stuck_orders_contract!(sqlite, crate::backends::sqlite_read_models);
    order_testkit::stuck_orders_contract!(dynamodb, crate::backends::dynamodb_read_models);
}

/// Not a port: StartOrderProcessing's local pollers on each host's OrdersQueue.
mod queue_pollers {
    order_testkit::pollers_cases!(sqlite, crate::backends::sqlite_queue);
    order_testkit::pollers_cases!(sqs, crate::backends::sqs_queue);
}

/// Not a port: the sweeper's use case on each host's stores (log, views, queue).
mod sweep_decisions {
    order_testkit::sweep_cases!(sqlite, crate::backends::sqlite_sweep);
    order_testkit::sweep_cases!(dynamodb, crate::backends::dynamodb_sweep);
}

/// Not a port: cancel, ship and refund (`order_app::after` and the refund tasks) on each host's
/// event store, including a race of twenty refunds of one line.
mod after_decisions {
    order_testkit::after_cases!(sqlite, crate::backends::sqlite_event_store);
    order_testkit::after_cases!(dynamodb, crate::backends::dynamodb_event_store);
}

/// Not a port: the workflow's steps on each host's event store, beaten to their append by
/// another execution of the same step.
mod step_decisions {
    order_testkit::step_cases!(sqlite, crate::backends::sqlite_event_store);
    order_testkit::step_cases!(dynamodb, crate::backends::dynamodb_event_store);
}
