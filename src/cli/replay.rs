//! `replay`: signs webhook fixtures and POSTs them to a server, one line per file and a summary.

use std::process::ExitCode;

use wa_onboard::config::{self, Env};
use wa_onboard::replay;

pub(crate) async fn run(env: &Env, path: &std::path::Path, url: Option<String>) -> anyhow::Result<ExitCode> {
    let secret = match env.get("WHATSAPP_APP_SECRET") {
        Some(secret) => secret.to_owned(),
        None => {
            eprintln!("WHATSAPP_APP_SECRET is not set: signing with the development secret of `serve --dev`");
            config::DEV_APP_SECRET.to_owned()
        }
    };
    let url = match url {
        Some(url) => url,
        None => format!("http://{}/webhook", env.get("BIND_ADDR").unwrap_or(config::DEFAULT_BIND_ADDR)),
    };
    let files = replay::fixture_files(path)?;
    let results = replay::replay(&files, &url, secret.as_bytes()).await?;
    let mut failures = 0;
    for r in &results {
        let status = r.status.map_or("---".to_owned(), |s| s.to_string());
        if r.status != Some(200) {
            failures += 1;
        }
        let detail = if r.detail.is_empty() { String::new() } else { format!("  ({})", r.detail) };
        println!("{status}  {}{detail}", r.file.display());
    }
    println!("{} sent to {url}, {} answered 200, {failures} did not", results.len(), results.len() - failures);
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
