//! What a process uses to talk to Meta: the Cloud API client (real, or the built-in simulator when no access
//! token is configured), the sender's idempotency log and rate limiter, the delivery log and the media vault,
//! each on Redis or in memory like the rest of the backend.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::backend::Backend;
use crate::config::Config;
use crate::media::vault::{MediaCipher, MediaVault, MemoryVault, RedisVault};
use crate::sim::{self, InAppSim};
use crate::whatsapp::client::{CloudApi, CloudApiSettings};
use crate::whatsapp::delivery::{DEFAULT_DELIVERY_TTL, DeliveryLog, MemoryDeliveryLog, RedisDeliveryLog};
use crate::whatsapp::limiter::{LimiterSettings, MemoryLimiter, RateLimiter, RedisLimiter};
use crate::whatsapp::media::MediaLimits;
use crate::whatsapp::sender::{DEFAULT_SENT_LOG_TTL, MemorySentLog, RedisSentLog, SenderDeps, SentLog};

type Parts = (Arc<dyn SentLog>, Arc<dyn RateLimiter>, Arc<dyn DeliveryLog>, Arc<dyn MediaVault>);

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
            }
            None => CloudApiSettings::from_config(config)?,
        };
        let api = CloudApi::new(settings)?;
        let cipher = MediaCipher::from_config(&config.media);
        let limiter_settings = LimiterSettings::from_config(&config.send_rate);
        let (sent_log, limiter, delivery, vault): Parts = match &backend.redis {
            Some((conn, prefix)) => (
                Arc::new(RedisSentLog::new(conn.clone(), prefix, DEFAULT_SENT_LOG_TTL)),
                Arc::new(RedisLimiter::new(conn.clone(), prefix, limiter_settings)),
                Arc::new(RedisDeliveryLog::new(conn.clone(), prefix, DEFAULT_DELIVERY_TTL)),
                Arc::new(RedisVault::new(conn.clone(), prefix, cipher, config.media.retention)),
            ),
            None => (
                Arc::new(MemorySentLog::new(DEFAULT_SENT_LOG_TTL)),
                Arc::new(MemoryLimiter::new(limiter_settings)),
                Arc::new(MemoryDeliveryLog::new(DEFAULT_DELIVERY_TTL)),
                Arc::new(MemoryVault::new(cipher, config.media.retention)),
            ),
        };
        let sender = SenderDeps::new(api.clone(), sent_log).with_limiter(limiter);
        Ok(Self { api, sender, delivery, vault, media_limits: MediaLimits::from_config(&config.media), sim })
    }
}
