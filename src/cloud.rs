//! What a process uses to talk to Meta: the Cloud API client (real, or the built-in simulator when no access
//! token is configured), the sender with its idempotency log and rate limiter, the delivery log and the media
//! vault, each taken from the backend.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::sim::{self, InAppSim};
use crate::store::Backend;
use crate::store::delivery::{DEFAULT_DELIVERY_TTL, DeliveryLog};
use crate::store::rate_limit::LimiterSettings;
use crate::store::vault::{MediaCipher, MediaVault};
use crate::whatsapp::client::{CloudApi, CloudApiSettings};
use crate::whatsapp::media::MediaLimits;
use crate::whatsapp::sender::{DEFAULT_SENT_LOG_TTL, SENT_LOG_NAMESPACE, SenderDeps, SentLog};

pub struct Cloud {
    pub api: CloudApi,
    pub sender: SenderDeps,
    pub delivery: Arc<dyn DeliveryLog>,
    pub vault: Arc<dyn MediaVault>,
    pub media_limits: MediaLimits,
    /// The simulator mounted in the app, when there is no access token.
    pub sim: Option<InAppSim>,
}

impl Cloud {
    /// `addr` is where the app listens (the in-app simulator is reached through it).
    pub fn new(config: &Config, backend: &Backend, addr: SocketAddr) -> anyhow::Result<Self> {
        let sim = sim::in_app(config);
        let settings = match &sim {
            Some(sim) => {
                let base = format!("http://{addr}{}", sim::MOUNT_PATH);
                sim.state.set_public_base(&base);
                CloudApiSettings::new(&base, &config.graph_api_version, &sim.phone_number_id, sim.access_token.clone())
                    .with_number_tokens(config)
            }
            None => CloudApiSettings::from_config(config)?,
        };
        let api = CloudApi::new(settings)?;
        let sent_log = SentLog::new(backend.values(SENT_LOG_NAMESPACE), DEFAULT_SENT_LOG_TTL);
        let limiter = backend.rate_limiter(LimiterSettings::from_config(&config.send_rate));
        let sender = SenderDeps::new(api.clone(), sent_log).with_limiter(limiter);
        Ok(Self {
            api,
            sender,
            delivery: backend.delivery_log(DEFAULT_DELIVERY_TTL),
            vault: backend.vault(MediaCipher::from_config(&config.media), config.media.retention),
            media_limits: MediaLimits::from_config(&config.media),
            sim,
        })
    }
}
