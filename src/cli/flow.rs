//! `flow check`, `flow schema`, `flow graph` and `flow test`, and the flow loading that `check-image --flow` shares.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::Env;

use super::FlowCommand;

/// `FLOWS_DIR`, else `flows`.
pub(super) fn flows_dir(env: &Env) -> PathBuf {
    PathBuf::from(env.get("FLOWS_DIR").unwrap_or("flows"))
}

pub(crate) fn run(env: &Env, command: FlowCommand) -> anyhow::Result<ExitCode> {
    use wa_onboard::flow::{graph, load};
    match command {
        FlowCommand::Check { path } => {
            let path = path.unwrap_or_else(|| flows_dir(env));
            let files = load::flow_files(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let mut errors = 0;
            for file in &files {
                let problems = match load::Flow::load(file) {
                    Ok(flow) => flow.warnings,
                    Err(problems) => problems,
                };
                let file_errors = problems.iter().filter(|p| p.is_error()).count();
                errors += file_errors;
                for problem in &problems {
                    println!("{problem}");
                }
                if file_errors == 0 {
                    println!("ok: {}", file.display());
                }
            }
            if files.is_empty() {
                println!("no flow files in {}", path.display());
                return Ok(ExitCode::FAILURE);
            }
            Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        FlowCommand::Schema => {
            let schema = schemars::schema_for!(wa_onboard::flow::model::FlowFile);
            // Written without println!: a closed pipe (`| head`) is not an error worth a panic.
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Graph { flow, format } => {
            let path = PathBuf::from(&flow);
            let loaded = if path.is_file() {
                load::Flow::load(&path).map_err(problems_error)?
            } else {
                let flows = load::load_all(&flows_dir(env)).map_err(problems_error)?;
                let known = flows.keys().cloned().collect::<Vec<_>>().join(", ");
                let found = flows.get(&flow).with_context(|| format!("no flow `{flow}`; known flows: {known}"))?;
                return Ok({
                    print!("{}", graph::render(found, format));
                    ExitCode::SUCCESS
                });
            };
            print!("{}", graph::render(&loaded, format));
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Test { path, flows } => {
            let path = path.unwrap_or_else(|| PathBuf::from("fixtures/scenarios"));
            let flows = load::load_all(&flows.unwrap_or_else(|| flows_dir(env))).map_err(problems_error)?;
            let report = wa_onboard::flow::scenario::run_path(&path, &flows)?;
            print!("{report}");
            Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// The problems of a flow that failed to load, as one error, one problem a line.
pub(super) fn problems_error(problems: Vec<wa_onboard::flow::check::Problem>) -> anyhow::Error {
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    anyhow::anyhow!("the flows have problems:\n{}", text.join("\n"))
}
