//! What goes to providers and what comes back into the findings: one-time photo links for providers that fetch
//! photos, a provider's fields (and an MRZ it read, checked like a local one), and how they are shown to agents.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{Verifier, VerifyError, checks};
use crate::flow::state::MediaRef;
use crate::jobs::verify::VerifyJob;
use crate::verify::decision::Findings;
use crate::verify::document::DocumentType;
use crate::verify::providers::{Capability, ImageContent, ProviderAnswer, ProviderImage};
use crate::verify::reason::ReasonCode;
use crate::verify::slot::Slot;

/// The names of what a provider read, for the audit trail (`, read: surname, similarity`).
pub(super) fn shown_fields(fields: &BTreeMap<String, String>) -> String {
    let shown: Vec<String> =
        fields.iter().filter(|(k, _)| !matches!(k.as_str(), "note" | "covers")).map(|(k, _)| k.clone()).collect();
    // The names of the fields read, never their values: the audit trail holds no document number.
    if shown.is_empty() { String::new() } else { format!(", read: {}", shown.join(", ")) }
}

impl Verifier {
    /// The photos as one-time links for `provider` (it fetches them within [`LINK_TTL_SECS`]).
    ///
    /// [`LINK_TTL_SECS`]: crate::verify::providers::media_link::LINK_TTL_SECS
    pub(super) async fn as_links(
        &self,
        job: &VerifyJob,
        provider: &str,
        images: &[ProviderImage],
        photos: &[(Slot, MediaRef, Bytes)],
    ) -> Result<Vec<ProviderImage>, VerifyError> {
        use crate::verify::providers::media_link::{MediaLink, issue};
        let mut linked = Vec::new();
        for image in images {
            let Some((slot, media, _)) = photos.iter().find(|(slot, _, _)| slot.image_role() == image.role) else {
                continue;
            };
            let link = MediaLink {
                user: job.user.clone(),
                conversation_id: job.conversation_id.clone(),
                name: format!("{slot}-{}", media.media_id),
                provider: provider.to_owned(),
            };
            let url = issue(self.conversations.as_ref(), &self.public_base, &link).await.map_err(VerifyError::Store)?;
            linked.push(ProviderImage {
                role: image.role,
                content: ImageContent::Url { mime: media.mime_type.clone(), url },
            });
        }
        Ok(linked)
    }

    /// A provider's fields join the findings (they reach the decision, the case and the company); an MRZ text it
    /// read is parsed and checked like a local one.
    pub(super) fn take_fields(
        &self,
        findings: &mut Findings,
        capability: Capability,
        answer: &ProviderAnswer,
        doc: Option<DocumentType>,
        audit: &mut Vec<String>,
    ) {
        findings.fields.extend(answer.fields.iter().filter(|(k, _)| *k != "note").map(|(k, v)| (k.clone(), v.clone())));
        if capability != Capability::Document {
            return;
        }
        if let Some(mrz) = checks::provider_mrz(&answer.provider, &answer.fields) {
            audit.push(format!("provider MRZ: evidence {:?}, reason {:?}", mrz.evidence, mrz.reason));
            findings.document_evidence.extend(mrz.evidence.clone());
            if let Some(reason) = mrz.reason {
                findings.document.push((Slot::Front, reason));
            }
            if let Some(doc) = doc
                && mrz.contradicts(&findings.fields, doc)
            {
                audit.push("provider MRZ: its document number disagrees with the barcode's".to_owned());
                findings.document.push((Slot::Front, ReasonCode::DataMismatch));
            }
            for (k, v) in mrz.fields {
                findings.fields.entry(format!("mrz_{k}")).or_insert(v);
            }
        }
    }
}
