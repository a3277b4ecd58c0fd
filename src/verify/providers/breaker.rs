//! A circuit breaker per provider: closed → open after `failure_threshold` consecutive failures → half-open
//! after `cooldown_ms` (one trial call goes through; others are refused) → closed on the trial's success, open
//! again on its failure. While open, calls are refused at once (`ProviderError::CircuitOpen`), so a user is sent
//! to a person instead of waiting for timeouts. The clock is injectable for tests.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Monotonic time (elapsed, not wall-clock: see `crate::clock`), injectable.
pub trait Monotonic: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemMonotonic;

impl Monotonic for SystemMonotonic {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self { base: Instant::now(), offset: Mutex::new(Duration::ZERO) }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *offset += by;
    }
}

impl Monotonic for ManualClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed calls (after their retries) that open the circuit.
    #[serde(default = "default_threshold")]
    pub failure_threshold: u32,
    /// How long the circuit stays open before one trial call is let through.
    #[serde(default = "default_cooldown_ms")]
    pub cooldown_ms: u64,
}

fn default_threshold() -> u32 {
    5
}

fn default_cooldown_ms() -> u64 {
    30_000
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { failure_threshold: default_threshold(), cooldown_ms: default_cooldown_ms() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { since: Instant },
    HalfOpen { trial_in_flight: bool },
}

#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    clock: Arc<dyn Monotonic>,
    state: Mutex<State>,
}

/// The circuit refused the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open;

impl CircuitBreaker {
    pub fn new(config: BreakerConfig, clock: Arc<dyn Monotonic>) -> Self {
        Self { config, clock, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state as a caller would meet it now (an open circuit past its cooldown shows as half-open).
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { since } if self.cooled_down(since) => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn cooled_down(&self, since: Instant) -> bool {
        self.clock.now().saturating_duration_since(since) >= Duration::from_millis(self.config.cooldown_ms)
    }

    /// Asks to make a call. The permit must be resolved with [`Permit::success`] or [`Permit::failure`]; a permit
    /// dropped unresolved (a cancelled call) counts as a failure.
    pub fn acquire(&self) -> Result<Permit<'_>, Open> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => {}
            State::Open { since } if self.cooled_down(since) => *state = State::HalfOpen { trial_in_flight: true },
            State::Open { .. } => return Err(Open),
            State::HalfOpen { trial_in_flight: false } => *state = State::HalfOpen { trial_in_flight: true },
            State::HalfOpen { trial_in_flight: true } => return Err(Open),
        }
        Ok(Permit { breaker: self, resolved: false })
    }

    fn on_success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    fn on_failure(&self) {
        let now = self.clock.now();
        let mut state = self.lock();
        *state = match *state {
            State::Closed { failures } if failures + 1 >= self.config.failure_threshold.max(1) => {
                State::Open { since: now }
            }
            State::Closed { failures } => State::Closed { failures: failures + 1 },
            State::HalfOpen { .. } | State::Open { .. } => State::Open { since: now },
        };
    }
}

/// Leave to make one call; report how it went.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    resolved: bool,
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.resolved = true;
        self.breaker.on_success();
    }

    pub fn failure(mut self) {
        self.resolved = true;
        self.breaker.on_failure();
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.resolved {
            self.breaker.on_failure();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_open_half_open_closed() {
        let clock = Arc::new(ManualClock::default());
        let b = CircuitBreaker::new(BreakerConfig { failure_threshold: 3, cooldown_ms: 1000 }, clock.clone());
        b.acquire().unwrap().failure();
        b.acquire().unwrap().failure();
        b.acquire().unwrap().success(); // a success resets the count
        for _ in 0..3 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.acquire().unwrap_err(), Open);
        clock.advance(Duration::from_millis(999));
        assert!(b.acquire().is_err());
        clock.advance(Duration::from_millis(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let trial = b.acquire().unwrap();
        assert!(b.acquire().is_err(), "one trial at a time");
        trial.failure();
        assert_eq!(b.state(), BreakerState::Open, "a failed trial opens again");
        clock.advance(Duration::from_millis(1000));
        b.acquire().unwrap().success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_dropped_permit_is_a_failure() {
        let b =
            CircuitBreaker::new(BreakerConfig { failure_threshold: 1, cooldown_ms: 1000 }, Arc::new(SystemMonotonic));
        drop(b.acquire().unwrap());
        assert_eq!(b.state(), BreakerState::Open);
    }
}
