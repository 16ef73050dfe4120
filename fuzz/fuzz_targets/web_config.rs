//! `web_config::parse`: the exporter-toolkit web config file, YAML read through `yaml`.
//!
//! Asserts: no panic on any text; on success every TLS path is under the base directory or
//! absolute, a verifying client-auth mode has a CA file and `NoClientCert` has none, and user
//! names are non-empty without `:`; on failure the message is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::web_config::{ClientAuth, parse};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text, Path::new("/base")) {
        Ok(c) => {
            if let Some(t) = &c.tls {
                assert!(t.cert_file.is_absolute() && t.key_file.is_absolute());
                match t.client_auth {
                    ClientAuth::None => assert!(t.client_ca_file.is_none()),
                    _ => assert!(t.client_ca_file.is_some()),
                }
            }
            for (name, _) in &c.users {
                assert!(!name.is_empty() && !name.contains(':'));
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "multi-line error: {e}"),
    }
});
