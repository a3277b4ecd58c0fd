//! What stops a verification run, and whether the job is tried again (`From<VerifyError> for JobFailure`). A
//! photo that cannot be had, a bad photo or a provider that is down are no errors: they are results the
//! conversation hears about.

use thiserror::Error;
use tokio::task::JoinError;

use crate::jobs::worker::JobFailure;
use crate::store::StoreError;
use crate::store::vault::VaultError;

#[derive(Debug, Error)]
pub enum VerifyError {
    /// Reading the flow, keeping the pending check, or queueing the result.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("flow {flow_id}@{version} is not available")]
    FlowMissing { flow_id: String, version: String },
    #[error("verification.quality of the flow: {0}")]
    Thresholds(#[source] serde_json::Error),
    #[error("cannot keep the photo in the vault: {0}")]
    Vault(#[source] VaultError),
    #[error("the WhatsApp access token expired")]
    TokenExpired,
    #[error("the photo check stopped: {0}")]
    QualityCheck(#[source] JoinError),
    #[error("reading the document stopped: {0}")]
    Reading(#[source] JoinError),
    /// The record of a check waiting for a provider's callback.
    #[error(transparent)]
    PendingRecord(serde_json::Error),
}

impl VerifyError {
    /// Whether trying the job again later can help.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(_) | Self::Vault(_) | Self::TokenExpired | Self::QualityCheck(_) | Self::Reading(_) => true,
            Self::FlowMissing { .. } | Self::Thresholds(_) | Self::PendingRecord(_) => false,
        }
    }
}

impl From<VerifyError> for JobFailure {
    fn from(error: VerifyError) -> Self {
        if error.is_transient() { JobFailure::retry(error) } else { JobFailure::abort(error) }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_failure_keeps_its_cause_and_its_message() {
        let failure = JobFailure::from(VerifyError::Vault(VaultError::Decrypt));
        assert!(matches!(failure, JobFailure::Retry(_)));
        assert_eq!(
            failure.to_string(),
            "cannot keep the photo in the vault: stored media cannot be decrypted (wrong MEDIA_ENCRYPTION_KEY or \
             tampered data)"
        );
        assert!(matches!(failure.cause().downcast_ref::<VerifyError>(), Some(VerifyError::Vault(VaultError::Decrypt))));
        assert!(failure.source().is_some_and(|s| s.downcast_ref::<VaultError>().is_some()));

        let failure = JobFailure::from(VerifyError::FlowMissing { flow_id: "kyc".into(), version: "3".into() });
        assert!(matches!(failure, JobFailure::Abort(_)));
        assert_eq!(failure.to_string(), "flow kyc@3 is not available");
        assert!(matches!(JobFailure::from(VerifyError::TokenExpired), JobFailure::Retry(_)));
    }
}
