//! Cases on Redis, every key under one hash tag (`<prefix>:{cases}:*`, one Redis Cluster slot) so that each change
//! is one Lua script: `case:<id>` (hash: `data` = the fixed [`CaseInfo`] as JSON, `status`, `assigned_to`,
//! `assigned_at`, `closed_at`, `outcome`), `status:<status>` (sorted set of ids by opening time) and
//! `conv:<conversation id>` (its open case), `byconv:<conversation id>` (every case of the conversation, for
//! erasure and export), `log:<id>` (the timeline, a list of JSON entries) and `logkeys:<id>` (the keys of its
//! entries, so that an entry recorded twice is kept once). A closed case's keys expire after the cases
//! retention; an open case's never do.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::case::{
    Case, CaseChangeError, CaseEntry, CaseError, CaseInfo, CaseStatus, CaseStore, Opened, TIMELINE_MAX,
};
use crate::store::retention::Retention;

/// KEYS: conv, case, waiting set, byconv. ARGV: id, data, opened_at. Answers the open case's id when there is one,
/// else "" after opening this one.
static OPEN: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
if redis.call('EXISTS', KEYS[2]) == 1 then return ARGV[1] end
redis.call('HSET', KEYS[2], 'data', ARGV[2], 'status', 'waiting')
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PERSIST', KEYS[4])
return ''
",
    )
});

/// KEYS: case, conv, then the five status sets in [`CaseStatus::ALL`] order, then the timeline, its keys and the
/// conversation's byconv set. ARGV: id, mode (claim, reassign, close), agent, now, new status, outcome, the cases
/// retention (s). Answers {"ok"}, {"missing"}, {"taken", agent} or {"closed", status}. A close gives the case's
/// keys their lifetime and drops from the closed sets the ids of cases already expired.
static CHANGE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local order = {waiting = 3, assigned = 4, resolved = 5, returned = 6, withdrawn = 7}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
local open = status == 'waiting' or status == 'assigned'
local mode = ARGV[2]
if mode == 'claim' and status == 'assigned' then
  return {'taken', redis.call('HGET', KEYS[1], 'assigned_to') or ''}
end
if (mode == 'claim' and status ~= 'waiting') or not open then return {'closed', status} end
local target = ARGV[5]
local opened = redis.call('ZSCORE', KEYS[order[status]], ARGV[1]) or ARGV[4]
redis.call('ZREM', KEYS[order[status]], ARGV[1])
redis.call('ZADD', KEYS[order[target]], opened, ARGV[1])
redis.call('HSET', KEYS[1], 'status', target)
if mode == 'close' then
  redis.call('HSET', KEYS[1], 'closed_at', ARGV[4], 'outcome', ARGV[6])
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
  local keep = tonumber(ARGV[7])
  for _, key in ipairs({KEYS[1], KEYS[8], KEYS[9], KEYS[10]}) do redis.call('EXPIRE', key, keep) end
  local base = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
  for i = 5, 7 do
    local old = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', tonumber(ARGV[4]) - keep, 'LIMIT', 0, 100)
    for _, id in ipairs(old) do
      if redis.call('EXISTS', base .. id) == 0 then redis.call('ZREM', KEYS[i], id) end
    end
  end
else
  redis.call('HSET', KEYS[1], 'assigned_to', ARGV[3], 'assigned_at', ARGV[4])
end
return {'ok'}
",
    )
});

/// KEYS: the timeline list, its set of entry keys. ARGV: entry key, entry JSON, most entries kept. Answers 1 when
/// the entry is new.
static RECORD: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
return 1
",
    )
});

#[derive(Clone)]
pub struct RedisCases {
    conn: RedisConn,
    /// `<prefix>:{cases}`.
    base: String,
    retention: Retention,
}

impl RedisCases {
    pub fn new(conn: RedisConn, prefix: &str, retention: Retention) -> Self {
        Self { conn, base: format!("{prefix}:{{cases}}"), retention }
    }

    fn by_conversation_key(&self, conversation_id: &str) -> String {
        format!("{}:byconv:{conversation_id}", self.base)
    }

    async fn ids_of(&self, conversation_id: &str) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SMEMBERS")
            .arg(self.by_conversation_key(conversation_id))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    fn case_key(&self, id: &str) -> String {
        format!("{}:case:{id}", self.base)
    }

    fn log_key(&self, id: &str) -> String {
        format!("{}:log:{id}", self.base)
    }

    fn log_keys_key(&self, id: &str) -> String {
        format!("{}:logkeys:{id}", self.base)
    }

    fn conv_key(&self, conversation_id: &str) -> String {
        format!("{}:conv:{conversation_id}", self.base)
    }

    fn status_key(&self, status: CaseStatus) -> String {
        format!("{}:status:{}", self.base, status.as_str())
    }

    async fn change(
        &self,
        id: &str,
        mode: &str,
        agent: &str,
        now: u64,
        target: CaseStatus,
        outcome: &str,
    ) -> Result<Case, CaseError> {
        let Some(case) = self.get(id).await? else {
            return Err(CaseChangeError::NotFound(id.to_owned()).into());
        };
        let mut invocation = CHANGE.key(self.case_key(id));
        invocation.key(self.conv_key(&case.info.conversation_id));
        for status in CaseStatus::ALL {
            invocation.key(self.status_key(status));
        }
        invocation
            .key(self.log_key(id))
            .key(self.log_keys_key(id))
            .key(self.by_conversation_key(&case.info.conversation_id));
        invocation
            .arg(id)
            .arg(mode)
            .arg(agent)
            .arg(now)
            .arg(target.as_str())
            .arg(outcome)
            .arg(self.retention.cases.as_secs().max(1));
        let mut conn = self.conn.clone();
        let answer: Vec<String> = invocation.invoke_async(&mut conn).await.map_err(StoreError::unavailable)?;
        match answer.first().map(String::as_str) {
            Some("ok") => Ok(self.get(id).await?.ok_or_else(|| CaseChangeError::NotFound(id.to_owned()))?),
            Some("missing") => Err(CaseChangeError::NotFound(id.to_owned()).into()),
            Some("taken") => Err(CaseChangeError::TakenBy(answer.get(1).cloned().unwrap_or_default()).into()),
            Some("closed") => {
                let status = answer.get(1).and_then(|s| CaseStatus::parse(s)).unwrap_or(CaseStatus::Resolved);
                Err(CaseChangeError::Closed(status).into())
            }
            other => Err(StoreError::Corrupt(format!("unexpected answer of the case script: {other:?}")).into()),
        }
    }
}

fn from_hash(fields: HashMap<String, String>) -> Result<Option<Case>, StoreError> {
    let Some(data) = fields.get("data") else { return Ok(None) };
    let info: CaseInfo = serde_json::from_str(data).map_err(StoreError::corrupt)?;
    let status = fields
        .get("status")
        .and_then(|s| CaseStatus::parse(s))
        .ok_or_else(|| StoreError::Corrupt(format!("case {} has no valid status", info.id)))?;
    let number = |name: &str| fields.get(name).and_then(|v| v.parse().ok());
    Ok(Some(Case {
        status,
        assigned_to: fields.get("assigned_to").cloned(),
        assigned_at: number("assigned_at"),
        closed_at: number("closed_at"),
        outcome: fields.get("outcome").cloned(),
        info,
    }))
}

#[async_trait]
impl CaseStore for RedisCases {
    async fn open(&self, info: CaseInfo) -> Result<Opened, StoreError> {
        let data = serde_json::to_string(&info).map_err(StoreError::corrupt)?;
        let mut conn = self.conn.clone();
        let existing: String = OPEN
            .key(self.conv_key(&info.conversation_id))
            .key(self.case_key(&info.id))
            .key(self.status_key(CaseStatus::Waiting))
            .key(self.by_conversation_key(&info.conversation_id))
            .arg(&info.id)
            .arg(data)
            .arg(info.opened_at)
            .invoke_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        if existing.is_empty() {
            return Ok(Opened::New(Case::waiting(info)));
        }
        match self.get(&existing).await? {
            Some(case) => Ok(Opened::Existing(case)),
            None => Err(StoreError::Corrupt(format!("the open case {existing} of a conversation is missing"))),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Case>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.case_key(id))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        from_hash(fields)
    }

    async fn open_case_of(&self, conversation_id: &str) -> Result<Option<Case>, StoreError> {
        let mut conn = self.conn.clone();
        let id: Option<String> = redis::cmd("GET")
            .arg(self.conv_key(conversation_id))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        match id {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    async fn list(&self, status: CaseStatus, limit: usize) -> Result<Vec<Case>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.status_key(status))
            .arg(0)
            .arg(limit - 1)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        if ids.is_empty() {
            // An empty pipeline is not a command Redis takes.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HGETALL").arg(self.case_key(id));
        }
        let hashes: Vec<HashMap<String, String>> =
            pipe.query_async(&mut conn).await.map_err(StoreError::unavailable)?;
        let mut cases = Vec::with_capacity(hashes.len());
        let mut gone = Vec::new();
        for (id, fields) in ids.iter().zip(hashes) {
            match from_hash(fields)? {
                Some(case) => cases.push(case),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            // Closed cases past their retention: their ids go from the list too.
            redis::cmd("ZREM")
                .arg(self.status_key(status))
                .arg(&gone)
                .query_async::<()>(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
        }
        Ok(cases)
    }

    async fn counts(&self) -> Result<BTreeMap<CaseStatus, usize>, StoreError> {
        let mut pipe = redis::pipe();
        for status in CaseStatus::ALL {
            pipe.cmd("ZCARD").arg(self.status_key(status));
        }
        let mut conn = self.conn.clone();
        let counts: Vec<usize> = pipe.query_async(&mut conn).await.map_err(StoreError::unavailable)?;
        Ok(CaseStatus::ALL.into_iter().zip(counts).collect())
    }

    async fn claim(&self, id: &str, agent: &str, now: u64) -> Result<Case, CaseError> {
        self.change(id, "claim", agent, now, CaseStatus::Assigned, "").await
    }

    async fn reassign(&self, id: &str, agent: &str, now: u64) -> Result<Case, CaseError> {
        self.change(id, "reassign", agent, now, CaseStatus::Assigned, "").await
    }

    async fn close(&self, id: &str, status: CaseStatus, outcome: &str, now: u64) -> Result<Case, CaseError> {
        self.change(id, "close", "", now, status, outcome).await
    }

    async fn record(&self, id: &str, entry: &CaseEntry) -> Result<bool, StoreError> {
        let data = serde_json::to_string(entry).map_err(StoreError::corrupt)?;
        let mut conn = self.conn.clone();
        let new: i64 = RECORD
            .key(self.log_key(id))
            .key(self.log_keys_key(id))
            .arg(&entry.key)
            .arg(data)
            .arg(TIMELINE_MAX)
            .invoke_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(new == 1)
    }

    async fn cases_of(&self, conversation_id: &str) -> Result<Vec<Case>, StoreError> {
        let mut cases = Vec::new();
        for id in self.ids_of(conversation_id).await? {
            cases.extend(self.get(&id).await?);
        }
        cases.sort_by_key(|c| c.info.opened_at);
        Ok(cases)
    }

    async fn erase_conversation(&self, conversation_id: &str) -> Result<usize, StoreError> {
        let ids = self.ids_of(conversation_id).await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("DEL").arg(self.case_key(id)).arg(self.log_key(id)).arg(self.log_keys_key(id)).ignore();
            for status in CaseStatus::ALL {
                pipe.cmd("ZREM").arg(self.status_key(status)).arg(id).ignore();
            }
        }
        pipe.cmd("DEL").arg(self.conv_key(conversation_id)).arg(self.by_conversation_key(conversation_id)).ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(StoreError::unavailable)?;
        Ok(ids.len())
    }

    async fn timeline(&self, id: &str) -> Result<Vec<CaseEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<String> = redis::cmd("LRANGE")
            .arg(self.log_key(id))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        entries.iter().map(|e| serde_json::from_str(e).map_err(StoreError::corrupt)).collect()
    }
}
