//! Signing in and out, and who is signed in: sessions on the backend (any server process serves any agent), a new
//! random id at each sign-in, idle expiry, and the lockout after repeated failures (per account and per address).

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::password;
use crate::clock::SharedClock;
use crate::config::ConsoleConfig;
use crate::store::StoreError;
use crate::store::agents::{AgentAccount, AgentStore, SessionRecord};

/// The session cookie (scoped to `/console`).
pub const COOKIE: &str = "wao_console";

/// A signed-in agent, put in the request by [`super::auth::require_agent`].
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub account: AgentAccount,
    pub session: SessionRecord,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong email, wrong password or a disabled account: one answer for all three.
    #[error("the email or the password is not right")]
    Wrong,
    #[error("too many failed sign-ins: try again in {minutes} minutes")]
    Locked { minutes: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Sessions {
    pub agents: Arc<dyn AgentStore>,
    pub config: ConsoleConfig,
    pub clock: SharedClock,
}

fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

use crate::signing::random_hex;

/// An account's email as it is stored: trimmed, lower-case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Sessions {
    fn lock_keys(email: &str, addr: Option<IpAddr>) -> (String, Option<String>) {
        (format!("account:{email}"), addr.map(|a| format!("address:{a}")))
    }

    /// Checks the password (argon2id, off the async threads) and starts a new session; answers the cookie's
    /// session id (shown to the browser only) and the session.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        addr: Option<IpAddr>,
    ) -> Result<(String, SessionRecord), SignInError> {
        let email = normalize_email(email);
        let (account_key, address_key) = Self::lock_keys(&email, addr);
        let minutes = self.config.lockout.as_secs().div_ceil(60);
        if self.agents.failures(&account_key).await? >= self.config.max_failures {
            return Err(SignInError::Locked { minutes });
        }
        if let Some(key) = &address_key
            && self.agents.failures(key).await? >= self.config.max_failures * 4
        {
            return Err(SignInError::Locked { minutes });
        }
        let account = self.agents.get(&email).await?;
        let stored = account.as_ref().map_or_else(|| password::decoy().to_owned(), |a| a.password_hash.clone());
        let presented = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password::verify(&presented, &stored)).await.unwrap_or(false);
        let account = match account {
            Some(account) if matches && !account.disabled => account,
            _ => {
                let window = self.config.lockout.as_secs();
                self.agents.add_failure(&account_key, window).await?;
                if let Some(key) = &address_key {
                    self.agents.add_failure(key, window).await?;
                }
                return Err(SignInError::Wrong);
            }
        };
        self.agents.clear_failures(&account_key).await?;
        let id = random_hex(32);
        let now = self.clock.now_secs();
        let session = SessionRecord {
            id_hash: id_hash(&id),
            email: account.email,
            csrf: random_hex(16),
            created_at: now,
            last_seen_at: now,
        };
        self.agents.put_session(&session, self.config.session_idle.as_secs()).await?;
        Ok((id, session))
    }

    /// Who the cookie's session id belongs to, if the session is alive and the account enabled; each use keeps it
    /// alive for the idle period again.
    pub async fn current(&self, id: &str) -> Result<Option<SignedIn>, StoreError> {
        let Some(mut session) = self.agents.session(&id_hash(id)).await? else {
            return Ok(None);
        };
        let Some(account) = self.agents.get(&session.email).await?.filter(|a| !a.disabled) else {
            self.agents.end_session(&session.id_hash).await?;
            return Ok(None);
        };
        let now = self.clock.now_secs();
        // Written again at most once a minute: polling pages do not write on every request.
        if now >= session.last_seen_at + 60 {
            session.last_seen_at = now;
            self.agents.put_session(&session, self.config.session_idle.as_secs()).await?;
        }
        Ok(Some(SignedIn { account, session }))
    }

    pub async fn sign_out(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.agents.end_session(&session.id_hash).await
    }

    /// The `Set-Cookie` value that starts a session: a browser-session cookie (the server ends it when idle).
    pub fn cookie(&self, id: &str) -> String {
        let secure = if self.config.secure_cookies { "; Secure" } else { "" };
        format!("{COOKIE}={id}; Path=/console; HttpOnly; SameSite=Strict{secure}")
    }

    /// The `Set-Cookie` value that ends it in the browser.
    pub fn cleared_cookie(&self) -> String {
        let secure = if self.config.secure_cookies { "; Secure" } else { "" };
        format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
    }
}
