//! `pbs-sim`: runs the PBS simulator (`pbs_sim`) until SIGTERM or SIGINT.

use argh::FromArgs;
use futures_lite::StreamExt;
use pbs_sim::{self as sim, Faults, Profile, SimConfig};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// Simulated Proxmox Backup Server: serves the PBS API (HTTPS, self-signed) with deterministic
/// content and optional faults, until SIGTERM/SIGINT.
#[derive(FromArgs)]
struct Args {
    /// address to listen on (default 127.0.0.1:8007)
    #[argh(option, default = "SocketAddr::from(([127, 0, 0, 1], 8007))")]
    listen: SocketAddr,
    /// content size: reference|large|deep|demo or DxNxGxS, e.g. 4x5x100x30 (default reference)
    #[argh(option, default = "Profile::REFERENCE", from_str_fn(parse_profile))]
    profile: Profile,
    /// accepted API token id (default monitor@pbs!exporter)
    #[argh(option, default = "sim::DEFAULT_TOKEN_ID.to_string()")]
    token_id: String,
    /// accepted API token secret
    #[argh(option, default = "sim::DEFAULT_TOKEN_SECRET.to_string()")]
    token_secret: String,
    /// write the certificate (PEM) to this file
    #[argh(option)]
    cert_out: Option<String>,
    /// certificate subject alternative name (repeatable; default localhost and 127.0.0.1)
    #[argh(option)]
    hostname: Vec<String>,
    /// delay before a 401, in ms (default 3000, like PBS)
    #[argh(option, default = "3000")]
    auth_delay_ms: u64,
    /// delay before a 403, in ms (default 500, like PBS)
    #[argh(option, default = "500")]
    forbid_delay_ms: u64,
    /// delay added before every response, in ms
    #[argh(option, default = "0")]
    delay_ms: u64,
    /// datastore that is removable and not mounted (repeatable)
    #[argh(option)]
    unmounted: Vec<String>,
    /// datastore in offline maintenance (repeatable)
    #[argh(option)]
    maintenance: Vec<String>,
    /// API path prefix answering 403, e.g. /nodes/localhost/status (repeatable)
    #[argh(option)]
    forbidden: Vec<String>,
    /// API path prefix answering 200 with invalid JSON (repeatable)
    #[argh(option)]
    malformed: Vec<String>,
    /// STORE:NS whose groups and snapshots fail with ENOENT
    #[argh(option)]
    failing_namespace: Option<String>,
    /// cut the snapshots stream mid-array and close the connection
    #[argh(switch)]
    truncate_snapshots: bool,
    /// cut the snapshots JSON mid-array but end the chunked body properly
    #[argh(switch)]
    truncate_snapshots_clean: bool,
    /// answer every request with 401
    #[argh(switch)]
    unauthorized: bool,
    /// stream an endless snapshot list
    #[argh(switch)]
    oversized: bool,
    /// cut the task list mid-array and close the connection
    #[argh(switch)]
    truncate_tasks: bool,
    /// the token lacks Sys.Audit on /: the subscription shows its status only
    #[argh(switch)]
    no_sys_audit: bool,
    /// finished tasks in the last day (default: the profile's, 100000 for `tasks`)
    #[argh(option)]
    tasks: Option<usize>,
    /// the PBS has tape: drives, changers, media in pools, and a tape-backup job
    #[argh(switch)]
    tape: bool,
    /// the last datastore is S3-backed
    #[argh(switch)]
    s3: bool,
    /// serve plain HTTP instead of HTTPS
    #[argh(switch)]
    no_tls: bool,
    /// also print the bare certificate fingerprint on stdout
    #[argh(switch)]
    print_fingerprint: bool,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::parse(s)
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pbs-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let failing_namespace = match args.failing_namespace {
        None => None,
        Some(v) => {
            let (store, ns) = v
                .split_once(':')
                .ok_or("--failing-namespace wants STORE:NS")?;
            Some((store.to_string(), ns.to_string()))
        }
    };
    let defaults = SimConfig::default();
    let mut profile = args.profile;
    if let Some(n) = args.tasks {
        profile = profile.with_tasks(n);
    }
    if args.tape {
        profile = profile.with_tape();
    }
    if args.s3 {
        profile = profile.with_s3();
    }
    let config = SimConfig {
        profile,
        listen: args.listen,
        token_id: args.token_id,
        token_secret: args.token_secret,
        faults: Faults {
            delay: Duration::from_millis(args.delay_ms),
            truncate_snapshots: args.truncate_snapshots,
            truncate_snapshots_clean: args.truncate_snapshots_clean,
            unauthorized: args.unauthorized,
            forbidden: args.forbidden,
            unmounted: args.unmounted,
            maintenance: args.maintenance,
            failing_namespace,
            malformed: args.malformed,
            oversized: args.oversized,
            truncate_tasks: args.truncate_tasks,
            no_sys_audit: args.no_sys_audit,
        },
        auth_delay: Duration::from_millis(args.auth_delay_ms),
        forbid_delay: Duration::from_millis(args.forbid_delay_ms),
        hostnames: if args.hostname.is_empty() {
            defaults.hostnames
        } else {
            args.hostname
        },
        tls: !args.no_tls,
    };
    // Install the signal handlers before serving so an early signal is not lost.
    let mut signals =
        async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])
            .map_err(|e| format!("signal handlers: {e}"))?;
    let handle = sim::start(config).map_err(|e| format!("cannot start on {}: {e}", args.listen))?;
    if let Some(path) = &args.cert_out {
        std::fs::write(path, handle.cert_pem()).map_err(|e| format!("{path}: {e}"))?;
    }
    if args.print_fingerprint {
        println!("{}", handle.fingerprint());
    }
    eprintln!(
        "pbs-sim: serving {} profile {} on {} token {} fingerprint {}",
        if handle.endpoint().starts_with("https") {
            "HTTPS"
        } else {
            "HTTP"
        },
        handle.profile(),
        handle.endpoint(),
        handle.token_id(),
        handle.fingerprint()
    );
    if let Some(Ok(signal)) = async_io::block_on(signals.next()) {
        eprintln!("pbs-sim: {signal:?}, stopping");
    }
    handle.stop();
    Ok(())
}
