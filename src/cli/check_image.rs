//! `check-image`: the local photo quality checks on one file (and the document read from it), as one JSON object.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::Env;
use wa_onboard::verify::quality::{self, Kind, Thresholds};

use super::KindArg;
use super::flow::{flows_dir, problems_error};

/// What `check-image` reads from a document photo besides its quality.
pub(crate) struct DocumentArgs {
    pub(crate) document: Option<String>,
    pub(crate) side: String,
    pub(crate) mrz_text: Option<String>,
}

pub(crate) async fn run(
    env: &Env,
    file: &std::path::Path,
    kind: KindArg,
    flow: Option<&str>,
    reading_args: DocumentArgs,
) -> anyhow::Result<ExitCode> {
    use wa_onboard::verify::document::{DocumentType, Side, read_document_with_mrz_text};
    let DocumentArgs { document, side, mrz_text } = reading_args;
    let bytes = tokio::fs::read(file).await.with_context(|| format!("cannot read {}", file.display()))?;
    let kind = match kind {
        KindArg::Document => Kind::Document,
        KindArg::Selfie => Kind::Selfie,
    };
    let thresholds = match flow {
        None => Thresholds::default(),
        Some(flow) => {
            let path = PathBuf::from(flow);
            let loaded = if path.is_file() {
                std::sync::Arc::new(wa_onboard::flow::load::Flow::load(&path).map_err(problems_error)?)
            } else {
                let flows = wa_onboard::flow::load::load_all(&flows_dir(env)).map_err(problems_error)?;
                flows.get(flow).cloned().with_context(|| format!("no flow `{flow}` in {}", flows_dir(env).display()))?
            };
            let quality = &loaded.file.verification.quality;
            if quality.is_null() {
                Thresholds::default()
            } else {
                serde_json::from_value(quality.clone()).context("the flow's verification.quality")?
            }
        }
    };
    let document = match document.as_deref() {
        None => None,
        Some(d) => Some(d.parse::<DocumentType>().map_err(|e| anyhow::anyhow!("--document {d}: {e}"))?),
    };
    let side = match side.as_str() {
        "front" => Side::Front,
        "back" => Side::Back,
        other => anyhow::bail!("--side must be front or back, not {other}"),
    };
    let (report, reading) = tokio::task::spawn_blocking(move || {
        let report = quality::check(&bytes, kind, &thresholds);
        let reading = document.map(|doc| {
            quality::decode::decode_to(&bytes, 2000)
                .map(|d| read_document_with_mrz_text(&d.gray, doc, side, mrz_text.as_deref()))
                .map_err(|e| e.to_string())
        });
        (report, reading)
    })
    .await?;
    let mut out = serde_json::to_value(&report)?;
    match reading {
        Some(Ok(reading)) => out["document"] = serde_json::to_value(&reading)?,
        Some(Err(e)) => out["document"] = serde_json::json!({ "error": e }),
        None => {}
    }
    println!("{}", serde_json::to_string(&out)?);
    Ok(ExitCode::SUCCESS)
}
