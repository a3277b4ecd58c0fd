//! `wa-onboard replay`: signs recorded webhook payloads the way Meta does and POSTs them to a server.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::webhook::signature;

/// The JSON files at `path`: the file itself, or every `*.json` in the folder (not recursive), sorted by name.
pub fn fixture_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no .json files in {}", path.display());
    }
    Ok(files)
}

/// The result of posting one fixture.
pub struct Replayed {
    pub file: PathBuf,
    pub status: Option<u16>,
    pub detail: String,
}

/// Posts each file, signed with `secret`, and reports every answer. Never stops at the first failure.
pub async fn replay(files: &[PathBuf], url: &str, secret: &[u8]) -> anyhow::Result<Vec<Replayed>> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    let mut results = Vec::with_capacity(files.len());
    for file in files {
        let body = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header(signature::HEADER, signature::sign(secret, &body))
            .body(body)
            .send()
            .await;
        results.push(match sent {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                Replayed { file: file.clone(), status: Some(status.as_u16()), detail: text.trim().to_owned() }
            }
            Err(e) => Replayed { file: file.clone(), status: None, detail: format!("request failed: {e}") },
        });
    }
    Ok(results)
}
