//! Loading flow files: YAML to a checked, ready-to-run [`Flow`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;
use sha2::{Digest, Sha256};

use super::check::{self, Problem};
use super::model::{FlowFile, Step};

/// A flow that passed every check, with what the engine needs precomputed.
#[derive(Debug)]
pub struct Flow {
    pub file: FlowFile,
    /// First 16 hex digits of the SHA-256 of the source: a conversation keeps the version it started on.
    pub version: String,
    /// The YAML as loaded, so that any process can rebuild this exact version.
    pub source: String,
    pub path: PathBuf,
    /// Compiled `pattern`s, by step name.
    patterns: BTreeMap<String, Regex>,
    /// What `flow check` warns about (the flow loads, but someone should know).
    pub warnings: Vec<Problem>,
}

impl Flow {
    pub fn id(&self) -> &str {
        &self.file.id
    }

    pub fn step(&self, name: &str) -> Option<&Step> {
        self.file.steps.get(name).map(|s| &s.value)
    }

    pub fn pattern(&self, step: &str) -> Option<&Regex> {
        self.patterns.get(step)
    }

    /// The step that collects a photo slot.
    pub fn step_for_slot(&self, slot: &str) -> Option<&str> {
        self.file.steps.iter().find(|(_, s)| s.value.slot.as_deref() == Some(slot)).map(|(name, _)| name.as_str())
    }

    /// Parses and checks a flow from text; `path` is used in problem reports.
    pub fn parse(source: &str, path: &Path) -> Result<Flow, Vec<Problem>> {
        let file: FlowFile = serde_saphyr::from_str(source).map_err(|e| vec![Problem::from_yaml(path, &e)])?;
        let problems = check::check(&file, path);
        if problems.iter().any(Problem::is_error) {
            return Err(problems);
        }
        let patterns = file
            .steps
            .iter()
            .filter_map(|(name, step)| Some((name.clone(), Regex::new(step.value.pattern.as_deref()?).ok()?)))
            .collect();
        let version = hex::encode(&Sha256::digest(source.as_bytes())[..8]);
        Ok(Flow { file, version, source: source.to_owned(), path: path.to_owned(), patterns, warnings: problems })
    }

    pub fn load(path: &Path) -> Result<Flow, Vec<Problem>> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| vec![Problem::error(path, 0, format!("cannot read the file: {e}"), "check the path")])?;
        Self::parse(&source, path)
    }
}

/// The flow files of a folder (`*.yaml`, `*.yml`), or one file.
pub fn flow_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The default flow, built into the binary so that the service runs from any folder and after `cargo install`.
pub const BUILTIN_FLOW: &str = include_str!("../../flows/kyc_latam.yaml");
/// Where problems in the built-in flow are said to be.
pub const BUILTIN_FLOW_PATH: &str = "<built-in>/kyc_latam.yaml";

/// Every flow of `path`; when the folder is missing or holds no flow file, the built-in flow (and a log line that
/// says so). A folder with flows that have problems is reported as such, never replaced.
pub fn load_all_or_builtin(path: &Path) -> Result<BTreeMap<String, Arc<Flow>>, Vec<Problem>> {
    let has_files = flow_files(path).is_ok_and(|files| !files.is_empty());
    if has_files {
        return load_all(path);
    }
    let flow = Flow::parse(BUILTIN_FLOW, Path::new(BUILTIN_FLOW_PATH))?;
    tracing::info!(
        flows_dir = %path.display(),
        flow = flow.id(),
        "no flow files in FLOWS_DIR: using the flow built into the binary"
    );
    Ok(BTreeMap::from([(flow.id().to_owned(), Arc::new(flow))]))
}

/// Every flow of a folder, by id. All problems of all files are reported together.
pub fn load_all(path: &Path) -> Result<BTreeMap<String, Arc<Flow>>, Vec<Problem>> {
    let files = flow_files(path).map_err(|e| vec![Problem::error(path, 0, format!("cannot read: {e}"), "")])?;
    if files.is_empty() {
        return Err(vec![Problem::error(path, 0, "no flow files (*.yaml) found", "set FLOWS_DIR to the flows folder")]);
    }
    let mut flows = BTreeMap::new();
    let mut problems = Vec::new();
    for file in files {
        match Flow::load(&file) {
            Ok(flow) => {
                for warning in &flow.warnings {
                    tracing::warn!(flow = %flow.id(), "{warning}");
                }
                if let Some(other) = flows.get(flow.id()).map(|f: &Arc<Flow>| f.path.clone()) {
                    problems.push(Problem::error(
                        &file,
                        0,
                        format!("flow id `{}` is also used by {}", flow.id(), other.display()),
                        "give every flow a unique `id`",
                    ));
                }
                flows.insert(flow.id().to_owned(), Arc::new(flow));
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.iter().any(Problem::is_error) { Err(problems) } else { Ok(flows) }
}
