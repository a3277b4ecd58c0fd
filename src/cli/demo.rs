//! `demo`: the whole path in one process, printed as a transcript.

use std::process::ExitCode;

pub(crate) async fn run() -> anyhow::Result<ExitCode> {
    let transcript = wa_onboard::demo::run().await?;
    println!("{transcript}");
    Ok(ExitCode::SUCCESS)
}
