//! Turning SDK errors into the ports' errors: one readable message with the whole cause chain.

use std::error::Error;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use order_domain::ports::PortError;

/// The error and every cause, on one line (the SDK's own `Display` says only "service error").
pub fn describe(err: &(impl Error + 'static)) -> String {
    DisplayErrorContext(err).to_string()
}

/// A port error naming what failed (`context`) and why.
pub fn port_error(context: &str, err: &(impl Error + 'static)) -> PortError {
    PortError(format!("{context}: {}", describe(err)))
}

/// A conditional write's outcome: `Ok(true)` it was written, `Ok(false)` its condition failed
/// (the item is not as the writer saw it); any other failure is passed on.
pub fn written<O, E: ProvideErrorMetadata, R>(
    result: Result<O, SdkError<E, R>>,
) -> Result<bool, SdkError<E, R>> {
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
