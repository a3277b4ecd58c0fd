//! The rate limiter in one process: both GCRA steps under one lock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::store::rate_limit::{LimitError, LimiterSettings, RateLimiter, gcra};

/// In one process.
pub struct MemoryLimiter {
    settings: LimiterSettings,
    origin: Instant,
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    numbers: HashMap<String, u64>,
    users: HashMap<(String, String), u64>,
    calls: u64,
}

impl MemoryLimiter {
    pub fn new(settings: LimiterSettings) -> Self {
        Self { settings, origin: Instant::now(), state: Mutex::new(MemoryState::default()) }
    }
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn acquire(&self, number: &str, user: &str) -> Result<(), LimitError> {
        let now = self.origin.elapsed().as_micros() as u64;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let user_key = (number.to_owned(), user.to_owned());
        let number_tat = gcra(
            now,
            state.numbers.get(number).copied(),
            self.settings.number_interval_us(),
            self.settings.per_number_burst,
        );
        let user_tat = gcra(
            now,
            state.users.get(&user_key).copied(),
            self.settings.user_interval_us(),
            self.settings.per_user_burst,
        );
        match (number_tat, user_tat) {
            (Ok(n), Ok(u)) => {
                state.numbers.insert(number.to_owned(), n);
                state.users.insert(user_key, u);
                state.calls += 1;
                // Forget users whose bucket is full again, now and then, so the map does not grow without end.
                if state.calls.is_multiple_of(1024) {
                    state.users.retain(|_, tat| *tat > now);
                }
                Ok(())
            }
            (n, u) => {
                let wait = n.err().unwrap_or(0).max(u.err().unwrap_or(0));
                Err(LimitError::Wait(Duration::from_micros(wait)))
            }
        }
    }
}
