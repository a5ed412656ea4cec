//! Turning SDK errors into the ports' errors: one readable message with the whole cause chain.

use std::error::Error;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use order_domain::ports::PortError;

/// The error and every cause, on one line (the SDK's own `Display` says only "service error").
pub fn describe(err: &(impl Error + 'static)) -> String {
    DisplayErrorContext(err).to_string()
}

/// A port error naming what failed (`context`) and why.
pub fn port_error(context: &str, err: &(impl Error + 'static)) -> PortError {
    PortError(format!("{context}: {}", describe(err)))
}
