//! What production (anything started without `--dev`) insists on: a shared store, a real WhatsApp account and a
//! stable media key. Each missing setting is named with what it is for, all at once.

use super::{Config, StoreConfig};

/// One setting production cannot do without.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSetting {
    pub name: &'static str,
    pub why: &'static str,
}

impl std::fmt::Display for MissingSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.why)
    }
}

impl Config {
    /// The settings a production start lacks (empty: safe to start). `allow_memory_store` lifts the Redis
    /// requirement for a one-process trial.
    pub fn production_gaps(&self, allow_memory_store: bool) -> Vec<MissingSetting> {
        let mut gaps = Vec::new();
        if self.store == StoreConfig::Memory && !allow_memory_store {
            gaps.push(MissingSetting {
                name: "REDIS_URL",
                why: "conversations, dedupe claims and jobs must outlive a restart and be shared by every process \
                      (or pass --allow-memory-store for a one-process trial that loses everything on restart)",
            });
        }
        let token = self.access_token.as_ref().map(|t| t.expose());
        if token.is_none_or(|t| t == crate::sim::SIM_ACCESS_TOKEN) {
            gaps.push(MissingSetting {
                name: "WHATSAPP_ACCESS_TOKEN",
                why: "the Cloud API token that sends replies and downloads photos (a system user token from Meta \
                      Business Settings; the simulator's token is for development only)",
            });
        }
        if self.phone_number_id.is_none() {
            gaps.push(MissingSetting {
                name: "WHATSAPP_PHONE_NUMBER_ID",
                why: "the business phone number replies leave from (WhatsApp Manager > API Setup)",
            });
        }
        if self.media.encryption_key.is_none() {
            gaps.push(MissingSetting {
                name: "MEDIA_ENCRYPTION_KEY",
                why: "the key that encrypts stored ID photos and selfies; without a stable one they are unreadable \
                      after a restart (32 bytes as hex or base64: `openssl rand -hex 32`)",
            });
        }
        gaps
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Env};

    #[test]
    fn each_missing_setting_is_named_and_a_complete_start_has_none() {
        let base = [("WHATSAPP_APP_SECRET", "s"), ("WHATSAPP_VERIFY_TOKEN", "v")];
        let bare = Config::from_env(&Env::from_pairs(base), false).unwrap();
        let names: Vec<_> = bare.production_gaps(false).iter().map(|g| g.name).collect();
        assert_eq!(names, ["REDIS_URL", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "MEDIA_ENCRYPTION_KEY"]);
        assert!(!bare.production_gaps(true).iter().any(|g| g.name == "REDIS_URL"), "--allow-memory-store");
        let complete = [
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("WHATSAPP_ACCESS_TOKEN", "EAAG-real"),
            ("WHATSAPP_PHONE_NUMBER_ID", "1065"),
            ("MEDIA_ENCRYPTION_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
        ];
        let config = Config::from_env(&Env::from_pairs(base.into_iter().chain(complete)), false).unwrap();
        assert_eq!(config.production_gaps(false), []);
    }
}
