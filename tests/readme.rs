//! The README stays true: every metric family the code writes is documented and every one the
//! README names exists; every environment variable it names is one the exporter reads.

use pbs_exporter::collectors::{CollectorId, process};
use pbs_exporter::{natrontech, own, scrape};
use std::collections::BTreeSet;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn code_families() -> BTreeSet<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    for &id in CollectorId::ALL {
        all.extend(id.families().iter().map(|f| f.name));
    }
    all.extend(scrape::Family::TABLE.iter().map(|f| f.name));
    all.extend(process::Family::TABLE.iter().map(|f| f.name));
    all.extend(own::Family::TABLE.iter().map(|f| f.name));
    let mut set: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(set.len(), all.len(), "two collectors write the same family");
    // --compat natrontech: its families replace ours of the same name (pbs_up, pbs_host_load*).
    set.extend(natrontech::Family::TABLE.iter().map(|f| f.name));
    set
}

/// Backquoted words in the README that look like metric names.
fn readme_metric_names(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            (w.starts_with("pbs_") || w.starts_with("process_"))
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn every_family_is_documented_and_every_documented_family_exists() {
    let text = readme();
    let documented = readme_metric_names(&text);
    for name in code_families() {
        assert!(documented.contains(name), "README does not document {name}");
    }
    let code: BTreeSet<String> = code_families().into_iter().map(str::to_string).collect();
    for name in &documented {
        assert!(
            code.contains(name),
            "README names {name}, which the exporter does not write"
        );
    }
}

#[test]
fn every_environment_variable_in_the_readme_exists() {
    let text = readme();
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_pbs-exporter"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let vars: BTreeSet<&str> = text
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
        .filter(|w| w.starts_with("PBS_") && w.len() > 4)
        .collect();
    assert!(vars.len() >= 15, "{vars:?}");
    for v in vars {
        assert!(help.contains(v), "README names {v}, which --help does not");
    }
}

#[test]
fn the_readme_commands_exist() {
    let text = readme();
    assert!(text.contains("scripts/demo.sh") && text.contains("cargo test"));
    for script in [
        "scripts/demo.sh",
        "scripts/footprint.sh",
        "scripts/emptyroot-test.sh",
        ".ci/run",
        "Dockerfile.scratch",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        assert!(path.exists(), "{script} is named in the README but missing");
    }
}
