//! `modules::Modules::parse_with` (and `yaml::parse` under it): the `--config-file` modules file.
//!
//! Token files are not read: the target passes a reader that touches no file (a path containing
//! `bad` fails, any other yields a fixed secret), so arbitrary paths in the input are harmless.
//!
//! Asserts: no panic on any text; memory stays bounded (aliases cannot expand a small file into a
//! huge document; `-rss_limit_mb=64`); every error is one line of bounded length, and an error
//! inside a module names that module (as the document spells it, escaped) and the key; on success
//! every module has a name, a `user@realm!name` token id, a one-line secret and a non-empty
//! allow-list whose entries print as text that parses back to the same entry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::modules::Modules;
use pbs_exporter::target::Pattern;
use pbs_exporter::yaml;

const SECRET: &str = "fuzz-secret";

fn read_token(path: &str) -> Result<String, String> {
    if path.contains("bad") {
        Err(format!("cannot read '{}': fuzz", path.escape_debug()))
    } else {
        Ok(SECRET.to_string())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = yaml::parse(text) {
        let e = e.to_string();
        assert!(!e.contains(['\n', '\r']), "multi-line YAML error: {e:?}");
    }
    match Modules::parse_with(text, &read_token) {
        Ok(m) => {
            assert!(!m.modules.is_empty());
            for module in &m.modules {
                assert!(!module.name.is_empty());
                let (user, name) = module.token_id.split_once('!').expect("token id has '!'");
                assert!(user.contains('@') && !name.is_empty(), "{}", module.token_id);
                // The reader's secret (token_file), or a `token` fit for a header line.
                let secret = module.secret.expose();
                assert!(!secret.is_empty() && !secret.contains(['\r', '\n']), "{secret:?}");
                assert!(!module.targets.is_empty());
                for entry in &module.targets {
                    let shown = entry.pattern.to_string();
                    let back = Pattern::parse(&shown)
                        .unwrap_or_else(|e| panic!("{shown:?} does not parse back: {e}"));
                    assert_eq!(back, entry.pattern, "{shown:?}");
                }
            }
        }
        Err(e) => {
            assert!(!e.contains(['\n', '\r']), "multi-line error: {e:?}");
            assert!(e.len() <= 1024, "error of {} bytes: {e:?}", e.len());
            if e.starts_with("module '") {
                // The module named is one of the document's, as messages show names.
                let doc = yaml::parse(text).expect("a module error in a document that parses");
                let names = doc["modules"].as_hash().expect("modules is a mapping");
                let named = names.keys().filter_map(|k| k.as_str()).any(|name| {
                    let shown = yaml::shown(name);
                    e.starts_with(&format!("module '{shown}', key '"))
                        || e.starts_with(&format!("module '{shown}': "))
                });
                assert!(named, "names no module of the document, or no key: {e:?}");
            } else {
                assert!(
                    e.starts_with("key '")
                        || e.starts_with("the file: ")
                        || e.starts_with("line ")
                        || e.starts_with("expected one YAML document"),
                    "names neither module nor key nor line: {e:?}"
                );
            }
        }
    }
});
