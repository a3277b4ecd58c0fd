//! A new access token without a restart: the file named by `WHATSAPP_ACCESS_TOKEN_FILE` is looked at every
//! [`FILE_CHECK`] and on SIGHUP; without a file, SIGHUP re-reads `WHATSAPP_ACCESS_TOKEN` from `.env`. A changed
//! token is put in place in the client, which lets the held sends go out. SIGHUP also re-reads the numbers' own
//! tokens (`WHATSAPP_ACCESS_TOKEN_<number>`) from `.env`.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::CloudApi;
use crate::config::{Secret, read_token_file};

/// How often the token file is read (a secret manager or an operator rewrites it).
pub const FILE_CHECK: Duration = Duration::from_secs(2);

/// The token the sources hold now: the file's, or `.env`'s when there is no file.
fn current_token(file: Option<&PathBuf>) -> Result<Option<Secret>, String> {
    match file {
        Some(path) => read_token_file(path).map(Some),
        None => {
            let Ok(entries) = dotenvy::from_filename_iter(".env") else { return Ok(None) };
            Ok(entries
                .filter_map(Result::ok)
                .find(|(key, value)| key == "WHATSAPP_ACCESS_TOKEN" && !value.trim().is_empty())
                .map(|(_, value)| Secret::new(value.trim())))
        }
    }
}

/// The numbers' own tokens (`WHATSAPP_ACCESS_TOKEN_<number>`) as `.env` holds them now.
fn number_tokens(api: &CloudApi) -> Vec<(String, Secret)> {
    let Ok(entries) = dotenvy::from_filename_iter(".env") else { return Vec::new() };
    let entries: Vec<(String, String)> = entries.filter_map(Result::ok).collect();
    api.numbers_with_own_token()
        .filter_map(|number| {
            let name = crate::config::own_token_name(number);
            let (_, value) = entries.iter().find(|(key, value)| *key == name && !value.trim().is_empty())?;
            Some((number.clone(), Secret::new(value.trim())))
        })
        .collect()
}

fn reload(api: &CloudApi, file: Option<&PathBuf>, why: &str) {
    if why == "SIGHUP" {
        for (number, token) in number_tokens(api) {
            if api.replace_number_token(&number, token) {
                tracing::info!(why, number, "the number's own access token reloaded");
            }
        }
    }
    match current_token(file) {
        Ok(Some(token)) => {
            if api.replace_token(token) {
                tracing::info!(why, "access token reloaded");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "the access token file cannot be read: the current token is kept"),
    }
}

/// Watches the sources until `shutdown`.
pub fn spawn(api: CloudApi, file: Option<PathBuf>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(FILE_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let hung_up = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hung_up = std::future::pending::<Option<()>>();
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = hung_up => reload(&api, file.as_ref(), "SIGHUP"),
                _ = tick.tick(), if file.is_some() => reload(&api, file.as_ref(), "the token file changed"),
            }
        }
    });
}
