//! The `pbs-exporter` binary: reads the configuration, then serves metrics until SIGTERM or
//! SIGINT (it runs fine as PID 1 in a container: both signals end it with status 0).

use async_executor::LocalExecutor;
use async_io::Async;
use futures_lite::StreamExt;
use pbs_exporter::client::PbsClient;
use pbs_exporter::config::{self, Args};
use pbs_exporter::scrape::Scraper;
use pbs_exporter::server::{self, ServerConfig, Shared};
use pbs_exporter::tls::{self, Trust};
use pbs_exporter::{log, log_error, log_info, log_warn};
use std::net::TcpListener;
use std::process::ExitCode;
use std::rc::Rc;

fn main() -> ExitCode {
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

    let tls = if config.endpoint.tls {
        match tls::client_config(&config.trust) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("pbs-exporter: PBS_CA_FILE / --ca-file: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let trust = match (&config.trust, config.endpoint.tls) {
        (_, false) => "none (plain http)".to_string(),
        (Trust::Fingerprint(fp), _) => {
            format!("pinned fingerprint {}", tls::format_fingerprint(fp))
        }
        (Trust::CaFile(p), _) => format!("CA file {}", p.display()),
        (Trust::System, _) => "system CA store".to_string(),
        (Trust::Insecure, _) => "none (insecure)".to_string(),
    };
    if config.trust == Trust::Insecure && config.endpoint.tls {
        log_warn!(
            "TLS certificate verification is OFF (PBS_INSECURE / --insecure): anyone between the exporter and PBS can read the API token; pin the certificate with PBS_FINGERPRINT instead"
        );
    }

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

    let client = PbsClient::new(
        config.endpoint.clone(),
        &config.token_id,
        config.secret.expose(),
        tls,
        config.timeout,
        config.max_body,
    );
    let scraper = Scraper::new(client, &config.collectors).with_settings(config.settings);
    let names: Vec<&str> = config.collectors.iter().map(|c| c.name()).collect();
    log_info!(
        "pbs-exporter {} listening on {} (metrics at {}), scraping {} as token {} (TLS trust: {trust}), collectors: {}",
        env!("CARGO_PKG_VERSION"),
        listener
            .get_ref()
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        config.metrics_path,
        config.endpoint,
        config.token_id,
        names.join(",")
    );

    let signals =
        match async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int]) {
            Ok(s) => s,
            Err(e) => {
                log_error!("cannot install signal handlers: {e}");
                return ExitCode::from(1);
            }
        };
    let shared = Shared::new(
        scraper,
        ServerConfig {
            metrics_path: config.metrics_path.clone(),
            ..ServerConfig::default()
        },
    );
    let ex = Rc::new(LocalExecutor::new());
    let serve = server::serve(listener, shared, ex.clone());
    let stop = async {
        let mut signals = signals;
        let sig = signals.next().await;
        log_info!("received {sig:?}, shutting down");
    };
    async_io::block_on(ex.run(futures_lite::future::or(serve, stop)));
    ExitCode::SUCCESS
}
