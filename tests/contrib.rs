//! The packaged `/etc/default/pbs-exporter` (contrib/debian/pbs-exporter.default) stays true: it
//! lists every environment variable `--help` names, no other, with the default `--help` states,
//! and the exporter accepts every value it shows.

mod common;

use common::{Exporter, start_sim};
use pbs_sim::Profile;
use std::collections::BTreeMap;
use std::process::Command;

const DEFAULT_FILE: &str = include_str!("../contrib/debian/pbs-exporter.default");

/// `--help` with whitespace folded (argh wraps lines).
fn help() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pbs-exporter"))
        .env_clear()
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every `PBS_*` variable `--help` names, with the default it states (if any).
fn help_variables(help: &str) -> BTreeMap<String, Option<String>> {
    let mut vars = BTreeMap::new();
    for (i, _) in help.match_indices("env PBS_") {
        let rest = &help[i + 4..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        let default = rest[end..]
            .strip_prefix(", default ")
            .and_then(|d| d.split(')').next())
            .map(str::to_string);
        vars.insert(rest[..end].to_string(), default);
    }
    vars
}

/// The commented-out `#PBS_NAME=value` lines of the default file.
fn file_variables() -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in DEFAULT_FILE.lines() {
        if let Some((k, v)) = line
            .strip_prefix('#')
            .filter(|l| l.starts_with("PBS_"))
            .and_then(|l| l.split_once('='))
        {
            let dup = vars.insert(k.to_string(), v.to_string());
            assert!(dup.is_none(), "{k} listed twice");
        }
    }
    vars
}

#[test]
fn the_default_file_lists_every_setting_with_its_default() {
    let help = help_variables(&help());
    assert!(help.len() >= 16, "{help:?}");
    let file = file_variables();
    let listed: Vec<_> = file.keys().collect();
    let named: Vec<_> = help.keys().collect();
    assert_eq!(listed, named, "the default file and --help disagree");
    for (var, default) in &help {
        if let Some(default) = default {
            assert_eq!(
                &file[var], default,
                "{var}: --help says the default is {default}"
            );
        }
    }
    // Nothing in it is active: every setting is commented out.
    for line in DEFAULT_FILE.lines() {
        assert!(
            line.is_empty() || line.starts_with('#'),
            "active line: {line}"
        );
    }
}

#[test]
fn the_exporter_accepts_every_value_the_default_file_shows() {
    let sim = start_sim(Profile::DEMO, |_| {});
    let mut env: Vec<(String, String)> = file_variables()
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    // The simulator instead of the PBS on localhost, and a free port instead of 10019; every other
    // value as the file shows it (the token id is the simulator's).
    for (k, v) in &mut env {
        match k.as_str() {
            "PBS_ENDPOINT" => *v = sim.endpoint(),
            "PBS_LISTEN_ADDRESS" => *v = "127.0.0.1:0".into(),
            _ => {}
        }
    }
    assert!(
        env.iter()
            .any(|(k, v)| k == "PBS_API_TOKEN_NAME" && v == sim.token_id())
    );
    env.push(("PBS_API_TOKEN".into(), sim.token_secret().into()));
    env.push(("PBS_FINGERPRINT".into(), sim.fingerprint()));
    let exporter = Exporter::start_with(&env, &[]);
    let m = exporter.scrape();
    assert_eq!(m.value("pbs_up", &[]), 1.0);
    for c in ["node", "datastore", "groups", "snapshots"] {
        assert_eq!(
            m.value("pbs_scrape_collector_success", &[("collector", c)]),
            1.0,
            "{c}"
        );
    }
}
