//! Which PBS a metrics request scrapes, and with which credentials: `/metrics` alone scrapes
//! `PBS_ENDPOINT` (or answers only the exporter's own metrics when there is none);
//! `?target=T&module=M` scrapes T with module M's token, but only when M's allow-list names T.
//! Without a config file the environment's credentials form the module `default`, whose
//! allow-list is `PBS_TARGETS` (or `PBS_ENDPOINT` alone). A refusal is one line for a 400.

use crate::client::Endpoint;
use crate::collectors::CollectorId;
use crate::config::Secret;
use crate::http::query::ScrapeQuery;
use crate::modules::{DEFAULT_MODULE, Module, Modules};
use crate::target::Target;
use crate::tls::Trust;
use std::time::Duration;

/// Everything needed to scrape one PBS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// The module that allowed it (empty for `PBS_ENDPOINT` scraped by a bare `/metrics`).
    pub module: String,
    /// Where it is.
    pub endpoint: Endpoint,
    /// `user@realm!name`.
    pub token_id: String,
    /// The token secret.
    pub secret: Secret,
    /// How its certificate is trusted.
    pub trust: Trust,
    /// Timeout of each PBS request.
    pub timeout: Duration,
    /// Collectors to run.
    pub collectors: Vec<CollectorId>,
    /// How long the last good kept families are served while it is unreachable.
    pub keep_last_values: Option<Duration>,
}

impl TargetSpec {
    /// Names the target in log lines: `https://pbs1:8007` or `https://pbs1:8007 (module lab)`.
    pub fn label(&self) -> String {
        if self.module.is_empty() {
            self.endpoint.to_string()
        } else {
            format!("{} (module {})", self.endpoint, self.module)
        }
    }
}

/// What a metrics request is answered with.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// The exporter's own metrics only (no target, no `PBS_ENDPOINT`).
    Own,
    /// `PBS_ENDPOINT`, with the exporter's own metrics.
    Default(TargetSpec),
    /// A target named by the request: its `pbs_*` families only.
    Target(TargetSpec),
}

/// The routing table.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// `PBS_ENDPOINT` with the environment's credentials.
    pub default: Option<TargetSpec>,
    /// The environment's credentials with the `PBS_TARGETS` allow-list.
    pub env_allow: Option<Module>,
    /// The config file's modules.
    pub modules: Option<Modules>,
    /// `--timeout`, for modules that set none.
    pub timeout: Duration,
    /// `--collectors`, for modules that set none.
    pub collectors: Vec<CollectorId>,
    /// `--keep-last-values`, for modules that set none.
    pub keep_last_values: Option<Duration>,
}

impl Routes {
    /// Decides what `query` is answered with; `Err` is the line of a 400.
    pub fn resolve(&self, query: &ScrapeQuery) -> Result<Route, String> {
        let Some(target_text) = &query.target else {
            if let Some(m) = &query.module {
                return Err(format!(
                    "module '{}' needs a target: /metrics?target=HOST&module={}",
                    clip(m),
                    clip(m)
                ));
            }
            return Ok(match &self.default {
                Some(d) => Route::Default(d.clone()),
                None => Route::Own,
            });
        };
        let target = Target::parse(target_text)
            .map_err(|e| format!("bad target '{}': {}", clip(target_text), clip(&e)))?;
        let module_name = query.module.as_deref().unwrap_or(DEFAULT_MODULE);
        if let Some(modules) = &self.modules {
            let module = modules.get(module_name).ok_or_else(|| {
                format!(
                    "unknown module '{}' (known: {})",
                    clip(module_name),
                    modules.names()
                )
            })?;
            return self.allowed(module, &target, target_text);
        }
        if module_name != DEFAULT_MODULE {
            return Err(format!(
                "unknown module '{}': without a config file (PBS_CONFIG_FILE) there is only 'default'",
                clip(module_name)
            ));
        }
        if let Some(module) = &self.env_allow {
            return self.allowed(module, &target, target_text);
        }
        match &self.default {
            Some(d)
                if target.host == d.endpoint.host.to_ascii_lowercase()
                    && target.port == d.endpoint.port
                    && target.tls.is_none_or(|tls| tls == d.endpoint.tls) =>
            {
                Ok(Route::Target(TargetSpec {
                    module: DEFAULT_MODULE.into(),
                    ..d.clone()
                }))
            }
            _ => Err(format!(
                "target '{}' is not PBS_ENDPOINT; list the targets this exporter may scrape in PBS_TARGETS",
                clip(target_text)
            )),
        }
    }

    fn allowed(&self, module: &Module, target: &Target, text: &str) -> Result<Route, String> {
        let entry = module.allowing(target).ok_or_else(|| {
            format!(
                "target '{}' is not allowed by module '{}'",
                clip(text),
                module.name
            )
        })?;
        Ok(Route::Target(TargetSpec {
            module: module.name.clone(),
            endpoint: target.endpoint(entry.pattern.tls),
            token_id: module.token_id.clone(),
            secret: module.secret.clone(),
            trust: module.trust(entry),
            timeout: module.timeout.unwrap_or(self.timeout),
            collectors: module
                .collectors
                .clone()
                .unwrap_or_else(|| self.collectors.clone()),
            keep_last_values: module.keep_last_values.or(self.keep_last_values),
        }))
    }
}

/// Request text quoted in an answer, bounded.
fn clip(s: &str) -> String {
    let s = crate::exposition::truncate_utf8(s, 128);
    s.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(target: Option<&str>, module: Option<&str>) -> ScrapeQuery {
        ScrapeQuery {
            target: target.map(str::to_string),
            module: module.map(str::to_string),
        }
    }

    fn file_routes() -> Routes {
        let modules = Modules::parse(
            "modules:\n  default:\n    token_id: a@pbs!t\n    token: one\n    targets: [pbs1, 'http://pbs2:9000']\n  lab:\n    token_id: b@pbs!t\n    token: two\n    timeout: 2s\n    keep_last_values: 1h\n    targets: ['*.lab']\n",
        )
        .unwrap();
        Routes {
            modules: Some(modules),
            timeout: Duration::from_secs(10),
            collectors: CollectorId::defaults().collect(),
            keep_last_values: Some(Duration::from_secs(600)),
            ..Routes::default()
        }
    }

    #[test]
    fn modules_allow_only_their_targets_with_their_own_token() {
        let r = file_routes();
        let Ok(Route::Target(t)) = r.resolve(&query(Some("https://PBS1:8007"), None)) else {
            panic!()
        };
        assert_eq!(t.endpoint.to_string(), "https://pbs1:8007");
        assert_eq!(t.secret.expose(), "one");
        assert_eq!(t.keep_last_values, Some(Duration::from_secs(600)));
        let Ok(Route::Target(t)) = r.resolve(&query(Some("pbs2:9000"), None)) else {
            panic!()
        };
        assert!(!t.endpoint.tls);
        let Ok(Route::Target(t)) = r.resolve(&query(Some("x.lab"), Some("lab"))) else {
            panic!()
        };
        assert_eq!(
            (t.secret.expose(), t.timeout),
            ("two", Duration::from_secs(2))
        );
        assert_eq!(t.keep_last_values, Some(Duration::from_secs(3600)));
        let e = r.resolve(&query(Some("x.lab"), None)).unwrap_err();
        assert_eq!(e, "target 'x.lab' is not allowed by module 'default'");
        let e = r.resolve(&query(Some("pbs1"), Some("nope"))).unwrap_err();
        assert_eq!(e, "unknown module 'nope' (known: default, lab)");
        assert_eq!(r.resolve(&query(None, None)), Ok(Route::Own));
        assert!(r.resolve(&query(None, Some("lab"))).is_err());
        assert!(r.resolve(&query(Some("a b"), None)).is_err());
    }

    #[test]
    fn without_pbs_targets_only_pbs_endpoint_may_be_named() {
        let d = TargetSpec {
            module: String::new(),
            endpoint: Endpoint::parse("https://pbs1:8007").unwrap(),
            token_id: "a@pbs!t".into(),
            secret: Secret::new("s".into()),
            trust: Trust::System,
            timeout: Duration::from_secs(1),
            collectors: vec![],
            keep_last_values: None,
        };
        let r = Routes {
            default: Some(d.clone()),
            ..Routes::default()
        };
        assert_eq!(r.resolve(&query(None, None)), Ok(Route::Default(d)));
        assert!(matches!(
            r.resolve(&query(Some("https://pbs1:8007"), None)),
            Ok(Route::Target(_))
        ));
        let e = r.resolve(&query(Some("pbs9"), None)).unwrap_err();
        assert!(e.contains("PBS_TARGETS"), "{e}");
        let e = r.resolve(&query(Some("pbs1"), Some("x"))).unwrap_err();
        assert!(e.starts_with("unknown module 'x'"), "{e}");
    }
}
