//! Funnel summaries in Redis: one hash per day of start, `<prefix>:journeys:<day>`, field = conversation id,
//! value = the summary's JSON; each hash expires the funnel retention after its day.

use std::time::Duration;

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::funnel::JourneySummary;
use crate::store::journeys::{JourneyStore, bucket_expires_at, day_of, days_between};
use crate::store::{StoreError, from_json, to_json};

/// The most days one report reads (about three years of daily buckets).
const MAX_DAYS: u64 = 1200;

pub struct RedisJourneys {
    conn: RedisConn,
    prefix: String,
    retention: Duration,
}

impl RedisJourneys {
    pub fn new(conn: RedisConn, prefix: &str, retention: Duration) -> Self {
        Self { conn, prefix: prefix.to_owned(), retention }
    }

    fn key(&self, day: u64) -> String {
        format!("{}:journeys:{day}", self.prefix)
    }
}

#[async_trait]
impl JourneyStore for RedisJourneys {
    async fn record(&self, summary: &JourneySummary) -> Result<(), StoreError> {
        let day = day_of(summary.started_at);
        let key = self.key(day);
        let mut conn = self.conn.clone();
        let _: () = redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(&key)
            .arg(&summary.conversation_id)
            .arg(to_json(summary)?)
            .ignore()
            .cmd("EXPIREAT")
            .arg(&key)
            .arg(bucket_expires_at(day, self.retention))
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    async fn started_between(&self, since: u64, until: u64) -> Result<Vec<JourneySummary>, StoreError> {
        let mut conn = self.conn.clone();
        let mut all = Vec::new();
        for day in days_between(since, until, MAX_DAYS) {
            let values: Vec<String> =
                redis::cmd("HVALS").arg(self.key(day)).query_async(&mut conn).await.map_err(StoreError::unavailable)?;
            for json in values {
                let summary: JourneySummary = from_json("funnel summary", &json)?;
                if (since..until).contains(&summary.started_at) {
                    all.push(summary);
                }
            }
        }
        all.sort_by(|a, b| (a.started_at, &a.conversation_id).cmp(&(b.started_at, &b.conversation_id)));
        Ok(all)
    }

    async fn mark_erased(
        &self,
        conversation_id: &str,
        started_at: u64,
        at: u64,
    ) -> Result<Option<JourneySummary>, StoreError> {
        let key = self.key(day_of(started_at));
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg(conversation_id)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        let Some(json) = json else { return Ok(None) };
        let summary: JourneySummary = from_json("funnel summary", &json)?;
        let _: () = redis::cmd("HSET")
            .arg(&key)
            .arg(conversation_id)
            .arg(to_json(&summary.clone().erased_at(at))?)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(Some(summary))
    }
}
