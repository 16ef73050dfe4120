//! The README stays true: every metric family the code writes is documented and every one the
//! README names exists; every environment variable it names is one the exporter reads; its
//! settings table lists exactly the flags of `--help`, with their variables and defaults; every
//! file of the repository it names exists; the alert rules and the dashboard it ships read only
//! families the exporter writes.

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

/// Whether `w` begins as the exporter's family names do.
fn family_prefix(w: &str) -> bool {
    w.starts_with("pbs_") || w.starts_with("process_")
}

/// Backquoted words in the README that look like metric names.
fn readme_metric_names(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            family_prefix(w)
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
    let code = code_families();
    for name in &documented {
        assert!(
            code.contains(name.as_str()),
            "README names {name}, which the exporter does not write"
        );
    }
}

fn help() -> String {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_pbs-exporter"))
        .arg("--help")
        .output()
        .unwrap();
    String::from_utf8(help.stdout).unwrap()
}

#[test]
fn every_environment_variable_in_the_readme_exists() {
    let text = readme();
    let help = help();
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

/// `--help`'s options: flag → its description, lines joined.
fn help_options(help: &str) -> Vec<(String, String)> {
    let options = help.split("Options:").nth(1).expect("an Options: section");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in options.lines() {
        let t = line.trim();
        if line.starts_with("  --") {
            let (flag, rest) = t.split_once(' ').unwrap_or((t, ""));
            out.push((
                flag.trim_end_matches(',').to_string(),
                rest.trim().to_string(),
            ));
        } else if let Some(last) = out.last_mut() {
            last.1.push(' ');
            last.1.push_str(t);
        }
    }
    out.retain(|(flag, _)| flag != "--help");
    out
}

/// The README's settings table: (flag, variable, default), backquotes removed.
fn readme_settings(text: &str) -> Vec<(String, String, String)> {
    let unquote = |c: &str| c.trim().trim_matches('`').to_string();
    text.lines()
        .filter(|l| l.starts_with("| `--"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            (
                unquote(cells[1]),
                unquote(cells[2]),
                cells[3].trim().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_settings_table_lists_every_flag_with_its_variable_and_default() {
    let text = readme();
    let help = help();
    let options = help_options(&help);
    let table = readme_settings(&text);
    let help_flags: BTreeSet<&str> = options.iter().map(|(f, _)| f.as_str()).collect();
    let table_flags: BTreeSet<&str> = table.iter().map(|(f, _, _)| f.as_str()).collect();
    assert!(help_flags.len() >= 25, "{help_flags:?}");
    assert_eq!(table_flags, help_flags, "README settings table vs --help");
    for (flag, var, default) in &table {
        let (_, about) = options.iter().find(|(f, _)| f == flag).unwrap();
        if var.is_empty() {
            assert!(
                !about.contains("(env "),
                "{flag}: --help names a variable, the README none"
            );
        } else {
            assert!(
                about.contains(&format!("(env {var}")),
                "{flag}: the README's variable {var} is not the one --help names: {about}"
            );
        }
        // "(env PBS_X, default D)": the default, when --help states one.
        let env = about.split("(env ").nth(1).unwrap_or("");
        let env = &env[..env.find(')').unwrap_or(env.len())];
        if let Some(d) = env.split(", default ").nth(1) {
            assert_eq!(
                default,
                &format!("`{d}`"),
                "{flag}: README default vs --help"
            );
        }
    }
}

#[test]
fn every_repository_file_the_readme_names_exists() {
    let text = readme();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tracked = [
        "scripts/",
        "contrib/",
        "memprof/",
        "src/",
        "tests/",
        "benches/",
        "examples/",
        "crates/",
        "fuzz/",
        ".ci/",
    ];
    let mut checked = 0;
    for word in text.split('`').skip(1).step_by(2) {
        let Some(path) = word.split_whitespace().next() else {
            continue;
        };
        let path = path.trim_end_matches([',', ')', ':']);
        if !tracked.iter().any(|t| path.starts_with(t)) || path.contains(['*', '<', '{', '$']) {
            continue;
        }
        assert!(
            root.join(path).exists(),
            "README names {path}, which does not exist"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} paths found");
}

/// Words of `text` that look like a `pbs_`/`process_` family name.
fn family_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| family_prefix(w))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_shipped_alert_rules_and_dashboard_read_only_written_families() {
    let code = code_families();
    for file in [
        "contrib/prometheus/alerts.yml",
        "contrib/grafana/pbs-exporter.json",
    ] {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
                .unwrap();
        let words = family_words(&text);
        assert!(words.len() >= 10, "{file}: only {words:?}");
        for name in &words {
            assert!(
                code.contains(name.as_str()),
                "{file} reads {name}, which the exporter does not write"
            );
        }
    }
}
