//! The `verification:` section: retake texts, routes, documents, thresholds, providers, and what verification
//! requires (a flow must not be able to tell anyone "verified" with nothing checked).

use std::collections::BTreeSet;

use super::{Checker, Problem, TEXT_BODY};
use crate::flow::model::Action;
use crate::verify::providers::Capability;
use crate::verify::providers::config::ProviderKind;
use crate::verify::reason::ReasonCode;

impl Checker<'_> {
    pub(super) fn verification(&mut self) {
        let v = &self.flow.verification;
        let has_verify = self.flow.steps.values().any(|s| s.value.action == Some(Action::Verify));
        if !has_verify {
            return;
        }
        for code in ReasonCode::ALL.iter().filter(|c| c.is_retakeable()) {
            match v.retake.get(code) {
                None => self.err(
                    0,
                    format!("verification.retake: no text for reason `{code}`"),
                    "every retakeable reason needs a retake text with concrete advice",
                ),
                Some(text) => self.localized(0, &format!("verification.retake.{code}"), text, TEXT_BODY),
            }
        }
        if v.routes.agent.is_none() {
            self.err(0, "verification.routes.agent is not set".into(), "say which step hands off to a live agent");
        }
        if v.routes.rejected.is_none() {
            self.err(0, "verification.routes.rejected is not set".into(), "say where a rejected submission goes");
        }
        let slots: BTreeSet<&str> = self.flow.steps.values().filter_map(|s| s.value.slot.as_deref()).collect();
        for (doc, settings) in &v.documents {
            for side in &settings.sides {
                if !slots.contains(side.as_str()) {
                    self.err(
                        0,
                        format!("verification.documents.{doc}: side `{side}` is not collected by any step"),
                        "add a step with that `slot`",
                    );
                }
            }
        }
        if !(0.0..=1.0).contains(&v.agent_below_confidence) {
            self.err(0, "verification.agent_below_confidence must be between 0 and 1".into(), "");
        }
        if !v.quality.is_null()
            && let Err(e) = serde_json::from_value::<crate::verify::quality::Thresholds>(v.quality.clone())
        {
            self.err(0, format!("verification.quality: {e}"), "see the thresholds in docs/verification.md");
        }
        if !v.providers.is_null() {
            match serde_json::from_value::<crate::verify::providers::config::ProvidersConfig>(v.providers.clone()) {
                Err(e) => self.err(0, format!("verification.providers: {e}"), "see docs/providers.md"),
                Ok(config) => {
                    for problem in config.validate() {
                        self.err(0, format!("verification.providers: {problem}"), "see docs/providers.md");
                    }
                }
            }
        }
        if v.max_attempts == 0 {
            self.err(0, "verification.max_attempts must be at least 1".into(), "");
        }
        self.requirements();
    }

    /// A flow must say what an identity check is before it can tell anyone they are verified.
    fn requirements(&mut self) {
        let v = &self.flow.verification;
        let Some(target) = &v.routes.verified else { return };
        let line = self.flow.steps.get(target).map_or(0, |s| s.referenced.line());
        // The documents that require nothing (the flow-level list covers those without their own).
        let mut bare: Vec<String> =
            v.documents.iter().filter(|(d, _)| v.required_for(Some(d)).is_empty()).map(|(d, _)| d.clone()).collect();
        if v.documents.is_empty() && v.require.is_empty() {
            bare.push("every submission".into());
        }
        if bare.is_empty() {
            return self.unserved_requirements(line);
        }
        if v.allow_unverified {
            self.problems.push(Problem::warning(
                self.path,
                line,
                format!(
                    "step `{target}` tells users they are verified although nothing is checked ({}): `allow_unverified: true`",
                    bare.join(", ")
                ),
                "for demos only: every conversation on this flow logs a warning",
            ));
            return;
        }
        self.err(
            line,
            format!(
                "step `{target}` can tell users they are verified while `verification.require` is empty for {}: no identity would be checked",
                bare.join(", ")
            ),
            "add `require: [document, face_match]` under `verification:` (or per document), and route those checks to providers in `verification.providers`; without a provider the submission goes to a person. For a demo only, set `allow_unverified: true`",
        );
    }

    /// Required checks no provider serves: every such submission goes to a person. Allowed (manual review is the
    /// honest default), but worth saying.
    fn unserved_requirements(&mut self, line: u64) {
        let v = &self.flow.verification;
        let config: crate::verify::providers::config::ProvidersConfig =
            serde_json::from_value(v.providers.clone()).unwrap_or_default();
        let mut required: BTreeSet<_> = v.require.iter().copied().collect();
        for d in v.documents.values() {
            required.extend(d.require.iter().flatten().copied());
        }
        let unserved: Vec<&str> = required
            .iter()
            // A document can also prove itself (its barcode or MRZ); a face only through a provider.
            // A route to the `local` provider serves nothing: it checks no identity.
            .filter(|c| {
                let real = |r: &&crate::verify::providers::config::RouteSpec| {
                    config.providers.get(&r.provider).is_some_and(|p| p.kind != ProviderKind::Local)
                };
                **c != Capability::Document && !config.routes.iter().filter(real).any(|r| r.capability == **c)
            })
            .map(|c| c.as_str())
            .collect();
        if !unserved.is_empty() {
            self.problems.push(Problem::warning(
                self.path,
                line,
                format!(
                    "no provider that checks identity is routed for {}: every submission goes to a person",
                    unserved.join(", ")
                ),
                "route them in `verification.providers` (docs/providers.md) for automatic verification",
            ));
        }
    }
}
