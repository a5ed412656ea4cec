//! What a request is (which service, which action, which wire protocol) and how that service
//! answers when it throttles or fails, so the client's SDK parses the fault as it would AWS's.
//!
//! The codes are the ones the AWS SDK for Rust classifies: `aws-runtime`'s
//! `AwsErrorCodeClassifier` retries as throttling `Throttling`, `ThrottlingException`,
//! `ProvisionedThroughputExceededException`, `RequestThrottled`, `LimitExceededException`,
//! `TooManyRequestsException`, `SlowDown` and a few more; `aws-smithy-runtime`'s
//! `HttpStatusCodeClassifier` retries 500, 502, 503 and 504 whatever the code; and a connection
//! closed without an answer (hyper's `IncompleteMessage` or an IO error) is a transient error.
//! Each service's throttle is one of the codes it really sends.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderMap};
use hyper::{Response, StatusCode};

/// How a service's requests and errors are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `awsJson1_0` / `awsJson1_1`: `X-Amz-Target`, errors as `{"__type","message"}`.
    Json,
    /// `awsQuery` (SNS, CloudFormation): form-encoded `Action=`, errors as `<ErrorResponse>`.
    Query,
    /// `restJson1` (Lambda, API Gateway): errors in `x-amzn-ErrorType`.
    RestJson,
    /// `restXml` (S3).
    RestXml,
}

/// One request as the proxy sees it: the service (signing name), the action and the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub action: String,
    pub protocol: Protocol,
    /// The JSON protocol's content type, echoed on a JSON error.
    content_type: Option<String>,
}

impl Call {
    /// `service.Action`, as counted.
    pub fn label(&self) -> String {
        format!("{}.{}", self.service, self.action)
    }

    /// Reads the request's headers and (for the query protocol) its form body.
    pub fn classify(method: &hyper::Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Self {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let content_type = header("content-type").map(str::to_owned);
        let signing = header("authorization").and_then(signing_service);
        if let Some(target) = header("x-amz-target") {
            let (prefix, action) = target.split_once('.').unwrap_or((target, "?"));
            return Self {
                service: signing.unwrap_or_else(|| target_service(prefix)).to_owned(),
                action: action.to_owned(),
                protocol: Protocol::Json,
                content_type,
            };
        }
        let is = |kind: &str| content_type.as_deref().is_some_and(|c| c.starts_with(kind));
        if is("application/x-amz-json") {
            return Self {
                service: signing.unwrap_or("json").to_owned(),
                action: "?".to_owned(),
                protocol: Protocol::Json,
                content_type,
            };
        }
        if is("application/x-www-form-urlencoded") {
            return Self {
                service: signing.unwrap_or("query").to_owned(),
                action: form_action(body).unwrap_or_else(|| "?".to_owned()),
                protocol: Protocol::Query,
                content_type,
            };
        }
        let service = signing.unwrap_or("rest").to_owned();
        let protocol = if service == "s3" {
            Protocol::RestXml
        } else {
            Protocol::RestJson
        };
        Self {
            service,
            action: format!("{method} {}", first_segment(path)),
            protocol,
            content_type,
        }
    }

    /// The codes this service throttles with (one is drawn per fault).
    pub fn throttle_codes(&self) -> &'static [(u16, &'static str)] {
        match (self.protocol, self.service.as_str()) {
            (Protocol::Json, "dynamodb") => &[
                (400, "ProvisionedThroughputExceededException"),
                (400, "ThrottlingException"),
                (400, "RequestLimitExceeded"),
            ],
            // The Streams API's own throttle.
            (Protocol::Json, "streams.dynamodb" | "dynamodbstreams") => {
                &[(400, "LimitExceededException")]
            }
            (Protocol::Json, "sqs") => &[(400, "RequestThrottled"), (400, "ThrottlingException")],
            (Protocol::Json, _) => &[(400, "ThrottlingException")],
            (Protocol::Query, _) => &[(400, "Throttling")],
            (Protocol::RestJson, _) => &[(429, "TooManyRequestsException")],
            (Protocol::RestXml, _) => &[(503, "SlowDown")],
        }
    }

    /// The codes this service fails with on its side.
    pub fn server_error_codes(&self) -> &'static [(u16, &'static str)] {
        match (self.protocol, self.service.as_str()) {
            (Protocol::Json, "dynamodb") => {
                &[(500, "InternalServerError"), (503, "ServiceUnavailable")]
            }
            _ => &[(500, "InternalFailure"), (503, "ServiceUnavailable")],
        }
    }

    /// The error answer `(status, code)` in this call's protocol.
    pub fn error_response(&self, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let sender = if status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let request_id = "fault-proxy-0000-0000-0000-000000000000";
        let mut builder = Response::builder()
            .status(status)
            .header("x-amzn-RequestId", request_id);
        let body = match self.protocol {
            Protocol::Json => {
                let ct = self
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/x-amz-json-1.0".to_owned());
                builder = builder.header(CONTENT_TYPE, ct);
                if self.service == "sqs" {
                    // SQS is query-compatible: its SDK takes the code from this header.
                    builder = builder.header("x-amzn-query-error", format!("{code};{sender}"));
                }
                serde_json::json!({ "__type": format!("{}#{code}", namespace(&self.service)), "message": message })
                    .to_string()
            }
            Protocol::Query => {
                builder = builder.header(CONTENT_TYPE, "text/xml");
                format!(
                    "<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code>\
                     <Message>{message}</Message></Error><RequestId>{request_id}</RequestId>\
                     </ErrorResponse>"
                )
            }
            Protocol::RestJson => {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .header("x-amzn-ErrorType", code);
                serde_json::json!({ "message": message }).to_string()
            }
            Protocol::RestXml => {
                builder = builder.header(CONTENT_TYPE, "application/xml");
                format!(
                    "<Error><Code>{code}</Code><Message>{message}</Message>\
                     <RequestId>{request_id}</RequestId></Error>"
                )
            }
        };
        builder
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
    }
}

/// The service from SigV4's credential scope: `Credential=AKID/20240101/us-east-1/sns/aws4_request`.
fn signing_service(authorization: &str) -> Option<&str> {
    let scope = authorization.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    scope.split('/').nth(3)
}

/// The service of an `X-Amz-Target` prefix, when the request is unsigned.
fn target_service(prefix: &str) -> &'static str {
    match prefix {
        p if p.starts_with("DynamoDBStreams") => "streams.dynamodb",
        p if p.starts_with("DynamoDB") => "dynamodb",
        "AmazonSQS" => "sqs",
        "AWSStepFunctions" => "states",
        "AWSEvents" => "events",
        "TrentService" => "kms",
        _ => "json",
    }
}

/// The Smithy namespace the service's `__type` carries.
fn namespace(service: &str) -> &'static str {
    match service {
        "dynamodb" | "streams.dynamodb" | "dynamodbstreams" => "com.amazonaws.dynamodb.v20120810",
        "sqs" => "com.amazonaws.sqs",
        "states" => "com.amazonaws.sfn",
        "events" => "com.amazonaws.eventbridge",
        "kms" => "com.amazonaws.kms",
        _ => "com.amazonaws",
    }
}

/// `Action=Publish&...` → `Publish`.
fn form_action(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned)
}

fn first_segment(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const AUTH_SNS: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00";

    #[test]
    fn a_dynamodb_call_is_json_and_throttles_with_its_own_codes() {
        let h = headers(&[
            ("x-amz-target", "DynamoDB_20120810.TransactWriteItems"),
            ("content-type", "application/x-amz-json-1.0"),
        ]);
        let call = Call::classify(&hyper::Method::POST, "/", &h, b"{}");
        assert_eq!(call.label(), "dynamodb.TransactWriteItems");
        assert_eq!(call.protocol, Protocol::Json);
        assert!(
            call.throttle_codes()
                .contains(&(400, "ProvisionedThroughputExceededException"))
        );
        let r = call.error_response(400, "ThrottlingException", "slow down");
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/x-amz-json-1.0");
    }

    #[test]
    fn an_sns_publish_is_query_and_throttles_with_throttling() {
        let h = headers(&[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", AUTH_SNS),
        ]);
        let call = Call::classify(
            &hyper::Method::POST,
            "/",
            &h,
            b"Action=Publish&TopicArn=arn&Message=hi",
        );
        assert_eq!(call.label(), "sns.Publish");
        assert_eq!(call.throttle_codes(), &[(400, "Throttling")]);
    }

    #[test]
    fn sqs_carries_the_query_compatible_error_header() {
        let h = headers(&[
            ("x-amz-target", "AmazonSQS.SendMessage"),
            ("content-type", "application/x-amz-json-1.0"),
        ]);
        let call = Call::classify(&hyper::Method::POST, "/", &h, b"{}");
        assert_eq!(call.label(), "sqs.SendMessage");
        let r = call.error_response(400, "RequestThrottled", "slow down");
        assert_eq!(r.headers()["x-amzn-query-error"], "RequestThrottled;Sender");
    }
}
