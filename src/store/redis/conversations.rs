//! Conversations in Redis: `<prefix>:conv:{<user>}` (hash: version and document) and `<prefix>:audit:{<user>}`
//! (stream). The user is the hash tag, so both keys of a user live on one Redis Cluster slot. A save is one Lua
//! script: compare the version, write the document, append the audit records.

use apalis_redis::ConnectionManager;
use async_trait::async_trait;

use crate::flow::state::UserKey;
use crate::store::conversation::{
    AuditRecord, CONVERSATION_INDEX_TTL_SECS, ConversationStore, Saved, Stored, Versioned,
};
use crate::store::{StoreError, from_json, to_json};

/// Saves a conversation if its version is unchanged, and appends its audit records, in one atomic step.
/// KEYS: conversation hash, audit stream. ARGV: expected version, state document, audit cap, records...
const SAVE_SCRIPT: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local next = current + 1
redis.call('HSET', KEYS[1], 'v', next, 'doc', ARGV[2])
for i = 4, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'r', ARGV[i])
end
return next
"#;

/// Drops one outbox entry if the version is unchanged. KEYS: conversation hash. ARGV: version, new document.
const CLEAR_OUTBOX_SCRIPT: &str = r#"
if tonumber(redis.call('HGET', KEYS[1], 'v') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'doc', ARGV[2])
return 1
"#;

/// Audit records kept per user (the stream is trimmed beyond this).
const AUDIT_CAP: usize = 10_000;

#[derive(Clone)]
pub struct RedisConversations {
    conn: ConnectionManager,
    prefix: String,
    save: std::sync::Arc<redis::Script>,
    clear: std::sync::Arc<redis::Script>,
}

impl RedisConversations {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            save: std::sync::Arc::new(redis::Script::new(SAVE_SCRIPT)),
            clear: std::sync::Arc::new(redis::Script::new(CLEAR_OUTBOX_SCRIPT)),
        }
    }

    fn doc_key(&self, user: &UserKey) -> String {
        format!("{}:conv:{{{}}}", self.prefix, user.as_string())
    }

    fn audit_key(&self, user: &UserKey) -> String {
        format!("{}:audit:{{{}}}", self.prefix, user.as_string())
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
        let mut invocation = self.save.key(self.doc_key(user));
        invocation.key(self.audit_key(user)).arg(expected).arg(to_json(stored)?).arg(AUDIT_CAP);
        for record in audit {
            invocation.arg(to_json(record)?);
        }
        let mut conn = self.conn.clone();
        let result: i64 = invocation.invoke_async(&mut conn).await.map_err(StoreError::unavailable)?;
        Ok(if result < 0 { Saved::Conflict } else { Saved::Ok(result as u64) })
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
            // Redis refuses an empty pipeline ("empty command"); nothing to append is not an error.
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for record in audit {
            pipe.cmd("XADD")
                .arg(self.audit_key(user))
                .arg("MAXLEN")
                .arg("~")
                .arg(AUDIT_CAP)
                .arg("*")
                .arg("r")
                .arg(to_json(record)?)
                .ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(StoreError::unavailable)
    }

    async fn audit(&self, user: &UserKey, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        type Entry = (String, Vec<(String, String)>);
        let mut conn = self.conn.clone();
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
            .into_iter()
            .flat_map(|(_, fields)| fields.into_iter().map(|(_, v)| v))
            .map(|json| from_json("audit record", &json))
            .collect()
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

    async fn index_conversation(&self, conversation_id: &str, user: &UserKey) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}:convidx:{conversation_id}", self.prefix))
            .arg(to_json(user)?)
            .arg("EX")
            .arg(CONVERSATION_INDEX_TTL_SECS)
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::unavailable)
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
            .arg(format!("{}:convidx:{conversation_id}", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        raw.map(|r| from_json("conversation index", &r)).transpose()
    }
}
