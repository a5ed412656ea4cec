//! The invocation's deadline, handed to the API so that an idempotency claim holds its key
//! only as long as the invocation can run: Lambda stops the function at its deadline, so a
//! claim of a timed-out invocation ends then instead of after a fixed lease (Powertools sets
//! its in-progress expiry from the remaining time the same way).

use lambda_http::RequestExt;
use order_api::Deadline;
use order_domain::Timestamp;

/// Copies the Lambda context's deadline (epoch milliseconds) into the request as a
/// [`Deadline`]; a request without a Lambda context is left as it is.
pub fn with_invocation_deadline(mut request: lambda_http::Request) -> lambda_http::Request {
    if let Some(deadline) = request.lambda_context_ref().map(|c| c.deadline) {
        request
            .extensions_mut()
            .insert(Deadline(Timestamp::from_millis(deadline)));
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_contexts_deadline_becomes_the_requests_deadline() {
        let mut context = lambda_runtime::Context::default();
        context.deadline = 1_700_000_029_000;
        let request = with_invocation_deadline(
            lambda_http::Request::new(lambda_http::Body::Empty).with_lambda_context(context),
        );
        assert_eq!(
            request.extensions().get::<Deadline>(),
            Some(&Deadline(Timestamp::from_millis(1_700_000_029_000)))
        );
        let bare = with_invocation_deadline(lambda_http::Request::new(lambda_http::Body::Empty));
        assert_eq!(bare.extensions().get::<Deadline>(), None);
    }
}
