//! Published AWS list prices, us-east-1, on-demand, in US dollars per unit, beyond the free
//! tiers and at the first volume tier.
//!
//! Taken from the pricing pages as I know them as of 2025-06 (written from knowledge, not
//! fetched: no internet here). Prices change: check each one at its URL before relying on a
//! total.

/// When and how the prices below were taken.
pub const PRICES_AS_OF: &str =
    "us-east-1 list prices as known 2025-06, written from knowledge (not fetched): check them";

/// API Gateway REST API: $3.50 per million requests (first 333 million a month).
/// <https://aws.amazon.com/api-gateway/pricing/>
pub const API_GATEWAY_REST_REQUEST: f64 = 3.50 / 1e6;

/// Lambda: $0.20 per million requests. <https://aws.amazon.com/lambda/pricing/>
pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;

/// Lambda on arm64 (the template's architecture): $0.0000133334 per GB-second (first 7.5
/// billion GB-seconds a month), billed per 1 ms. <https://aws.amazon.com/lambda/pricing/>
pub const LAMBDA_ARM64_GB_SECOND: f64 = 0.000_013_333_4;

/// Step Functions Standard: $0.025 per 1,000 state transitions (retries count).
/// <https://aws.amazon.com/step-functions/pricing/>
pub const SFN_STANDARD_TRANSITION: f64 = 0.025 / 1000.0;

/// Step Functions Express: $1.00 per million requests (executions started).
/// <https://aws.amazon.com/step-functions/pricing/>
pub const SFN_EXPRESS_REQUEST: f64 = 1.00 / 1e6;

/// Step Functions Express duration: $0.00001667 per GB-second (first 1,000 GB-hours), memory
/// billed in 64 MB chunks, duration rounded up to 100 ms.
/// <https://aws.amazon.com/step-functions/pricing/>
pub const SFN_EXPRESS_GB_SECOND: f64 = 0.000_016_67;

/// DynamoDB on-demand: $0.625 per million write request units (since the November 2024 cut).
/// <https://aws.amazon.com/dynamodb/pricing/on-demand/>
pub const DYNAMODB_WRU: f64 = 0.625 / 1e6;

/// DynamoDB on-demand: $0.125 per million read request units.
/// <https://aws.amazon.com/dynamodb/pricing/on-demand/>
pub const DYNAMODB_RRU: f64 = 0.125 / 1e6;

/// DynamoDB Streams: GetRecords calls made by Lambda for a DynamoDB trigger are free (other
/// readers pay $0.02 per 100,000 stream read request units).
/// <https://aws.amazon.com/dynamodb/pricing/on-demand/>
pub const DYNAMODB_STREAMS_LAMBDA_READ: f64 = 0.0;

/// SQS standard queue: $0.40 per million requests (each 64 KB chunk is a request).
/// <https://aws.amazon.com/sqs/pricing/>
pub const SQS_REQUEST: f64 = 0.40 / 1e6;

/// SNS: $0.50 per million publishes (each 64 KB chunk). <https://aws.amazon.com/sns/pricing/>
pub const SNS_PUBLISH: f64 = 0.50 / 1e6;

/// SNS email notifications: $2.00 per 100,000. <https://aws.amazon.com/sns/pricing/>
pub const SNS_EMAIL: f64 = 2.00 / 100_000.0;

/// EventBridge custom events: $1.00 per million PutEvents entries (64 KB chunks).
/// <https://aws.amazon.com/eventbridge/pricing/>
pub const EVENTBRIDGE_EVENT: f64 = 1.00 / 1e6;

/// CloudWatch Logs ingestion (Standard class, first tier): $0.50 per GB.
/// <https://aws.amazon.com/cloudwatch/pricing/>
pub const CLOUDWATCH_LOGS_GB: f64 = 0.50;

/// KMS: $0.03 per 10,000 requests (GenerateDataKey, Decrypt).
/// <https://aws.amazon.com/kms/pricing/>
pub const KMS_REQUEST: f64 = 0.03 / 10_000.0;

/// X-Ray: $5.00 per million traces recorded. <https://aws.amazon.com/xray/pricing/>
pub const XRAY_TRACE: f64 = 5.00 / 1e6;

/// Every price, for the printed source list: (what, unit price, unit, URL).
pub const SOURCES: [(&str, f64, &str, &str); 16] = [
    (
        "API Gateway REST",
        API_GATEWAY_REST_REQUEST,
        "request",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    (
        "Lambda",
        LAMBDA_REQUEST,
        "request",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    (
        "Lambda arm64",
        LAMBDA_ARM64_GB_SECOND,
        "GB-second",
        "https://aws.amazon.com/lambda/pricing/",
    ),
    (
        "Step Functions Standard",
        SFN_STANDARD_TRANSITION,
        "state transition",
        "https://aws.amazon.com/step-functions/pricing/",
    ),
    (
        "Step Functions Express",
        SFN_EXPRESS_REQUEST,
        "request",
        "https://aws.amazon.com/step-functions/pricing/",
    ),
    (
        "Step Functions Express",
        SFN_EXPRESS_GB_SECOND,
        "GB-second",
        "https://aws.amazon.com/step-functions/pricing/",
    ),
    (
        "DynamoDB on-demand",
        DYNAMODB_WRU,
        "write request unit",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    (
        "DynamoDB on-demand",
        DYNAMODB_RRU,
        "read request unit",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    (
        "DynamoDB Streams (Lambda trigger)",
        DYNAMODB_STREAMS_LAMBDA_READ,
        "GetRecords",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    (
        "SQS standard",
        SQS_REQUEST,
        "request",
        "https://aws.amazon.com/sqs/pricing/",
    ),
    (
        "SNS",
        SNS_PUBLISH,
        "publish",
        "https://aws.amazon.com/sns/pricing/",
    ),
    (
        "SNS email",
        SNS_EMAIL,
        "email",
        "https://aws.amazon.com/sns/pricing/",
    ),
    (
        "EventBridge",
        EVENTBRIDGE_EVENT,
        "custom event",
        "https://aws.amazon.com/eventbridge/pricing/",
    ),
    (
        "CloudWatch Logs",
        CLOUDWATCH_LOGS_GB,
        "GB ingested",
        "https://aws.amazon.com/cloudwatch/pricing/",
    ),
    (
        "KMS",
        KMS_REQUEST,
        "request",
        "https://aws.amazon.com/kms/pricing/",
    ),
    (
        "X-Ray",
        XRAY_TRACE,
        "trace recorded",
        "https://aws.amazon.com/xray/pricing/",
    ),
];
