//! The request data of a multi-target scrape: `parse_scrape_query` over any query string, then
//! `Routes::resolve` against a fixed config file, and `Target::parse` / `Pattern::parse` /
//! `Pattern::allows` over the raw bytes.
//!
//! Asserts: no panic; a refusal is one line of bounded length; a route to a target goes only
//! where an allow-list entry of the named module allows (re-checked independently: same port,
//! same scheme, same number of labels, each equal or `*`), with that module's own token; a
//! parsed target is lowercase with no empty label.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pbs_exporter::collectors::CollectorId;
use pbs_exporter::http::query::parse_scrape_query;
use pbs_exporter::modules::Modules;
use pbs_exporter::routing::{Route, Routes};
use pbs_exporter::target::{Pattern, Target};
use std::sync::OnceLock;
use std::time::Duration;

const CONFIG: &str = "modules:
  default:
    token_id: a@pbs!t
    token: token-default
    targets: [pbs1.example.com, '*.lab.example.com', 'http://10.0.0.5:9000', '[::1]:8007']
  lab:
    token_id: b@pbs!t
    token: token-lab
    targets: ['pbs.*.example.org:443']
";

fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| Routes {
        modules: Some(Modules::parse(CONFIG).unwrap()),
        timeout: Duration::from_secs(1),
        collectors: CollectorId::defaults().collect(),
        ..Routes::default()
    })
}

/// Whether `pattern` (scheme, host with `*` labels, port) allows `host:port` over `tls`.
fn reference_allows(pattern: &Pattern, tls: bool, host: &str, port: u16) -> bool {
    let want: Vec<&str> = pattern.host.split('.').collect();
    let got: Vec<&str> = host.split('.').collect();
    pattern.tls == tls
        && pattern.port == port
        && want.len() == got.len()
        && want
            .iter()
            .zip(&got)
            .all(|(w, g)| *w == *g || (*w == "*" && !g.is_empty()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = Target::parse(text) {
        assert_eq!(t.host, t.host.to_ascii_lowercase());
        assert!(!t.host.split('.').any(str::is_empty), "{t:?}");
        if let Ok(p) = Pattern::parse("*.lab.example.com") {
            let _ = p.allows(&t);
        }
    }
    if let Ok(p) = Pattern::parse(text) {
        assert!(p.host.split('.').any(|l| l != "*"), "{p:?}");
        if let Ok(t) = Target::parse("pbs1.lab.example.com:8007") {
            assert_eq!(
                p.allows(&t),
                reference_allows(&p, t.tls.unwrap_or(p.tls), &t.host, t.port)
            );
        }
    }
    let query = match parse_scrape_query(text) {
        Ok(q) => q,
        Err(e) => {
            assert!(!e.contains('\n') && e.len() < 1024, "{e:?}");
            return;
        }
    };
    let modules = routes().modules.as_ref().unwrap();
    match routes().resolve(&query) {
        Err(e) => assert!(!e.contains('\n') && e.len() < 1024, "{e:?}"),
        Ok(Route::Own) => assert!(query.target.is_none()),
        Ok(Route::Default(_)) => panic!("no PBS_ENDPOINT is configured"),
        Ok(Route::Target(spec)) => {
            let module = modules.get(&spec.module).expect("a configured module");
            assert_eq!(spec.module, query.module.as_deref().unwrap_or("default"));
            assert_eq!(spec.secret.expose(), module.secret.expose());
            let ep = &spec.endpoint;
            assert!(
                module
                    .targets
                    .iter()
                    .any(|e| reference_allows(&e.pattern, ep.tls, &ep.host, ep.port)),
                "{ep} is not allowed by module {}",
                spec.module
            );
        }
    }
});
