//! `.env.example` lists every setting the service reads, each with its default: a setting added to the code
//! without a line there fails here.

use std::collections::BTreeSet;
use std::path::Path;

/// What the service reads from the environment but does not own (the operating system's).
const NOT_SETTINGS: [&str; 2] = ["HOSTNAME", "USER"];

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_setting_the_configuration_reads_is_in_env_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = Vec::new();
    sources(&root.join("src/config"), &mut code);
    let name = regex::Regex::new(r#""([A-Z][A-Z0-9_]{3,})""#).unwrap();
    let read: BTreeSet<String> = code
        .iter()
        .flat_map(|text| name.captures_iter(text).map(|c| c[1].to_owned()).collect::<Vec<_>>())
        .filter(|n| !NOT_SETTINGS.contains(&n.as_str()))
        .collect();
    assert!(read.len() > 40, "the settings were found: {read:?}");
    let example = std::fs::read_to_string(root.join(".env.example")).unwrap();
    let listed: BTreeSet<&str> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let missing: Vec<&String> = read.iter().filter(|n| !listed.contains(n.as_str())).collect();
    assert!(missing.is_empty(), ".env.example does not list: {missing:?}");
}
