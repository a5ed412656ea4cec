//! What the test binaries share, so no test crate keeps its own copy: reaching the AWS emulator
//! (or failing under `CI=true`), fresh stores on both hosts, event builders, and the contract
//! suites, one per port, that every adapter of that port runs. A test binary that keeps a helper of its
//! own keeps it because no other binary needs it.
//!
//! # Layout
//! - [`support`]: [`support::emulator`] (moto on `AWS_ENDPOINT_URL`, freshly provisioned
//!   resources per test), [`support::sqlite`] (a fresh database in a temp dir), [`Fixture`].
//! - [`events`]: builders of events, stream writes, placed orders and seed products.
//! - [`forged`]: every kind of token a server must refuse, signed or forged by hand.
//! - [`tasks`]: an order driven through the app's task functions by hand, on any store.
//! - [`gateway`]: the simulated payment gateway, recording every charge and refund asked.
//! - [`sweep`]: the sweeper's decisions (`order_app::sweep`) on each host's stores, a
//!   `sweep_cases!` line per host like the port suites.
//! - [`pollers`]: StartOrderProcessing's local pollers on each host's OrdersQueue, a
//!   `pollers_cases!` line per host.
//! - [`runtime_api`]: a stub Lambda Runtime API on loopback, for running a function binary
//!   outside Lambda (the cold-start benchmark, the stack harness).
//! - [`emf`]: the Lambda functions' CloudWatch Embedded Metric Format lines parsed and held
//!   to template.yaml's dashboard.
//! - [`server`]: the real `orders` binary on a free loopback port, waiting for `/health` and
//!   for orders to finish, order bodies.
//! - one module per port, each a suite of `pub async fn` cases generic over the port and a macro
//!   that turns the whole suite into `#[tokio::test]`s for one backend:
//!   [`event_store`], [`idempotency`], [`queue`], [`read_models`], [`notifier`], [`keys`],
//!   [`stuck_orders`].
//!
//! A new adapter passes the contract by adding one line to `tests/contract/main.rs`, e.g.
//! `order_testkit::event_store_contract!(postgres, make_postgres_store);`: the macro writes a
//! module named after the backend, so every test name says which backend it ran on
//! (`event_store_contract::sqlite::…`, `event_store_contract::dynamodb::…`).

pub mod after;
pub mod dead_letters;
pub mod emf;
pub mod event_store;
pub mod events;
pub mod forged;
pub mod gateway;
pub mod idempotency;
pub mod intake;
pub mod keys;
pub mod notifier;
pub mod pollers;
pub mod queue;
pub mod read_models;
pub mod runtime_api;
pub mod server;
pub mod stuck_orders;
pub mod support;
pub mod sweep;
pub mod tasks;

pub use support::Fixture;
