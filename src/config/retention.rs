//! `RETENTION_*`: how long each kind of data about a person is kept (see [`Retention`]).

use std::time::Duration;

use super::env::{ConfigError, Env};
use crate::store::retention::{
    DEFAULT_CASES_DAYS, DEFAULT_DECISION_DAYS, DEFAULT_ERASURE_RECORD_DAYS, DEFAULT_FUNNEL_DAYS,
    DEFAULT_ONBOARDING_DAYS, Retention,
};

/// `RETENTION_ONBOARDING_DAYS`, `RETENTION_DECISION_DAYS`, `RETENTION_CASES_DAYS`,
/// `RETENTION_ERASURE_RECORD_DAYS` and `RETENTION_FUNNEL_DAYS`, each a whole number of days, at least 1.
pub(super) fn from_env(env: &Env) -> Result<Retention, ConfigError> {
    Ok(Retention {
        onboarding: days(env, "RETENTION_ONBOARDING_DAYS", DEFAULT_ONBOARDING_DAYS)?,
        decision: days(env, "RETENTION_DECISION_DAYS", DEFAULT_DECISION_DAYS)?,
        cases: days(env, "RETENTION_CASES_DAYS", DEFAULT_CASES_DAYS)?,
        erasure_record: days(env, "RETENTION_ERASURE_RECORD_DAYS", DEFAULT_ERASURE_RECORD_DAYS)?,
        funnel: days(env, "RETENTION_FUNNEL_DAYS", DEFAULT_FUNNEL_DAYS)?,
    })
}

fn days(env: &Env, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    let days: u64 = env.parse(name, default)?;
    if days == 0 || days > 36_500 {
        return Err(ConfigError::Invalid {
            name,
            value: days.to_string(),
            reason: "must be a number of days from 1 to 36500".into(),
        });
    }
    Ok(Duration::from_secs(days * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values_are_named() {
        let retention = from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(retention, Retention::default());
        assert_eq!(retention.onboarding, Duration::from_secs(14 * 86_400));
        let set = from_env(&Env::from_pairs([("RETENTION_DECISION_DAYS", "3650")])).unwrap();
        assert_eq!(set.decision, Duration::from_secs(3650 * 86_400));
        let zero = from_env(&Env::from_pairs([("RETENTION_CASES_DAYS", "0")])).unwrap_err();
        assert!(zero.to_string().contains("RETENTION_CASES_DAYS"), "{zero}");
        let text = from_env(&Env::from_pairs([("RETENTION_ONBOARDING_DAYS", "two weeks")])).unwrap_err();
        assert!(text.to_string().contains("RETENTION_ONBOARDING_DAYS"), "{text}");
    }
}
