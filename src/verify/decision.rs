//! From what the checks found to one verification result. Pure, so every route is a table test.
//!
//! The order matters to the user: a photo problem they can fix comes first (a retake with precise advice), then
//! what a person must look at. A provider that cannot answer is never the user's fault: it goes to a person.
//!
//! `Verified` is only possible when every check the flow requires ([`Policy::required`]) ran and passed: a
//! provider answered `pass` above the threshold, or, for `document` only, the document's own machine-readable
//! zone or barcode was read with valid check digits and consistent fields ([`Findings::document_evidence`]).
//! A required check with no provider configured goes to a person (`review_required`); so does a flow that
//! requires nothing, unless it says `allow_unverified: true`.
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
    /// What was read from the document itself and holds together (a barcode in its known layout, an MRZ with
    /// valid check digits), e.g. `back: qr_code (mx_ine_qr)`. Evidence that the document is what it says, not
    /// that the person holds it.
    pub document_evidence: Vec<String>,
    /// Each provider call, in order.
    pub providers: Vec<(Capability, Result<ProviderAnswer, ProviderError>)>,
    /// Fields read locally and by providers.
    pub fields: BTreeMap<String, String>,
}

/// What the flow demands of a submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The checks that must run and pass for `Verified`.
    pub required: Vec<Capability>,
    /// The flow's explicit `allow_unverified: true`: with nothing required, the photos' quality is enough.
    pub allow_unverified: bool,
    /// A provider's `pass` under this confidence goes to a person.
    pub agent_below_confidence: f32,
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
pub fn decide(findings: &Findings, policy: &Policy) -> Option<VerificationResult> {
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
            // A check the flow did not ask a provider for: the requirements below say whether it matters.
            Err(ProviderError::NotConfigured { .. }) => continue,
            Err(_) => return Some(VerificationResult::Agent { reason: ReasonCode::ProviderUnavailable }),
            Ok(answer) => answer.clone().with_min_confidence(policy.agent_below_confidence),
        };
        match answer.status {
            AnswerStatus::Pass => {
                if answer.is_identity_check() {
                    confidence = confidence.min(answer.confidence);
                }
            }
            AnswerStatus::Retry { reason } => return Some(retake(&slot_for(*capability), reason)),
            AnswerStatus::Fail { reason: ReasonCode::LowConfidence } => {
                return Some(VerificationResult::Agent { reason: ReasonCode::LowConfidence });
            }
            AnswerStatus::Fail { reason } => return Some(VerificationResult::Rejected { reason }),
            AnswerStatus::Pending { .. } => return None,
        }
    }
    // One notion of "satisfied", shared with what the audit log names as unmet.
    if !unmet(findings, policy).is_empty() || (policy.required.is_empty() && !policy.allow_unverified) {
        return Some(VerificationResult::Agent { reason: ReasonCode::ReviewRequired });
    }
    Some(VerificationResult::Verified { confidence, fields: findings.fields.clone() })
}

/// The checks of `policy` that nothing in `findings` satisfied, for the audit log and the agent.
pub fn unmet(findings: &Findings, policy: &Policy) -> Vec<Capability> {
    policy
        .required
        .iter()
        .copied()
        .filter(|c| {
            let by_provider = findings.providers.iter().any(|(p, o)| {
                p == c
                    && o.as_ref().is_ok_and(|a| {
                        a.clone().with_min_confidence(policy.agent_below_confidence).status == AnswerStatus::Pass
                            && a.is_identity_check()
                    })
            });
            !(by_provider || (*c == Capability::Document && !findings.document_evidence.is_empty()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::providers::local;

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

    fn pass(capability: Capability, confidence: f32) -> (Capability, Result<ProviderAnswer, ProviderError>) {
        (capability, answer(AnswerStatus::Pass, confidence))
    }

    fn not_configured(capability: Capability) -> (Capability, Result<ProviderAnswer, ProviderError>) {
        (capability, Err(ProviderError::NotConfigured { capability, country: "MX".into() }))
    }

    fn policy(required: &[Capability]) -> Policy {
        Policy { required: required.to_vec(), allow_unverified: false, agent_below_confidence: 0.6 }
    }

    const DOC_AND_FACE: &[Capability] = &[Capability::Document, Capability::FaceMatch];

    #[test]
    fn empty_findings_are_never_verified() {
        let review = Some(VerificationResult::Agent { reason: ReasonCode::ReviewRequired });
        assert_eq!(decide(&Findings::default(), &policy(&[])), review, "nothing required, nothing checked");
        assert_eq!(decide(&Findings::default(), &policy(DOC_AND_FACE)), review, "required, nothing checked");
        for capability in Capability::ALL {
            assert_eq!(decide(&Findings::default(), &policy(&[*capability])), review, "{capability}");
        }
        // Only the flow's explicit `allow_unverified: true` lets photos that merely look fine through.
        let demo = Policy { allow_unverified: true, ..policy(&[]) };
        assert_eq!(
            decide(&Findings::default(), &demo),
            Some(VerificationResult::Verified { confidence: 1.0, fields: BTreeMap::new() })
        );
    }

    #[test]
    fn each_required_but_missing_capability_goes_to_review() {
        let review = Some(VerificationResult::Agent { reason: ReasonCode::ReviewRequired });
        let local_pass = || {
            let mut a = answer(AnswerStatus::Pass, 1.0).unwrap();
            a.fields.insert("note".into(), local::NOTE.into());
            Ok(a)
        };
        let cases: Vec<(&str, &[Capability], Findings)> = vec![
            (
                "face match has no provider",
                DOC_AND_FACE,
                Findings {
                    providers: vec![pass(Capability::Document, 0.9), not_configured(Capability::FaceMatch)],
                    ..Default::default()
                },
            ),
            (
                "document read, face never compared",
                DOC_AND_FACE,
                Findings { document_evidence: vec!["back: mrz".into()], ..Default::default() },
            ),
            (
                "local evidence is no face match",
                &[Capability::FaceMatch],
                Findings { document_evidence: vec!["back: mrz".into()], ..Default::default() },
            ),
            (
                "the local provider checks nothing",
                &[Capability::FaceMatch],
                Findings { providers: vec![(Capability::FaceMatch, local_pass())], ..Default::default() },
            ),
            (
                "liveness required, not asked",
                &[Capability::FaceMatch, Capability::Liveness],
                Findings { providers: vec![pass(Capability::FaceMatch, 0.9)], ..Default::default() },
            ),
            (
                "registry required, no provider for the country",
                &[Capability::Registry],
                Findings { providers: vec![not_configured(Capability::Registry)], ..Default::default() },
            ),
            (
                "a pass for another capability does not count",
                &[Capability::Registry],
                Findings { providers: vec![pass(Capability::Document, 0.99)], ..Default::default() },
            ),
        ];
        for (what, required, findings) in cases {
            assert_eq!(decide(&findings, &policy(required)), review, "{what}");
            assert!(!unmet(&findings, &policy(required)).is_empty(), "{what}: names what is missing");
        }
    }

    #[test]
    fn each_finding_routes_where_a_user_would_expect() {
        use ReasonCode::*;
        let down = Err(ProviderError::CircuitOpen { provider: "acme".into() });
        let verified = |confidence| Some(VerificationResult::Verified { confidence, fields: BTreeMap::new() });
        let cases: Vec<(&str, &[Capability], Findings, Option<VerificationResult>)> = vec![
            (
                "every required check passed",
                DOC_AND_FACE,
                Findings {
                    providers: vec![pass(Capability::Document, 0.95), pass(Capability::FaceMatch, 0.81)],
                    ..Default::default()
                },
                verified(0.81),
            ),
            (
                "document by its own MRZ, face by a provider",
                DOC_AND_FACE,
                Findings {
                    document_evidence: vec!["back: mrz td1".into()],
                    providers: vec![pass(Capability::FaceMatch, 0.9)],
                    ..Default::default()
                },
                verified(0.9),
            ),
            (
                "a blurry front comes first",
                DOC_AND_FACE,
                Findings {
                    quality: vec![(Slot::Front, Blurry)],
                    document: vec![(Slot::Front, Underage)],
                    ..Default::default()
                },
                Some(VerificationResult::Retake { slot: "front".into(), reason: Blurry }),
            ),
            (
                "wrong document type: retake",
                DOC_AND_FACE,
                Findings { document: vec![(Slot::Back, WrongDocumentType)], ..Default::default() },
                Some(VerificationResult::Retake { slot: "back".into(), reason: WrongDocumentType }),
            ),
            (
                "underage: rejected (reviewed by a person)",
                DOC_AND_FACE,
                Findings { document: vec![(Slot::Front, Underage)], ..Default::default() },
                Some(VerificationResult::Rejected { reason: Underage }),
            ),
            (
                "expired: a person",
                DOC_AND_FACE,
                Findings { document: vec![(Slot::Front, DocumentExpired)], ..Default::default() },
                Some(VerificationResult::Agent { reason: DocumentExpired }),
            ),
            (
                "provider down: a person, never a dead end",
                &[Capability::Registry],
                Findings { providers: vec![(Capability::Registry, down)], ..Default::default() },
                Some(VerificationResult::Agent { reason: ProviderUnavailable }),
            ),
            (
                "liveness asks for a new selfie",
                &[Capability::Liveness],
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
                "no face on the selfie: retake before review",
                DOC_AND_FACE,
                Findings {
                    providers: vec![
                        not_configured(Capability::Document),
                        (Capability::FaceMatch, answer(AnswerStatus::Retry { reason: NoFace }, 0.0)),
                    ],
                    ..Default::default()
                },
                Some(VerificationResult::Retake { slot: "selfie".into(), reason: NoFace }),
            ),
            (
                "registry hit: rejected",
                &[Capability::Registry],
                Findings {
                    providers: vec![(Capability::Registry, answer(AnswerStatus::Fail { reason: RegistryHit }, 0.99))],
                    ..Default::default()
                },
                Some(VerificationResult::Rejected { reason: RegistryHit }),
            ),
            (
                "face mismatch: rejected",
                &[Capability::FaceMatch],
                Findings {
                    providers: vec![(Capability::FaceMatch, answer(AnswerStatus::Fail { reason: FaceMismatch }, 0.9))],
                    ..Default::default()
                },
                Some(VerificationResult::Rejected { reason: FaceMismatch }),
            ),
            (
                "low similarity: a person with low_confidence",
                &[Capability::FaceMatch],
                Findings { providers: vec![pass(Capability::FaceMatch, 0.4)], ..Default::default() },
                Some(VerificationResult::Agent { reason: LowConfidence }),
            ),
            (
                "pending: no result yet",
                &[Capability::Registry],
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
                "an optional check with no provider does not block",
                &[Capability::FaceMatch],
                Findings {
                    providers: vec![not_configured(Capability::Registry), pass(Capability::FaceMatch, 0.7)],
                    ..Default::default()
                },
                verified(0.7),
            ),
        ];
        for (what, required, findings, expected) in cases {
            assert_eq!(decide(&findings, &policy(required)), expected, "{what}");
        }
    }
}
