//! The caller behind API Gateway: the Cognito authorizer verified the bearer token before the
//! Lambda ran, and put the token's claims in the request context
//! (`requestContext.authorizer.claims`). They are copied into the request as
//! [`GatewayClaims`], the only identity the router trusts on this host
//! ([`Authenticator::Gateway`](order_api::auth::Authenticator::Gateway)); a header a caller
//! can write never counts.

use order_api::auth::GatewayClaims;

/// Inserts the authorizer's claims as [`GatewayClaims`] (none without an authorizer: the
/// router then answers 401). Any `GatewayClaims` already on the request is replaced or removed.
pub fn with_gateway_claims(mut request: lambda_http::Request) -> lambda_http::Request {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context
            .authorizer
            .fields
            .get("claims")
            .and_then(serde_json::Value::as_object)
            .cloned(),
        _ => None,
    };
    match claims {
        Some(claims) => {
            request.extensions_mut().insert(GatewayClaims(claims));
        }
        None => {
            request.extensions_mut().remove::<GatewayClaims>();
        }
    }
    request
}
