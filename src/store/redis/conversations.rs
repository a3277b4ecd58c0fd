//! Conversations in Redis: `<prefix>:conv:{<user>}` (hash: `v` version, `doc` document, `head` the audit chain's
//! head) and `<prefix>:audit:{<user>}` (stream: `r` the record's JSON as hashed, `h` its hash). The user is the
//! hash tag, so both keys of a user live on one Redis Cluster slot. A save is one Lua script: compare the
//! version and the chain head, write the document, append the audit records, give both keys their lifetime.
//! `<prefix>:msgs:{<user>}` (list) is the message log, with the same lifetime.
//! `<prefix>:convidx:<conversation id>` finds a conversation's user; `<prefix>:tombstone:<conversation id>` is
//! what an erasure leaves.

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::flow::state::UserKey;
use crate::store::audit_chain::{self, ChainHead, Link, StoredChain};
use crate::store::conversation::{
    AuditRecord, ConversationStore, Erased, LoggedMessage, MESSAGE_LOG_MAX, Saved, Stored, Tombstone, Versioned,
};
use crate::store::retention::{Lifetime, Retention};
use crate::store::{StoreError, from_json, to_json};

/// Gives the conversation hash and the audit stream the lifetime ARGV[n] (ms; 0: none). Shared by both scripts.
const LIFETIME: &str = r#"
local function lifetime(ms)
  if tonumber(ms) > 0 then
    redis.call('PEXPIRE', KEYS[1], ms)
    redis.call('PEXPIRE', KEYS[2], ms)
  else
    redis.call('PERSIST', KEYS[1])
    redis.call('PERSIST', KEYS[2])
  end
end
"#;

/// Saves a conversation if its version and its audit chain head are unchanged, and appends its audit records,
/// in one atomic step. KEYS: conversation hash, audit stream. ARGV: expected version, state document, expected
/// head, new head, lifetime (ms), then (record JSON, hash) pairs. Answers the new version, -1 when the version
/// moved, -2 when the chain head moved (an audit record was appended meanwhile: link again).
const SAVE_SCRIPT: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
if (redis.call('HGET', KEYS[1], 'head') or '') ~= ARGV[3] then return -2 end
local next = current + 1
redis.call('HSET', KEYS[1], 'v', next, 'doc', ARGV[2])
if #ARGV >= 6 then redis.call('HSET', KEYS[1], 'head', ARGV[4]) end
for i = 6, #ARGV, 2 do
  redis.call('XADD', KEYS[2], '*', 'r', ARGV[i], 'h', ARGV[i + 1])
end
lifetime(ARGV[5])
return next
"#;

/// Appends audit records if the user has a conversation and the chain head is unchanged. KEYS: conversation
/// hash, audit stream. ARGV: expected head, new head, (unused), then (record JSON, hash) pairs. The trail keeps
/// the conversation's lifetime. Answers 1, 0 when there is no conversation (nothing written), or -2 when the
/// head moved.
const APPEND_SCRIPT: &str = r#"
if redis.call('HEXISTS', KEYS[1], 'doc') == 0 then return 0 end
if (redis.call('HGET', KEYS[1], 'head') or '') ~= ARGV[1] then return -2 end
redis.call('HSET', KEYS[1], 'head', ARGV[2])
for i = 4, #ARGV, 2 do
  redis.call('XADD', KEYS[2], '*', 'r', ARGV[i], 'h', ARGV[i + 1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('PERSIST', KEYS[2]) end
return 1
"#;

/// Adds one message to the log of a user who has a conversation, keeping the conversation's lifetime. KEYS:
/// conversation hash, message log. ARGV: message JSON, most kept.
const LOG_MESSAGE_SCRIPT: &str = r#"
if redis.call('HEXISTS', KEYS[1], 'doc') == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) else redis.call('PERSIST', KEYS[2]) end
return 1
"#;

/// Drops one outbox entry if the version is unchanged. KEYS: conversation hash. ARGV: version, new document.
const CLEAR_OUTBOX_SCRIPT: &str = r#"
if tonumber(redis.call('HGET', KEYS[1], 'v') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'doc', ARGV[2])
return 1
"#;

/// How many times a save or an append links again after another append moved the chain head.
const HEAD_RACES: usize = 50;

#[derive(Clone)]
pub struct RedisConversations {
    conn: RedisConn,
    prefix: String,
    retention: Retention,
    save: std::sync::Arc<redis::Script>,
    append: std::sync::Arc<redis::Script>,
    log: std::sync::Arc<redis::Script>,
    clear: std::sync::Arc<redis::Script>,
}

impl RedisConversations {
    pub fn new(conn: RedisConn, prefix: &str, retention: Retention) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            retention,
            save: std::sync::Arc::new(redis::Script::new(&format!("{LIFETIME}{SAVE_SCRIPT}"))),
            append: std::sync::Arc::new(redis::Script::new(&format!("{LIFETIME}{APPEND_SCRIPT}"))),
            log: std::sync::Arc::new(redis::Script::new(LOG_MESSAGE_SCRIPT)),
            clear: std::sync::Arc::new(redis::Script::new(CLEAR_OUTBOX_SCRIPT)),
        }
    }

    fn doc_key(&self, user: &UserKey) -> String {
        format!("{}:conv:{{{}}}", self.prefix, user.as_string())
    }

    fn audit_key(&self, user: &UserKey) -> String {
        format!("{}:audit:{{{}}}", self.prefix, user.as_string())
    }

    fn messages_key(&self, user: &UserKey) -> String {
        format!("{}:msgs:{{{}}}", self.prefix, user.as_string())
    }

    fn index_key(&self, conversation_id: &str) -> String {
        format!("{}:convidx:{conversation_id}", self.prefix)
    }

    fn tombstone_key(&self, conversation_id: &str) -> String {
        format!("{}:tombstone:{conversation_id}", self.prefix)
    }

    async fn head(&self, user: &UserKey) -> Result<(String, ChainHead), StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("HGET")
            .arg(self.doc_key(user))
            .arg("head")
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        let raw = raw.unwrap_or_default();
        let head = if raw.is_empty() {
            ChainHead::default()
        } else {
            ChainHead::decode(&raw).ok_or_else(|| StoreError::Corrupt(format!("audit chain head {raw:?}")))?
        };
        Ok((raw, head))
    }

    /// Every stored link of the trail, oldest first.
    async fn links(&self, user: &UserKey, newest: Option<usize>) -> Result<Vec<Link>, StoreError> {
        type Entry = (String, Vec<(String, String)>);
        let mut conn = self.conn.clone();
        let mut entries: Vec<Entry> = match newest {
            Some(limit) => {
                let mut entries: Vec<Entry> = redis::cmd("XREVRANGE")
                    .arg(self.audit_key(user))
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut conn)
                    .await
                    .map_err(StoreError::unavailable)?;
                entries.reverse();
                entries
            }
            None => redis::cmd("XRANGE")
                .arg(self.audit_key(user))
                .arg("-")
                .arg("+")
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?,
        };
        Ok(entries
            .drain(..)
            .map(|(_, fields)| {
                let mut link = Link { json: String::new(), hash: String::new() };
                for (name, value) in fields {
                    match name.as_str() {
                        "r" => link.json = value,
                        "h" => link.hash = value,
                        _ => {}
                    }
                }
                link
            })
            .collect())
    }
}

fn add_links(invocation: &mut redis::ScriptInvocation<'_>, links: &[Link]) {
    for link in links {
        invocation.arg(&link.json).arg(&link.hash);
    }
}

#[async_trait]
impl ConversationStore for RedisConversations {
    async fn load(&self, user: &UserKey) -> Result<Option<Versioned>, StoreError> {
        let mut conn = self.conn.clone();
        let (version, doc): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.doc_key(user))
            .arg("v")
            .arg("doc")
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        match (version, doc) {
            (Some(version), Some(doc)) => {
                let stored = from_json("conversation", &doc)?;
                Ok(Some(Versioned { version, stored }))
            }
            _ => Ok(None),
        }
    }

    async fn save(
        &self,
        user: &UserKey,
        expected: u64,
        stored: &Stored,
        audit: &[AuditRecord],
    ) -> Result<Saved, StoreError> {
        let document = to_json(stored)?;
        let lifetime = self.retention.of(&stored.state).millis();
        for _ in 0..HEAD_RACES {
            let (raw_head, head) = self.head(user).await?;
            let (links, new_head) = audit_chain::link(&head, audit)?;
            let mut invocation = self.save.key(self.doc_key(user));
            invocation
                .key(self.audit_key(user))
                .arg(expected)
                .arg(&document)
                .arg(&raw_head)
                .arg(new_head.encode())
                .arg(lifetime);
            add_links(&mut invocation, &links);
            let mut conn = self.conn.clone();
            let result: i64 = invocation.invoke_async(&mut conn).await.map_err(StoreError::unavailable)?;
            match result {
                -1 => return Ok(Saved::Conflict),
                -2 => continue,
                version => return Ok(Saved::Ok(version as u64)),
            }
        }
        // Audit appends kept moving the head: the caller's retry loop tries again.
        Ok(Saved::Conflict)
    }

    async fn clear_outbox(&self, user: &UserKey, version: u64, event_key: &str) -> Result<(), StoreError> {
        // Read, drop the entry, write back only if nobody saved meanwhile (the script compares the version).
        let Some(mut current) = self.load(user).await? else { return Ok(()) };
        if current.version != version {
            return Ok(());
        }
        current.stored.outbox.retain(|e| e.event_key != event_key);
        let mut conn = self.conn.clone();
        let _: i64 = self
            .clear
            .key(self.doc_key(user))
            .arg(version)
            .arg(to_json(&current.stored)?)
            .invoke_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    async fn append_audit(&self, user: &UserKey, audit: &[AuditRecord]) -> Result<(), StoreError> {
        if audit.is_empty() {
            return Ok(());
        }
        for _ in 0..HEAD_RACES {
            let (raw_head, head) = self.head(user).await?;
            let (links, new_head) = audit_chain::link(&head, audit)?;
            let mut invocation = self.append.key(self.doc_key(user));
            invocation
                .key(self.audit_key(user))
                .arg(&raw_head)
                .arg(new_head.encode())
                .arg(Lifetime::For(self.retention.onboarding).millis());
            add_links(&mut invocation, &links);
            let mut conn = self.conn.clone();
            let result: i64 = invocation.invoke_async(&mut conn).await.map_err(StoreError::unavailable)?;
            if result >= 0 {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable("the audit trail kept changing; try again".into()))
    }

    async fn audit(&self, user: &UserKey, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        self.links(user, Some(limit)).await?.iter().map(|link| from_json("audit record", &link.json)).collect()
    }

    async fn audit_chain(&self, user: &UserKey) -> Result<StoredChain, StoreError> {
        let links = self.links(user, None).await?;
        let (raw, head) = self.head(user).await?;
        Ok(StoredChain { links, head: (!raw.is_empty()).then_some(head) })
    }

    async fn erase(&self, user: &UserKey, tombstones: &[Tombstone]) -> Result<Erased, StoreError> {
        let mut conn = self.conn.clone();
        let (states, audit_records, messages): (usize, usize, usize) = redis::pipe()
            .cmd("HEXISTS")
            .arg(self.doc_key(user))
            .arg("doc")
            .cmd("XLEN")
            .arg(self.audit_key(user))
            .cmd("LLEN")
            .arg(self.messages_key(user))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        // The tombstone and index keys of each conversation lie in slots of their own (on a cluster): one command
        // each, sent together, before the user's own keys go.
        let mut writes = Vec::with_capacity(tombstones.len() * 2);
        for tombstone in tombstones {
            let mut set = redis::cmd("SET");
            set.arg(self.tombstone_key(&tombstone.conversation_id))
                .arg(to_json(tombstone)?)
                .arg("PX")
                .arg(Lifetime::For(self.retention.erasure_record).millis());
            writes.push(set);
            let mut del = redis::cmd("DEL");
            del.arg(self.index_key(&tombstone.conversation_id));
            writes.push(del);
        }
        futures::future::try_join_all(writes.iter().map(|cmd| {
            let mut conn = self.conn.clone();
            async move { cmd.query_async::<()>(&mut conn).await }
        }))
        .await
        .map_err(StoreError::unavailable)?;
        redis::cmd("DEL")
            .arg(self.doc_key(user))
            .arg(self.audit_key(user))
            .arg(self.messages_key(user))
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(Erased { states, audit_records, messages })
    }

    async fn log_message(&self, user: &UserKey, message: &LoggedMessage) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.log
            .key(self.doc_key(user))
            .key(self.messages_key(user))
            .arg(to_json(message)?)
            .arg(MESSAGE_LOG_MAX)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(StoreError::unavailable)
    }

    async fn messages(&self, user: &UserKey) -> Result<Vec<LoggedMessage>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = redis::cmd("LRANGE")
            .arg(self.messages_key(user))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        raw.iter().map(|r| from_json("logged message", r)).collect()
    }

    async fn tombstone(&self, conversation_id: &str) -> Result<Option<Tombstone>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.tombstone_key(conversation_id))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        raw.map(|r| from_json("tombstone", &r)).transpose()
    }

    async fn keep_flow_source(&self, flow_id: &str, version: &str, source: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HSET")
            .arg(format!("{}:flows", self.prefix))
            .arg(format!("{flow_id}@{version}"))
            .arg(source)
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn flow_source(&self, flow_id: &str, version: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HGET")
            .arg(format!("{}:flows", self.prefix))
            .arg(format!("{flow_id}@{version}"))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn index_conversation(
        &self,
        conversation_id: &str,
        user: &UserKey,
        lifetime: Lifetime,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.index_key(conversation_id)).arg(to_json(user)?);
        if lifetime != Lifetime::Held {
            cmd.arg("PX").arg(lifetime.millis());
        }
        cmd.query_async::<()>(&mut conn).await.map_err(StoreError::unavailable)
    }

    async fn put_value(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}:value:{key}", self.prefix))
            .arg(value)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn take_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GETDEL")
            .arg(format!("{}:value:{key}", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn user_of(&self, conversation_id: &str) -> Result<Option<UserKey>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.index_key(conversation_id))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        raw.map(|r| from_json("conversation index", &r)).transpose()
    }
}
