//! AWS Rekognition as the `face_match` provider, through the official SDK (`aws-sdk-rekognition`), with
//! credentials and region from the standard AWS chain.
//!
//! One check is two calls: `DetectFaces` on the selfie (one face, sharp and bright enough, eyes open, nothing
//! covering it: a server-side gate whose failures are retakes of the selfie), then `CompareFaces` between the
//! face cropped from the document's front ([`images::document_face`]) and the selfie. A similarity at or above
//! the flow's `similarity_threshold` passes (confidence = similarity / 100); below it, `low_confidence`, which
//! sends the user to a person (a new photo is not the fix).
//!
//! Errors: throttling and server errors are retried with backoff and then count against the circuit breaker;
//! `InvalidParameterException` (no face found) asks for a retake with `no_face`; an image over 5 MB is shrunk
//! before it is sent, and `ImageTooLargeException` shrinks it further once. Rekognition reads no documents, checks
//! no registry, and its Face Liveness needs a video session WhatsApp cannot give: those capabilities answer
//! `unavailable`, so a flow routing them here sends the user to a person instead of passing them.

pub mod fake;
pub mod images;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_rekognition::Client;
use aws_sdk_rekognition::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rekognition::primitives::Blob;
use aws_sdk_rekognition::types::{Attribute, FaceDetail, Image};
use tokio::sync::OnceCell;

use super::breaker::{self, BreakerConfig, CircuitBreaker};
use super::{
    AnswerStatus, Capability, DocumentReader, FaceMatcher, ImageContent, ImageRole, LivenessChecker, Provider,
    ProviderAnswer, ProviderError, ProviderRequest, RegistryChecker,
};
use crate::verify::reason::ReasonCode;

#[derive(Debug, Clone, PartialEq)]
pub struct RekognitionConfig {
    pub name: String,
    /// e.g. `us-east-1`; `None`: from the standard chain (`AWS_REGION`, the profile...).
    pub region: Option<String>,
    /// Another endpoint (a VPC endpoint, or a local fake in tests); `None`: AWS's.
    pub endpoint_url: Option<String>,
    /// CompareFaces similarity (0 to 100) needed to pass.
    pub similarity_threshold: f32,
    /// DetectFaces `Quality.Sharpness` (0 to 100) under which the selfie is retaken as `blurry`.
    pub min_sharpness: f32,
    /// DetectFaces `Quality.Brightness` (0 to 100) under which the selfie is retaken as `too_dark`.
    pub min_brightness: f32,
    /// Per attempt.
    pub timeout: Duration,
    /// Further attempts on throttling, server errors and timeouts.
    pub retries: u32,
    pub retry_backoff: Duration,
    pub breaker: BreakerConfig,
}

impl RekognitionConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            region: None,
            endpoint_url: None,
            similarity_threshold: 90.0,
            min_sharpness: 10.0,
            min_brightness: 15.0,
            timeout: Duration::from_secs(10),
            retries: 2,
            retry_backoff: Duration::from_millis(200),
            breaker: BreakerConfig::default(),
        }
    }
}

pub struct RekognitionProvider {
    config: RekognitionConfig,
    /// Built on first use: loading the AWS configuration is asynchronous (it may ask the instance metadata).
    client: OnceCell<Client>,
    breaker: CircuitBreaker,
}

impl std::fmt::Debug for RekognitionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RekognitionProvider").field("config", &self.config).finish_non_exhaustive()
    }
}

/// One call's failure: what it means for the check, and whether another attempt may help.
enum CallError {
    Retryable(String),
    /// The user can fix it with a new photo.
    Retake(ReasonCode),
    /// The image was too large even after shrinking to the limit: shrink further.
    TooLarge,
    Fatal(String),
}

fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(error: &SdkError<E>) -> CallError {
    match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let detail = format!("{}: {}", e.code().unwrap_or("error"), e.message().unwrap_or_default());
            match e.code().unwrap_or_default() {
                "ThrottlingException"
                | "ProvisionedThroughputExceededException"
                | "InternalServerError"
                | "ServiceUnavailableException"
                | "LimitExceededException" => CallError::Retryable(detail),
                "InvalidParameterException" => CallError::Retake(ReasonCode::NoFace),
                "InvalidImageFormatException" => CallError::Retake(ReasonCode::UnreadableFile),
                "ImageTooLargeException" => CallError::TooLarge,
                _ if service.raw().status().is_server_error() => CallError::Retryable(detail),
                _ => CallError::Fatal(detail),
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            CallError::Retryable(format!("{error:?}"))
        }
        other => CallError::Fatal(format!("{other:?}")),
    }
}

impl RekognitionProvider {
    pub fn new(config: RekognitionConfig, breaker_clock: Arc<dyn breaker::Monotonic>) -> Self {
        let breaker = CircuitBreaker::new(config.breaker, breaker_clock);
        Self { config, client: OnceCell::new(), breaker }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(self.config.timeout).build())
                    // Retries are ours (below), so they count once against the breaker.
                    .retry_config(RetryConfig::disabled());
                if let Some(region) = &self.config.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if let Some(endpoint) = &self.config.endpoint_url {
                    loader = loader.endpoint_url(endpoint);
                }
                Client::new(&loader.load().await)
            })
            .await
    }

    fn unavailable(&self, detail: &str) -> ProviderError {
        ProviderError::Unavailable { provider: self.config.name.clone(), detail: detail.to_owned() }
    }

    fn answer(
        &self,
        status: AnswerStatus,
        confidence: f32,
        fields: BTreeMap<String, String>,
        started: Instant,
    ) -> ProviderAnswer {
        ProviderAnswer {
            status,
            confidence,
            fields,
            provider: self.config.name.clone(),
            reference: None,
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
    }

    /// The face match: breaker, then the selfie gate and the comparison, each with its retries.
    async fn face_match(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        let started = Instant::now();
        let bytes_of = |role: ImageRole| {
            request.images.iter().find(|i| i.role == role).and_then(|i| match &i.content {
                ImageContent::Bytes { bytes, .. } => Some(bytes.clone()),
                ImageContent::Url { .. } => None,
            })
        };
        let (Some(front), Some(selfie)) = (bytes_of(ImageRole::DocumentFront), bytes_of(ImageRole::Selfie)) else {
            let reason =
                if bytes_of(ImageRole::Selfie).is_none() { ReasonCode::NoFace } else { ReasonCode::NoDocument };
            return Ok(self.answer(AnswerStatus::Retry { reason }, 0.0, BTreeMap::new(), started));
        };
        let Ok(permit) = self.breaker.acquire() else {
            tracing::warn!(provider = %self.config.name, "circuit open: Rekognition not called");
            return Err(ProviderError::CircuitOpen { provider: self.config.name.clone() });
        };
        let (face, selfie) = tokio::task::spawn_blocking(move || {
            let face = images::document_face(&front).unwrap_or_else(|| front.to_vec());
            (images::fit(&face, images::MAX_IMAGE_BYTES), images::fit(&selfie, images::MAX_IMAGE_BYTES))
        })
        .await
        .map_err(|e| self.unavailable(&format!("preparing the images: {e}")))?;
        let (Some(face), Some(selfie)) = (face, selfie) else {
            permit.success();
            return Ok(self.answer(
                AnswerStatus::Retry { reason: ReasonCode::UnreadableFile },
                0.0,
                BTreeMap::new(),
                started,
            ));
        };
        match self.gate_and_compare(face, selfie, started).await {
            Ok(answer) => {
                permit.success();
                Ok(answer)
            }
            Err(e) => {
                permit.failure();
                tracing::warn!(provider = %self.config.name, error = %e, "Rekognition face match failed");
                Err(e)
            }
        }
    }

    async fn gate_and_compare(
        &self,
        face: Vec<u8>,
        selfie: Vec<u8>,
        started: Instant,
    ) -> Result<ProviderAnswer, ProviderError> {
        let client = self.client().await;
        let details = self
            .with_retries("DetectFaces", &selfie, |image| async move {
                let out = client.detect_faces().image(image).attributes(Attribute::All).send().await;
                out.map(|o| o.face_details().to_vec()).map_err(|e| classify(&e))
            })
            .await?;
        let details = match details {
            Ok(details) => details,
            Err(reason) => return Ok(self.answer(AnswerStatus::Retry { reason }, 0.0, BTreeMap::new(), started)),
        };
        let mut fields = BTreeMap::from([("selfie_faces".to_owned(), details.len().to_string())]);
        if let Some(reason) = self.gate(&details, &mut fields) {
            return Ok(self.answer(AnswerStatus::Retry { reason }, 0.0, fields, started));
        }
        let compared = self
            .with_retries("CompareFaces", &selfie, |target| {
                let source = Image::builder().bytes(Blob::new(face.clone())).build();
                async move {
                    let out = client
                        .compare_faces()
                        .source_image(source)
                        .target_image(target)
                        // Every similarity is returned; the flow's threshold is applied here, so a miss says by
                        // how much.
                        .similarity_threshold(0.0)
                        .send()
                        .await;
                    out.map(|o| o.face_matches().iter().filter_map(|m| m.similarity()).fold(0.0_f32, f32::max))
                        .map_err(|e| classify(&e))
                }
            })
            .await?;
        let similarity = match compared {
            Ok(similarity) => similarity,
            Err(reason) => return Ok(self.answer(AnswerStatus::Retry { reason }, 0.0, fields, started)),
        };
        fields.insert("similarity".into(), format!("{similarity:.1}"));
        fields.insert("similarity_threshold".into(), format!("{:.1}", self.config.similarity_threshold));
        let status = if similarity >= self.config.similarity_threshold {
            AnswerStatus::Pass
        } else {
            AnswerStatus::Fail { reason: ReasonCode::LowConfidence }
        };
        Ok(self.answer(status, similarity / 100.0, fields, started))
    }

    /// The selfie's own quality, as Rekognition sees it.
    fn gate(&self, details: &[FaceDetail], fields: &mut BTreeMap<String, String>) -> Option<ReasonCode> {
        let face = match details {
            [] => return Some(ReasonCode::NoFace),
            [one] => one,
            _ => return Some(ReasonCode::MultipleFaces),
        };
        if let Some(q) = face.quality() {
            let (sharpness, brightness) = (q.sharpness().unwrap_or(100.0), q.brightness().unwrap_or(100.0));
            fields.insert("selfie_sharpness".into(), format!("{sharpness:.1}"));
            fields.insert("selfie_brightness".into(), format!("{brightness:.1}"));
            if sharpness < self.config.min_sharpness {
                return Some(ReasonCode::Blurry);
            }
            if brightness < self.config.min_brightness {
                return Some(ReasonCode::TooDark);
            }
        }
        let sure = |confidence: Option<f32>| confidence.unwrap_or(0.0) >= 90.0;
        let eyes_closed = face.eyes_open().is_some_and(|e| !e.value() && sure(e.confidence()));
        let occluded = face.face_occluded().is_some_and(|o| o.value() && sure(o.confidence()));
        (eyes_closed || occluded).then_some(ReasonCode::FaceObscured)
    }

    /// Runs `call` with the selfie as an [`Image`], retrying what may pass later and shrinking an image
    /// Rekognition finds too large. `Ok(Err(reason))`: a retake.
    async fn with_retries<T, F, Fut>(
        &self,
        operation: &str,
        selfie: &[u8],
        call: F,
    ) -> Result<Result<T, ReasonCode>, ProviderError>
    where
        F: Fn(Image) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallError>>,
    {
        let mut attempt = 0;
        let mut bytes = selfie.to_vec();
        let mut shrunk = false;
        loop {
            let image = Image::builder().bytes(Blob::new(bytes.clone())).build();
            match call(image).await {
                Ok(value) => return Ok(Ok(value)),
                Err(CallError::Retake(reason)) => return Ok(Err(reason)),
                Err(CallError::TooLarge) if !shrunk => {
                    shrunk = true;
                    let limit = bytes.len() / 2;
                    bytes = images::fit(&bytes, limit).ok_or_else(|| self.unavailable("image too large"))?;
                }
                Err(CallError::Retryable(detail)) if attempt < self.config.retries => {
                    attempt += 1;
                    tracing::info!(provider = %self.config.name, operation, attempt, %detail, "retrying Rekognition");
                    tokio::time::sleep(self.config.retry_backoff * attempt).await;
                }
                Err(CallError::Retryable(detail) | CallError::Fatal(detail)) => {
                    return Err(self.unavailable(&format!("{operation}: {detail}")));
                }
                Err(CallError::TooLarge) => return Err(self.unavailable(&format!("{operation}: image too large"))),
            }
        }
    }
}

#[async_trait]
impl FaceMatcher for RekognitionProvider {
    async fn match_faces(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.face_match(request).await
    }
}

#[async_trait]
impl DocumentReader for RekognitionProvider {
    async fn read_document(&self, _request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Err(self.unavailable("Rekognition does not read identity documents: route `document` to another provider"))
    }
}

#[async_trait]
impl LivenessChecker for RekognitionProvider {
    async fn check_liveness(&self, _request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Err(self.unavailable("Rekognition Face Liveness needs a video session, which WhatsApp photos cannot give"))
    }
}

#[async_trait]
impl RegistryChecker for RekognitionProvider {
    async fn check_registry(&self, _request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Err(self.unavailable("Rekognition checks no government registry"))
    }
}

impl Provider for RekognitionProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn circuit(&self) -> Option<breaker::BreakerState> {
        Some(self.breaker.state())
    }
}

/// The capabilities Rekognition serves (`flow check` refuses routing others to it).
pub const CAPABILITIES: &[Capability] = &[Capability::FaceMatch];
