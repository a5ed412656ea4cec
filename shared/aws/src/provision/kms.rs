//! The KMS key that wraps the customers' data keys (PersonalDataKey), found by its alias or made.

use aws_sdk_kms::operation::create_alias::CreateAliasError;

use super::{ProvisionError, failed, missing};
use crate::config::AwsClients;

/// The ARN of the symmetric KMS key behind `alias` (`alias/...`), creating both if missing.
/// A key has no name of its own; the alias is what makes its creation repeatable.
pub(super) async fn ensure_kms_key(
    clients: &AwsClients,
    alias: &str,
) -> Result<String, ProvisionError> {
    if let Ok(out) = clients.kms().describe_key().key_id(alias).send().await
        && let Some(arn) = out.key_metadata.and_then(|m| m.arn)
    {
        return Ok(arn);
    }
    let created = clients
        .kms()
        .create_key()
        .description("order-pipeline: wraps the customers' personal-data keys")
        .send()
        .await
        .map_err(|e| failed(alias, &e))?;
    let meta = created
        .key_metadata
        .ok_or_else(|| missing(alias, "CreateKey returned no key"))?;
    match clients
        .kms()
        .create_alias()
        .alias_name(alias)
        .target_key_id(meta.key_id())
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(alias, "KMS key created");
            meta.arn
                .ok_or_else(|| missing(alias, "CreateKey returned no ARN"))
        }
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateAliasError::AlreadyExistsException(_))
            ) =>
        {
            // Another process made the alias first: theirs is the key (ours stays unused).
            let out = clients
                .kms()
                .describe_key()
                .key_id(alias)
                .send()
                .await
                .map_err(|e| failed(alias, &e))?;
            out.key_metadata
                .and_then(|m| m.arn)
                .ok_or_else(|| missing(alias, "DescribeKey returned no ARN"))
        }
        Err(e) => Err(failed(alias, &e)),
    }
}
