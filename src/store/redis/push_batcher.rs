//! Group commit for a queue's pushes: the jobs that concurrent callers push while a script call is in flight are
//! gathered and sent together in the next call (apalis-redis's batch push script, which still claims each job's
//! key and queues it in one atomic step, and answers per job). Idle, a push goes out at once, alone; under load,
//! one call carries many jobs, so the script's fixed cost and the round trip are paid once for all of them. The
//! webhook's 200 still waits for its own jobs' answers (invariant 1).

use std::sync::Arc;

use apalis_redis::RedisTask;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::RedisConn;
use crate::store::StoreError;

/// Calls in flight at once per queue: a little parallelism keeps Redis busy while answers travel back.
const CALLS_IN_FLIGHT: usize = 4;
/// Most jobs one call carries.
const MOST_PER_CALL: usize = 256;

struct Pending {
    task: RedisTask,
    answer: oneshot::Sender<Result<bool, String>>,
}

/// Hands pushes to the loops that send them; the loops end when the last clone of this is dropped.
#[derive(Clone)]
pub struct PushBatcher {
    tx: mpsc::UnboundedSender<Pending>,
}

impl PushBatcher {
    /// Starts the sending loops (call inside the Tokio runtime).
    pub fn start(conn: RedisConn, config: apalis_redis::Config) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..CALLS_IN_FLIGHT {
            tokio::spawn(send_loop(rx.clone(), conn.clone(), config.clone()));
        }
        Self { tx }
    }

    /// Queues each task whose key is new; answers per task, in order, whether it was queued.
    pub async fn push(&self, tasks: Vec<RedisTask>) -> Result<Vec<bool>, StoreError> {
        let mut answers = Vec::with_capacity(tasks.len());
        for task in tasks {
            let (answer, rx) = oneshot::channel();
            self.tx
                .send(Pending { task, answer })
                .map_err(|_| StoreError::Unavailable("the push loop ended".into()))?;
            answers.push(rx);
        }
        let mut queued = Vec::with_capacity(answers.len());
        for rx in answers {
            match rx.await {
                Ok(Ok(new)) => queued.push(new),
                Ok(Err(e)) => return Err(StoreError::Unavailable(e)),
                Err(_) => return Err(StoreError::Unavailable("the push loop ended".into())),
            }
        }
        Ok(queued)
    }
}

/// Takes what is waiting (at least one job, at most [`MOST_PER_CALL`]), sends it in one call, answers each.
async fn send_loop(
    rx: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>,
    mut conn: RedisConn,
    config: apalis_redis::Config,
) {
    let mut batch = Vec::with_capacity(MOST_PER_CALL);
    loop {
        {
            let mut rx = rx.lock().await;
            if rx.recv_many(&mut batch, MOST_PER_CALL).await == 0 {
                return;
            }
        }
        let (tasks, answers): (Vec<RedisTask>, Vec<_>) = batch.drain(..).map(|p| (p.task, p.answer)).unzip();
        match apalis_redis::queries::push_tasks_each(&mut conn, &config, &tasks).await {
            Ok(each) if each.len() == answers.len() => {
                for (answer, new) in answers.into_iter().zip(each) {
                    let _ = answer.send(Ok(new));
                }
            }
            Ok(each) => {
                let error = format!("the push script answered {} of {} jobs", each.len(), answers.len());
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
            Err(e) => {
                let error = e.to_string();
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
    }
}
