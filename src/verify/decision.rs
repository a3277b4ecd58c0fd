//! From what the checks found to one verification result. Pure, so every route is a table test.
//!
//! The order matters to the user: a photo problem they can fix comes first (a retake with precise advice), then
//! what a person must look at. A provider that cannot answer is never the user's fault: it goes to an agent.
//!
//! Slots are [`Slot`]s here; a retake names its slot as the flow engine's string.

use std::collections::BTreeMap;

use crate::flow::event::VerificationResult;
use crate::verify::providers::{AnswerStatus, Capability, ProviderAnswer, ProviderError};
use crate::verify::reason::ReasonCode;
use crate::verify::slot::Slot;

/// What was found, slot by slot and check by check.
#[derive(Debug, Default, Clone)]
pub struct Findings {
    /// Local photo quality: the reasons of each slot that needs a retake, in slot order.
    pub quality: Vec<(Slot, ReasonCode)>,
    /// Reading the document locally (barcodes, MRZ, cross-checks): the slot and the reason.
    pub document: Vec<(Slot, ReasonCode)>,
    /// Each provider call, in order.
    pub providers: Vec<(Capability, Result<ProviderAnswer, ProviderError>)>,
    /// Fields read locally and by providers.
    pub fields: BTreeMap<String, String>,
}

/// The slot a provider's retry refers to: the selfie for face checks, the front for the document.
pub fn slot_for(capability: Capability) -> Slot {
    match capability {
        Capability::Liveness | Capability::FaceMatch => Slot::Selfie,
        Capability::Document | Capability::Registry => Slot::Front,
    }
}

/// A retake of `slot`, in the flow engine's terms.
pub fn retake(slot: &Slot, reason: ReasonCode) -> VerificationResult {
    VerificationResult::Retake { slot: slot.as_str().to_owned(), reason }
}

/// `None` while a provider's answer is pending (it will call back; the flow's timeout covers silence).
pub fn decide(findings: &Findings, agent_below_confidence: f32) -> Option<VerificationResult> {
    if let Some((slot, reason)) = findings.quality.first() {
        return Some(retake(slot, *reason));
    }
    if let Some((slot, reason)) = findings.document.first() {
        return Some(match reason {
            ReasonCode::Underage => VerificationResult::Rejected { reason: *reason },
            ReasonCode::DocumentExpired => VerificationResult::Agent { reason: *reason },
            r if r.is_retakeable() => retake(slot, *r),
            r => VerificationResult::Agent { reason: *r },
        });
    }
    let mut confidence: f32 = 1.0;
    for (capability, outcome) in &findings.providers {
        let answer = match outcome {
            Err(_) => return Some(VerificationResult::Agent { reason: ReasonCode::ProviderUnavailable }),
            Ok(answer) => answer.clone().with_min_confidence(agent_below_confidence),
        };
        match answer.status {
            AnswerStatus::Pass => confidence = confidence.min(answer.confidence),
            AnswerStatus::Retry { reason } => {
                return Some(retake(&slot_for(*capability), reason));
            }
            AnswerStatus::Fail { reason: ReasonCode::LowConfidence } => {
                return Some(VerificationResult::Agent { reason: ReasonCode::LowConfidence });
            }
            AnswerStatus::Fail { reason } => return Some(VerificationResult::Rejected { reason }),
            AnswerStatus::Pending { .. } => return None,
        }
    }
    Some(VerificationResult::Verified { confidence, fields: findings.fields.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: AnswerStatus, confidence: f32) -> Result<ProviderAnswer, ProviderError> {
        Ok(ProviderAnswer {
            status,
            confidence,
            fields: BTreeMap::new(),
            provider: "acme".into(),
            reference: None,
            elapsed_ms: 12,
        })
    }

    #[test]
    fn each_finding_routes_where_a_user_would_expect() {
        use ReasonCode::*;
        let down = Err(ProviderError::CircuitOpen { provider: "acme".into() });
        let cases: Vec<(&str, Findings, Option<VerificationResult>)> = vec![
            (
                "all good",
                Findings::default(),
                Some(VerificationResult::Verified { confidence: 1.0, fields: BTreeMap::new() }),
            ),
            (
                "a blurry front comes first",
                Findings {
                    quality: vec![(Slot::Front, Blurry)],
                    document: vec![(Slot::Front, Underage)],
                    ..Default::default()
                },
                Some(VerificationResult::Retake { slot: "front".into(), reason: Blurry }),
            ),
            (
                "wrong document type: retake",
                Findings { document: vec![(Slot::Back, WrongDocumentType)], ..Default::default() },
                Some(VerificationResult::Retake { slot: "back".into(), reason: WrongDocumentType }),
            ),
            (
                "underage: review",
                Findings { document: vec![(Slot::Front, Underage)], ..Default::default() },
                Some(VerificationResult::Rejected { reason: Underage }),
            ),
            (
                "expired: an agent",
                Findings { document: vec![(Slot::Front, DocumentExpired)], ..Default::default() },
                Some(VerificationResult::Agent { reason: DocumentExpired }),
            ),
            (
                "provider down: an agent, never a dead end",
                Findings { providers: vec![(Capability::Registry, down)], ..Default::default() },
                Some(VerificationResult::Agent { reason: ProviderUnavailable }),
            ),
            (
                "liveness asks for a new selfie",
                Findings {
                    providers: vec![(
                        Capability::Liveness,
                        answer(AnswerStatus::Retry { reason: LivenessFailed }, 0.9),
                    )],
                    ..Default::default()
                },
                Some(VerificationResult::Retake { slot: "selfie".into(), reason: LivenessFailed }),
            ),
            (
                "registry hit: review",
                Findings {
                    providers: vec![(Capability::Registry, answer(AnswerStatus::Fail { reason: RegistryHit }, 0.99))],
                    ..Default::default()
                },
                Some(VerificationResult::Rejected { reason: RegistryHit }),
            ),
            (
                "low confidence: an agent",
                Findings {
                    providers: vec![(Capability::FaceMatch, answer(AnswerStatus::Pass, 0.4))],
                    ..Default::default()
                },
                Some(VerificationResult::Agent { reason: LowConfidence }),
            ),
            (
                "pending: no result yet",
                Findings {
                    providers: vec![(
                        Capability::Registry,
                        answer(AnswerStatus::Pending { reference: "r1".into() }, 0.0),
                    )],
                    ..Default::default()
                },
                None,
            ),
            (
                "confidence is the lowest pass",
                Findings {
                    providers: vec![
                        (Capability::Document, answer(AnswerStatus::Pass, 0.95)),
                        (Capability::FaceMatch, answer(AnswerStatus::Pass, 0.81)),
                    ],
                    ..Default::default()
                },
                Some(VerificationResult::Verified { confidence: 0.81, fields: BTreeMap::new() }),
            ),
        ];
        for (what, findings, expected) in cases {
            assert_eq!(decide(&findings, 0.6), expected, "{what}");
        }
    }
}
