//! The API's stage in the request path: API Gateway's REST proxy passes `/prod/orders`, and the
//! shared router serves `/orders`.

/// API Gateway REST requests arrive with the stage in the path (`/prod/orders`); the router
/// serves `/orders`, as locally. The stage comes from the request context, so this holds for
/// any stage name without configuration.
pub fn strip_stage(mut request: lambda_http::Request) -> lambda_http::Request {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return request;
    };
    let Some(stage) = context.stage.clone() else {
        return request;
    };
    let prefix = format!("/{stage}");
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    let Some(rest) = path_and_query.strip_prefix(&prefix) else {
        return request;
    };
    if !(rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')) {
        return request;
    }
    let rest = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(pq) = rest.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = lambda_http::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}
