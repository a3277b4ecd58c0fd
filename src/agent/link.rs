//! Signed, expiring links to a live agent: `AGENT_LINK_BASE_URL?t=<conversation>.<expiry>.<hmac>`.
//! The agent system checks the token with the shared secret (see docs/agents.md), so a link cannot be forged or
//! reused after it expires.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::config::Secret;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("the token is not `<conversation>.<expiry>.<signature>`")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the link expired")]
    Expired,
}

#[derive(Debug, Clone)]
pub struct LinkSigner {
    base_url: String,
    secret: Secret,
    ttl_secs: u64,
}

fn mac(secret: &Secret, payload: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(payload.as_bytes());
    mac
}

impl LinkSigner {
    pub fn new(base_url: impl Into<String>, secret: Secret, ttl_secs: u64) -> Self {
        Self { base_url: base_url.into(), secret, ttl_secs }
    }

    pub fn token(&self, conversation_id: &str, now: u64) -> String {
        let payload = format!("{conversation_id}.{}", now + self.ttl_secs);
        let signature = hex::encode(mac(&self.secret, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    pub fn link(&self, conversation_id: &str, now: u64) -> String {
        let separator = if self.base_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}t={}", self.base_url, self.token(conversation_id, now))
    }

    /// The conversation id of a token signed by us, expired or not (an agent may decide after the link expired).
    pub fn conversation_of(&self, token: &str) -> Result<String, LinkError> {
        self.verify(token, 0)
    }

    /// The conversation id of a valid, unexpired token.
    pub fn verify(&self, token: &str, now: u64) -> Result<String, LinkError> {
        let mut parts = token.rsplitn(3, '.');
        let (Some(signature), Some(expiry), Some(conversation)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(LinkError::Malformed);
        };
        let expiry: u64 = expiry.parse().map_err(|_| LinkError::Malformed)?;
        let signature = hex::decode(signature).map_err(|_| LinkError::Malformed)?;
        mac(&self.secret, &format!("{conversation}.{expiry}"))
            .verify_slice(&signature)
            .map_err(|_| LinkError::BadSignature)?;
        if now >= expiry {
            return Err(LinkError::Expired);
        }
        Ok(conversation.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_cannot_be_forged() {
        let signer = LinkSigner::new("https://agents.example.com/handoff", Secret::new("s3cret"), 3600);
        let link = signer.link("c-abc123", 1_000);
        let token = link.split("t=").nth(1).unwrap();
        assert!(link.starts_with("https://agents.example.com/handoff?t=c-abc123.4600."));
        assert_eq!(signer.verify(token, 1_001), Ok("c-abc123".into()));
        assert_eq!(signer.verify(token, 4_600), Err(LinkError::Expired));
        let forged = token.replace("c-abc123", "c-other");
        assert_eq!(signer.verify(&forged, 1_001), Err(LinkError::BadSignature));
        let other = LinkSigner::new("https://x", Secret::new("other"), 3600);
        assert_eq!(other.verify(token, 1_001), Err(LinkError::BadSignature));
        assert_eq!(signer.verify("nonsense", 1), Err(LinkError::Malformed));
    }
}
