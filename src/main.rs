//! The `pbs-exporter` binary: reads the configuration, then serves metrics until SIGTERM or
//! SIGINT (it runs fine as PID 1 in a container: both signals end it with status 0). SIGHUP
//! reads the configuration again (the config file and token files included); a bad one is
//! logged and the old one kept.

#![forbid(unsafe_code)]

use async_executor::LocalExecutor;
use async_io::Async;
use async_signal::Signal;
use futures_lite::StreamExt;
use pbs_exporter::config::{self, Args, Config};
use pbs_exporter::routing::TargetSpec;
use pbs_exporter::server::{self, ServerConfig, Shared};
use pbs_exporter::target_map::TargetMap;
use pbs_exporter::tls::{self, Trust};
use pbs_exporter::web_config::{self, WebSecurity, WebState};
use pbs_exporter::{log, log_error, log_info, log_warn};
use std::net::TcpListener;
use std::process::ExitCode;
use std::rc::Rc;

fn main() -> ExitCode {
    // Runs the exporter again with glibc's thread cache off and one heap for all threads
    // (arena_max=1), unless GLIBC_TUNABLES is set: targets held idle then keep fewer pages, and
    // the reactor's and watchdog's threads no arenas of their own (DESIGN.md, "Allocator").
    malloc_trim::without_thread_cache();
    let args: Args = argh::from_env();
    if args.version {
        println!("pbs-exporter {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match config::load(&args, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pbs-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    log::set_level(config.log_level);
    log::set_format(config.log_format);
    redact_secrets(&config);

    if let Some(default) = &config.routes.default {
        // A bad CA file is a configuration error, found now rather than at the first scrape.
        if default.endpoint.tls {
            if let Err(e) = tls::client_config(&default.trust) {
                eprintln!("pbs-exporter: PBS_CA_FILE / --ca-file: {e}");
                return ExitCode::from(2);
            }
        }
    }

    // Read before listening: a bad file exits 2 and nothing is served unprotected meanwhile.
    let web = match &config.web_config {
        Some((path, from)) => match web_config::load(path) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("pbs-exporter: {from}: {e}");
                return ExitCode::from(2);
            }
        },
        None => WebSecurity::default(),
    };

    let listener = match config.listen.iter().find_map(|a| TcpListener::bind(a).ok()) {
        Some(l) => l,
        None => {
            let e = TcpListener::bind(config.listen[0])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            log_error!("cannot listen on {}: {e}", config.listen_text);
            return ExitCode::from(1);
        }
    };
    let listener = match Async::new(listener) {
        Ok(l) => l,
        Err(e) => {
            log_error!("cannot listen on {}: {e}", config.listen_text);
            return ExitCode::from(1);
        }
    };
    log_info!(
        "pbs-exporter {} listening on {} (metrics at {}; {}), {}",
        env!("CARGO_PKG_VERSION"),
        listener
            .get_ref()
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        config.metrics_path,
        web.describe(),
        describe(&config)
    );

    let signals = match async_signal::Signals::new([Signal::Term, Signal::Int, Signal::Hup]) {
        Ok(s) => s,
        Err(e) => {
            log_error!("cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let web = Rc::new(WebState::new(web));
    let shared = Shared::new(
        config.routes.clone(),
        TargetMap::new(config.max_targets, config.compat, config.max_body)
            .with_settings(config.settings),
        ServerConfig {
            metrics_path: config.metrics_path.clone(),
            ..ServerConfig::default()
        },
        web.clone(),
    );
    let ex = Rc::new(LocalExecutor::new());
    let serve = server::serve(listener, shared.clone(), ex.clone());
    let signals_loop = async {
        let mut signals = signals;
        loop {
            let sig = signals.next().await;
            if let Some(Ok(Signal::Hup)) = sig {
                reload(&args, &shared);
                reload_web(config.web_config.as_ref(), &web);
                continue;
            }
            log_info!("received {sig:?}, shutting down");
            return;
        }
    };
    async_io::block_on(ex.run(futures_lite::future::or(serve, signals_loop)));
    ExitCode::SUCCESS
}

/// SIGHUP: reads the configuration again; a bad one is logged and the old one kept.
fn reload(args: &Args, shared: &Shared) {
    match config::load(args, &|k| std::env::var(k).ok()) {
        Ok(config) => {
            redact_secrets(&config);
            let dropped = shared.targets_kept();
            shared.reload(config.routes.clone());
            log_info!(
                "configuration reloaded (SIGHUP), {} target(s) reconnect with it: {}",
                dropped,
                describe(&config)
            );
        }
        Err(e) => log_error!("configuration reload (SIGHUP) failed, keeping the old one: {e}"),
    }
}

/// What the exporter scrapes, for the start and reload log lines (never the token secret).
fn describe(config: &Config) -> String {
    let r = &config.routes;
    let mut parts = Vec::new();
    if let Some(d) = &r.default {
        let names: Vec<&str> = d.collectors.iter().map(|c| c.name()).collect();
        parts.push(format!(
            "scraping {} as token {} (TLS trust: {}), collectors: {}",
            d.endpoint,
            d.token_id,
            trust_text(d),
            names.join(",")
        ));
    }
    if let Some(m) = &r.env_allow {
        let list: Vec<String> = m.targets.iter().map(|t| t.pattern.to_string()).collect();
        parts.push(format!(
            "?target= allowed by PBS_TARGETS: {} as token {}",
            list.join(","),
            m.token_id
        ));
    }
    if let Some(modules) = &r.modules {
        let n: usize = modules.modules.iter().map(|m| m.targets.len()).sum();
        parts.push(format!(
            "config file {}: modules {} ({n} allow-list entries)",
            config
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            modules.names()
        ));
    }
    if let Some(keep) = r.keep_last_values {
        parts.push(format!(
            "last good values kept for {keep:?} while PBS is unreachable"
        ));
    }
    if config.compat != config::Compat::None {
        parts.push(format!("compat: {:?}", config.compat).to_lowercase());
    }
    if matches!(&r.default, Some(d) if d.trust == Trust::Insecure && d.endpoint.tls) {
        log_warn!(
            "TLS certificate verification is OFF (PBS_INSECURE / --insecure): anyone between the exporter and PBS can read the API token; pin the certificate with PBS_FINGERPRINT instead"
        );
    }
    parts.join("; ")
}

fn trust_text(d: &TargetSpec) -> String {
    match (&d.trust, d.endpoint.tls) {
        (_, false) => "none (plain http)".to_string(),
        (Trust::Fingerprint(fp), _) => {
            format!("pinned fingerprint {}", tls::format_fingerprint(fp))
        }
        (Trust::CaFile(p), _) => format!("CA file {}", p.display()),
        (Trust::System, _) => "system CA store".to_string(),
        (Trust::Insecure, _) => "none (insecure)".to_string(),
    }
}

/// SIGHUP: reads the web config file again; a bad file leaves the one in force.
fn reload_web(file: Option<&(std::path::PathBuf, String)>, web: &WebState) {
    let Some((path, _)) = file else {
        return;
    };
    match web_config::load(path) {
        Ok(new) => {
            log_info!("reloaded web config {}: {}", path.display(), new.describe());
            web.replace(new);
        }
        Err(e) => {
            log_error!("cannot reload the web config, keeping the previous one: {e}")
        }
    }
}

/// Tells the logger every token secret the configuration holds, so none is ever printed.
fn redact_secrets(config: &Config) {
    let r = &config.routes;
    let modules = r.modules.iter().flat_map(|m| m.modules.iter());
    for secret in r
        .default
        .iter()
        .map(|d| &d.secret)
        .chain(r.env_allow.iter().map(|m| &m.secret))
        .chain(modules.map(|m| &m.secret))
    {
        log::redact(secret.expose());
    }
}
