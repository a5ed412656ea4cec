//! The AWS adapters against a real AWS API emulator (moto) on loopback. Each test provisions
//! its own uniquely named resources. Without `AWS_ENDPOINT_URL` every test is skipped, except
//! under `CI=true`, where it fails.

mod event_store;
mod idempotency;
mod keys;
mod listing;
mod messaging;
mod projections;
mod streams;
