//! API Gateway's side of the REST API's Lambda proxy integration: the route a request
//! matches (the deployed resources, literal segments before `{param}`), the proxy event
//! (payload v1, the request context a Cognito authorizer fills with the token's claims) and
//! the function's answer read back as the HTTP response API Gateway would send.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::stack::Route;

/// A request to the API.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    /// The path without the stage, e.g. `/orders/01J…`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The verified token's claims, as the Cognito authorizer passes them (all strings);
    /// `None`: no token, which API Gateway refuses itself on a guarded method.
    pub claims: Option<Value>,
}

impl ApiRequest {
    /// A request with no body, headers or claims.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            ..Self::default()
        }
    }

    /// A JSON body (and its content type).
    #[must_use]
    pub fn json(mut self, body: &Value) -> Self {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = Some(body.to_string());
        self
    }

    /// One more header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Signed in as `customer` (a Cognito ID token's claims: `sub`, `email`, …).
    #[must_use]
    pub fn signed_in(mut self, customer: &str, email: &str) -> Self {
        self.claims = Some(json!({
            "sub": customer,
            "email": email,
            "email_verified": "true",
            "cognito:username": customer,
            "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_stack",
            "aud": "stack-client",
            "token_use": "id",
            "auth_time": "1764101500",
        }));
        self
    }
}

/// What API Gateway answers.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl ApiResponse {
    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The route for `method path`, with its path parameters.
pub fn match_route<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, BTreeMap<String, String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    routes
        .iter()
        .filter(|r| r.method.eq_ignore_ascii_case(method))
        .filter_map(|r| {
            let pattern: Vec<&str> = r.path.trim_matches('/').split('/').collect();
            if pattern.len() != segments.len() {
                return None;
            }
            let mut params = BTreeMap::new();
            let mut literal = 0;
            for (p, s) in pattern.iter().zip(&segments) {
                if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    params.insert(name.to_owned(), (*s).to_owned());
                } else if p == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, r, params))
        })
        .max_by_key(|(literal, _, _)| *literal)
        .map(|(_, r, params)| (r, params))
}

/// The proxy event for `request` on `route` of stage `stage`.
pub fn proxy_event(
    route: &Route,
    params: &BTreeMap<String, String>,
    stage: &str,
    request: &ApiRequest,
) -> Value {
    let mut headers = Map::new();
    let mut multi_headers = Map::new();
    for (k, v) in &request.headers {
        headers.insert(k.clone(), json!(v));
        multi_headers.insert(k.clone(), json!([v]));
    }
    let (query, multi_query) = if request.query.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (k, v) in &request.query {
            single.insert(k.clone(), json!(v));
            if let Some(Value::Array(list)) = multi.get_mut(k) {
                list.push(json!(v));
            } else {
                multi.insert(k.clone(), json!([v]));
            }
        }
        (Value::Object(single), Value::Object(multi))
    };
    let path_parameters = if params.is_empty() {
        Value::Null
    } else {
        json!(params)
    };
    let mut context = json!({
        "resourceId": route.resource_id,
        "resourcePath": route.path,
        "httpMethod": route.method,
        "requestTime": "01/Dec/2026:12:00:00 +0000",
        "path": format!("/{stage}{}", request.path),
        "accountId": "123456789012",
        "protocol": "HTTP/1.1",
        "stage": stage,
        "domainPrefix": route.rest_api_id,
        "requestTimeEpoch": 1_795_000_000_000_u64,
        "requestId": ulid::Ulid::generate().to_string().to_lowercase(),
        "identity": { "sourceIp": "127.0.0.1", "userAgent": "order-stack" },
        "domainName": format!("{}.execute-api.us-east-1.amazonaws.com", route.rest_api_id),
        "apiId": route.rest_api_id,
    });
    if let Some(claims) = &request.claims {
        context["authorizer"] = json!({ "claims": claims });
    }
    json!({
        "resource": route.path,
        "path": request.path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": null,
        "requestContext": context,
        "body": request.body,
        "isBase64Encoded": false,
    })
}

/// The HTTP response for the function's proxy answer; a malformed answer is API Gateway's
/// 502.
pub fn http_response(answer: &Value) -> ApiResponse {
    let Some(status) = answer
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
    else {
        return gateway_error(502, "Internal server error");
    };
    let mut headers = BTreeMap::new();
    if let Some(Value::Object(map)) = answer.get("multiValueHeaders") {
        for (k, v) in map {
            if let Some(first) = v.get(0).and_then(Value::as_str) {
                headers.insert(k.to_ascii_lowercase(), first.to_owned());
            }
        }
    }
    if let Some(Value::Object(map)) = answer.get("headers") {
        for (k, v) in map {
            if let Some(v) = v.as_str() {
                headers.insert(k.to_ascii_lowercase(), v.to_owned());
            }
        }
    }
    let raw = answer
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = if answer.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    } else {
        raw.to_owned()
    };
    ApiResponse {
        status,
        headers,
        body,
    }
}

/// An answer API Gateway gives without the function (no route, no token, a failed invoke).
pub fn gateway_error(status: u16, message: &str) -> ApiResponse {
    ApiResponse {
        status,
        headers: BTreeMap::new(),
        body: json!({ "message": message }).to_string(),
    }
}
