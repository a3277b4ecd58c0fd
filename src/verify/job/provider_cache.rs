//! The providers of each flow version, built once and kept: their HTTP clients and circuit breakers must outlive
//! a single job, or a provider that is down would be called afresh for every submission. They sign with the
//! clock of the job that first needs them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::SharedClock;
use crate::config::Env;
use crate::flow::model::Verification;
use crate::verify::providers::config::{Providers, ProvidersConfig};

/// A flow's providers (`None` when it names none), or why they could not be built.
pub type Built = Result<Option<Arc<Providers>>, String>;

/// Providers built per flow version.
#[derive(Default)]
pub struct ProviderCache {
    built: Mutex<HashMap<String, Built>>,
}

impl ProviderCache {
    /// The flow's providers; `None` when the flow names none (its required checks then go to a person). Built on
    /// first use
    /// per flow version and kept; the http providers stamp their signatures with `clock`.
    pub fn get(&self, flow_id: &str, version: &str, settings: &Verification, clock: &SharedClock) -> Built {
        let key = format!("{flow_id}@{version}");
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        built.entry(key).or_insert_with(|| build_providers(settings, clock)).clone()
    }
}

fn build_providers(settings: &Verification, clock: &SharedClock) -> Built {
    if settings.providers.is_null() {
        return Ok(None);
    }
    let config: ProvidersConfig = serde_json::from_value(settings.providers.clone()).map_err(|e| e.to_string())?;
    config.build(&Env::from_process(), clock.clone()).map(|p| Some(Arc::new(p))).map_err(|problems| {
        let text = problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        tracing::error!(%text, "the flow's providers cannot be built: submissions go to a live agent");
        text
    })
}
