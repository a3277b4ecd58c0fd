//! `jobs dead` and `jobs retry`: the jobs the queues gave up on (after their last try, or refused for good), listed
//! and put back by an operator once the cause is fixed. Redis only.

use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::{Config, Env, StoreConfig};
use wa_onboard::store::redis::dead_jobs::RedisDeadJobs;
use wa_onboard::workers::QUEUE_NAMES;

async fn open(env: &Env) -> anyhow::Result<RedisDeadJobs> {
    // Only the store settings matter here: secrets are not needed.
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!("REDIS_URL is not set: in memory, jobs live and die with the server process");
    }
    let backend = wa_onboard::store::Backend::for_config(&config).await?;
    backend.dead_jobs().context("the store has no dead jobs to show")
}

fn queues(queue: Option<&str>) -> anyhow::Result<Vec<&'static str>> {
    match queue {
        None => Ok(QUEUE_NAMES.to_vec()),
        Some(name) => QUEUE_NAMES
            .iter()
            .find(|q| **q == name)
            .map(|q| vec![*q])
            .with_context(|| format!("no queue `{name}`; the queues are {}", QUEUE_NAMES.join(", "))),
    }
}

/// One JSON object a line, per dead job; a count per queue on stderr.
pub(crate) async fn dead(env: &Env, queue: Option<&str>, limit: usize) -> anyhow::Result<ExitCode> {
    let store = open(env).await?;
    for queue in queues(queue)? {
        let jobs = store.list(queue, limit).await.with_context(|| format!("cannot read the dead jobs of {queue}"))?;
        for job in &jobs {
            println!("{}", serde_json::to_string(job)?);
        }
        eprintln!("{queue}: {} dead job(s) shown", jobs.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Puts back one job (`id`, looked for in every queue unless `queue` is given) or all of them.
pub(crate) async fn retry(env: &Env, id: Option<&str>, all: bool, queue: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = open(env).await?;
    let queues = queues(queue)?;
    match (id, all) {
        (Some(id), false) => {
            for queue in queues {
                if store.retry(queue, id).await? {
                    println!("{id}: back in the {queue} queue");
                    return Ok(ExitCode::SUCCESS);
                }
            }
            eprintln!("{id}: no such dead job (see `wa-onboard jobs dead`)");
            Ok(ExitCode::FAILURE)
        }
        (None, true) => {
            for queue in queues {
                let moved = store.retry_all(queue).await?;
                println!("{queue}: {moved} job(s) put back");
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => anyhow::bail!("give a job id, or --all"),
    }
}
