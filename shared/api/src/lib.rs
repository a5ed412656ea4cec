//! The HTTP API of the order pipeline: one axum [`Router`], generic over the ports, so the
//! local server and the Lambda behind API Gateway serve exactly the same handlers.
//!
//! # Layout
//! - [`router`]: the routes and the [`Backend`] bundle of ports they need.
//! - [`body`]: parsing and validating request bodies into domain values.
//! - `after`: cancel, ship and refund an order once placed.
//! - [`error`]: the one JSON error shape, `{"error":{"code","message","field"?}}`.
//! - [`admission`]: `POST /orders` past the backlog's bound → 503 `BACKLOG_FULL`.
//! - [`auth`]: who is calling ([`auth::Caller`]), as the host's [`auth::Authenticator`] says.
//!
//! Contract: `POST /orders` (also `POST /`, the API's root method) → 202 `{"orderId","status":"PLACED"}`; `GET /orders/{id}`;
//! `GET /orders/{id}/events`; `POST /orders/{id}/cancel` (the order's customer or an operator);
//! `POST /orders/{id}/shipment` and `POST /orders/{id}/refunds` (an operator);
//! `GET /inventory/{productId}`; `GET /health`. The order routes need a signed-in caller (401
//! without one); the inventory and health stay public.

pub mod admission;
mod after;
pub mod auth;
pub mod body;
pub mod error;
mod handlers;
pub mod limit;

/// A JSON body as every route reads it (415, 413), for the host's own routes too.
pub use handlers::json_body;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use std::future::Future;

use order_app::ReadModels;
use order_app::place::{
    AppendThenEnqueue, IdempotencyKey, Origin, PlaceError, PlaceOrder, Placed, place_order,
};
use order_domain::Timestamp;
use order_domain::ports::{EventStore, IdempotencyStore, KeyStore, OrderQueue};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// When the host stops running a request whatever happens (a Lambda invocation's deadline), as
/// a request extension the host inserts; absent on a long-running server. An idempotency claim
/// made by the request holds its key until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Timestamp);

/// The ports the API needs.
pub trait Backend: Send + Sync + 'static {
    type Store: EventStore;
    type Queue: OrderQueue;
    type Idempotency: IdempotencyStore;
    type Reads: ReadModels;
    type Keys: KeyStore;

    fn store(&self) -> &Self::Store;
    fn queue(&self) -> &Self::Queue;
    fn idempotency(&self) -> &Self::Idempotency;
    fn reads(&self) -> &Self::Reads;
    /// The customers' data keys, which seal and open personal data.
    fn keys(&self) -> &Self::Keys;

    /// Places an order. The default appends, then enqueues; a backend whose log and queue
    /// share a database overrides it to make both writes in one commit.
    fn place(
        &self,
        request: PlaceOrder,
        idempotency_key: Option<IdempotencyKey<'_>>,
        origin: Origin<'_>,
    ) -> impl Future<Output = Result<Placed, PlaceError>> + Send {
        async move {
            let intake = AppendThenEnqueue {
                store: self.store(),
                queue: self.queue(),
            };
            place_order(
                &intake,
                self.idempotency(),
                self.reads(),
                self.keys(),
                request,
                idempotency_key,
                origin,
            )
            .await
        }
    }
}

/// What guards the order routes: who the caller is, and how much one caller (and everyone
/// together) may ask.
#[derive(Debug, Clone)]
pub struct Guard {
    pub auth: Arc<auth::Authenticator>,
    /// Per-customer requests a second (429 past it); `None`: unlimited (API Gateway's stage
    /// throttling stands in on AWS).
    pub rate_limit: Option<Arc<limit::CustomerLimit>>,
    /// Requests handled at once before the next is shed with 503; `None`: no limit.
    pub max_in_flight: Option<usize>,
    /// New orders admitted against the process's backlog; `None`: not counted (the Lambda).
    pub admission: Option<admission::Admission>,
}

impl Guard {
    /// Sign-in only, no limits.
    pub fn auth(auth: Arc<auth::Authenticator>) -> Self {
        Self {
            auth,
            rate_limit: None,
            max_in_flight: None,
            admission: None,
        }
    }
}

/// The API's routes over `backend`; `auth` establishes each order request's caller.
pub fn router<B: Backend>(backend: Arc<B>, auth: Arc<auth::Authenticator>) -> Router {
    guarded_router(backend, Guard::auth(auth))
}

/// The API's routes over `backend`, guarded by `guard`.
pub fn guarded_router<B: Backend>(backend: Arc<B>, guard: Guard) -> Router {
    let mut router = Router::new()
        .route("/health", get(handlers::health))
        .route(
            "/orders",
            post(handlers::place_order::<B>).get(handlers::list_orders::<B>),
        )
        // ApiGatewayRootMethod: the original system placed orders with a POST on the root.
        .route("/", post(handlers::place_order::<B>))
        .route("/orders/{id}", get(handlers::get_order::<B>))
        .route("/orders/{id}/events", get(handlers::get_order_events::<B>))
        .route("/orders/{id}/cancel", post(after::cancel::<B>))
        .route("/orders/{id}/shipment", post(after::ship::<B>))
        .route("/orders/{id}/refunds", post(after::refund::<B>))
        .route("/inventory/{product_id}", get(handlers::get_inventory::<B>))
        .route(
            "/customers/{customer_id}",
            delete(handlers::forget_customer::<B>),
        )
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(Extension(guard.auth));
    if let Some(limit) = guard.rate_limit {
        router = router.layer(Extension(limit));
    }
    if let Some(admission) = guard.admission {
        router = router.layer(Extension(admission));
    }
    if let Some(max) = guard.max_in_flight {
        router = router.layer(axum::middleware::from_fn_with_state(
            limit::Shedding::new(max),
            limit::shed,
        ));
    }
    router.with_state(backend)
}
