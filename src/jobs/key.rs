//! Idempotency keys, built in one place: a job's key is claimed in the same atomic step that queues it, so two
//! producers of the same fact (a redelivered webhook, a retried effect, a provider calling back twice) queue it
//! once. Each constructor names the fact the key stands for; nothing else builds a key with `format!`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The idempotency key of a job (and of what it causes: the event key of a conversation event).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobKey(String);

impl JobKey {
    /// A user's message: unique per (business number, wamid).
    pub fn message(phone_number_id: &str, wamid: &str) -> Self {
        Self(format!("msg:{phone_number_id}:{wamid}"))
    }

    /// A delivery status of one of our messages: once per (business number, wamid, status).
    pub fn status(phone_number_id: &str, wamid: &str, status: &str) -> Self {
        Self(format!("status:{phone_number_id}:{wamid}:{status}"))
    }

    /// The job made of effect `index` of the event `event` (a verification, a scheduled event, a notification,
    /// a read receipt).
    pub fn effect(event: &JobKey, index: usize) -> Self {
        Self(format!("{}:{index}", event.0))
    }

    /// The one send job of the messages an event produced.
    pub fn replies(event: &JobKey) -> Self {
        Self(format!("{}:send", event.0))
    }

    /// Message `index` of a send job (what the sent log remembers).
    pub fn reply(send: &JobKey, index: usize) -> Self {
        Self(format!("{}:{index}", send.0))
    }

    /// A send job handed back to run later: its `attempt`-th rescheduling.
    pub fn send_retry(send: &JobKey, attempt: u32) -> Self {
        Self(format!("{}:retry{attempt}", send.0))
    }

    /// A send job put back while the access token is invalid: its `holds`-th hold at try `attempt`.
    pub fn send_held(send: &JobKey, attempt: u32, holds: u32) -> Self {
        Self(format!("{}:retry{attempt}:held{holds}", send.0))
    }

    /// A send job put back to wait for a job queued before it in the user's line: its `waits`-th time.
    pub fn send_waiting(send: &JobKey, attempt: u32, waits: u32) -> Self {
        Self(format!("{}:retry{attempt}:wait{waits}", send.0))
    }

    /// The result of a verification submission, as an event of its conversation.
    pub fn verification_result(submission: &str) -> Self {
        Self(format!("{submission}:result"))
    }

    /// The result of the quick check of one photo, as an event of its conversation.
    pub fn photo_result(conversation_id: &str, media_id: &str) -> Self {
        Self(format!("{conversation_id}:photo:{media_id}:result"))
    }

    /// The audit record of a verification run.
    pub fn verification_run(submission: &str) -> Self {
        Self(format!("{submission}:verify"))
    }

    /// A verification resumed by an asynchronous provider's answer about `reference`.
    pub fn provider_callback(submission: &str, reference: &str) -> Self {
        Self(format!("{submission}:callback:{reference}"))
    }

    /// An agent's decision about a conversation; `body_digest` makes the same signed request sent twice one
    /// outcome.
    pub fn agent_outcome(conversation_id: &str, body_digest: &str) -> Self {
        Self(format!("agent:{conversation_id}:{body_digest}"))
    }

    /// The erasure asked when conversation `conversation_id` ended with a stop.
    pub fn erasure(conversation_id: &str) -> Self {
        Self(format!("erase:{conversation_id}"))
    }

    /// A key kept as it was stored (read back from a queue or a state document).
    pub fn from_stored(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for JobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<JobKey> for String {
    fn from(key: JobKey) -> Self {
        key.0
    }
}

#[cfg(test)]
mod tests {
    use super::JobKey;

    #[test]
    fn keys_keep_the_stored_format() {
        // These strings are claimed in Redis: changing one would let a redelivery through after an upgrade.
        let event = JobKey::message("106540352242922", "wamid.A");
        assert_eq!(event.as_str(), "msg:106540352242922:wamid.A");
        assert_eq!(JobKey::status("1", "wamid.B", "read").as_str(), "status:1:wamid.B:read");
        assert_eq!(JobKey::effect(&event, 2).as_str(), "msg:106540352242922:wamid.A:2");
        let send = JobKey::replies(&event);
        assert_eq!(send.as_str(), "msg:106540352242922:wamid.A:send");
        assert_eq!(JobKey::reply(&send, 0).as_str(), "msg:106540352242922:wamid.A:send:0");
        assert_eq!(JobKey::send_retry(&send, 3).as_str(), "msg:106540352242922:wamid.A:send:retry3");
        assert_eq!(JobKey::verification_result("s1").as_str(), "s1:result");
        assert_eq!(JobKey::provider_callback("s1", "r9").as_str(), "s1:callback:r9");
        assert_eq!(JobKey::agent_outcome("c-1", "ab").as_str(), "agent:c-1:ab");
    }
}
