//! The `local` provider, for development: it does NO identity check. It passes any check that comes with the
//! media it needs (photo quality is checked locally, elsewhere), and says so loudly: a warning at construction
//! and `"note": "local provider: no identity check"` in every answer.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{
    AnswerStatus, DocumentReader, FaceMatcher, ImageRole, LivenessChecker, Provider, ProviderAnswer, ProviderError,
    ProviderRequest, RegistryChecker,
};
use crate::verify::reason::ReasonCode;

pub const NOTE: &str = "local provider: no identity check";

#[derive(Debug, Clone)]
pub struct LocalProvider {
    name: String,
}

impl LocalProvider {
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        tracing::warn!(
            provider = %name,
            "the local identity provider is configured: it does NO identity check and passes every submission; \
             use it for development only"
        );
        Self { name }
    }

    fn answer(&self, request: &ProviderRequest, needs: &[ImageRole]) -> ProviderAnswer {
        let has = |role: &ImageRole| request.images.iter().any(|img| img.role == *role);
        let missing = needs.iter().find(|r| !has(r));
        let status = match missing {
            None => AnswerStatus::Pass,
            Some(ImageRole::Selfie) => AnswerStatus::Retry { reason: ReasonCode::NoFace },
            Some(_) => AnswerStatus::Retry { reason: ReasonCode::NoDocument },
        };
        let mut fields = BTreeMap::from([("note".to_owned(), NOTE.to_owned())]);
        if let Some(number) = &request.document_number {
            fields.insert("document_number".to_owned(), number.clone());
        }
        ProviderAnswer {
            status,
            confidence: if missing.is_none() { 1.0 } else { 0.0 },
            fields,
            provider: self.name.clone(),
            reference: None,
            elapsed_ms: 0,
        }
    }
}

#[async_trait]
impl DocumentReader for LocalProvider {
    async fn read_document(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Ok(self.answer(request, &[ImageRole::DocumentFront]))
    }
}

#[async_trait]
impl LivenessChecker for LocalProvider {
    async fn check_liveness(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Ok(self.answer(request, &[ImageRole::Selfie]))
    }
}

#[async_trait]
impl FaceMatcher for LocalProvider {
    async fn match_faces(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Ok(self.answer(request, &[ImageRole::Selfie, ImageRole::DocumentFront]))
    }
}

#[async_trait]
impl RegistryChecker for LocalProvider {
    async fn check_registry(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Ok(self.answer(request, &[]))
    }
}

impl Provider for LocalProvider {
    fn name(&self) -> &str {
        &self.name
    }
}
