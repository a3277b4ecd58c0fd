//! Deleting a bench's Redis keys: the Redis is shared, so never FLUSH*, only the bench's own prefix. Works on
//! one server and on a cluster (`KEYS` goes to every master there; one `UNLINK` per key, each to its own slot).

/// Deletes every key under `prefix` on the Redis at `url` (any `REDIS_URL` form); answers how many went.
pub async fn delete_prefix(url: &str, prefix: &str) -> anyhow::Result<usize> {
    let mut conn = wa_onboard::store::redis::connect(url, std::time::Duration::from_secs(5)).await?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await?;
    for key in &keys {
        redis::cmd("UNLINK").arg(key).query_async::<()>(&mut conn).await?;
    }
    Ok(keys.len())
}
