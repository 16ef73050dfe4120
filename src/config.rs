//! Configuration: every setting as a command-line flag and as an environment variable (the
//! names natrontech/pbs-exporter uses, so its users switch by changing only the image). The flag
//! wins. Credentials can also come from files (`*_FILE`), for Docker and systemd secrets.
//! A bad setting is one line naming the flag or variable; the token secret is never printed.

use crate::client::Endpoint;
use crate::collectors::snapshot_refresh::Refresh;
use crate::collectors::{CollectorId, MAX_SNAPSHOT_HISTORY, Settings};
use crate::log::{Format, Level};
use crate::modules::{AllowEntry, DEFAULT_MODULE, Module, Modules};
use crate::routing::{Routes, TargetSpec};
use crate::target::Pattern;
use crate::tls::{Trust, parse_fingerprint};
use argh::FromArgs;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prometheus exporter for Proxmox Backup Server. Each option can also be set by the
/// environment variable named in its description; the option wins.
#[derive(FromArgs, Default)]
pub struct Args {
    /// PBS API endpoint, e.g. https://pbs.example:8007 (env PBS_ENDPOINT)
    #[argh(option)]
    pub endpoint: Option<String>,
    /// PBS user owning the API token, e.g. monitor@pbs (env PBS_USERNAME)
    #[argh(option)]
    pub username: Option<String>,
    /// file holding the user (env PBS_USERNAME_FILE)
    #[argh(option)]
    pub username_file: Option<String>,
    /// API token name, or the whole token id user@realm!name (env PBS_API_TOKEN_NAME)
    #[argh(option)]
    pub api_token_name: Option<String>,
    /// file holding the token name (env PBS_API_TOKEN_NAME_FILE)
    #[argh(option)]
    pub api_token_name_file: Option<String>,
    /// API token secret; prefer the file or the environment, which ps does not show
    /// (env PBS_API_TOKEN)
    #[argh(option)]
    pub api_token: Option<String>,
    /// file holding the API token secret (env PBS_API_TOKEN_FILE)
    #[argh(option)]
    pub api_token_file: Option<String>,
    /// SHA-256 fingerprint of the PBS certificate as the PBS dashboard shows it, colons
    /// optional (env PBS_FINGERPRINT)
    #[argh(option)]
    pub fingerprint: Option<String>,
    /// PEM file of the CA that signed the PBS certificate (env PBS_CA_FILE)
    #[argh(option)]
    pub ca_file: Option<String>,
    /// accept any PBS certificate; logs a warning (env PBS_INSECURE=true)
    #[argh(switch)]
    pub insecure: bool,
    /// timeout of each PBS request, e.g. 10s or 500ms; keep it above PBS' 3 s delay on a
    /// wrong token (env PBS_TIMEOUT, default 10s)
    #[argh(option)]
    pub timeout: Option<String>,
    /// address to serve metrics on, host:port or :port for all addresses
    /// (env PBS_LISTEN_ADDRESS, default :10019)
    #[argh(option)]
    pub listen_address: Option<String>,
    /// HTTP path of the metrics (env PBS_METRICS_PATH, default /metrics)
    #[argh(option)]
    pub metrics_path: Option<String>,
    /// log level: error, warn, info or debug (env PBS_LOGLEVEL, default info)
    #[argh(option)]
    pub loglevel: Option<String>,
    /// log line format: text, logfmt or json (env PBS_LOG_FORMAT, default text)
    #[argh(option)]
    pub log_format: Option<String>,
    /// exporter-toolkit web config file (YAML) for TLS and basic auth of the metrics
    /// endpoint; re-read on SIGHUP (env PBS_WEB_CONFIG_FILE)
    #[argh(option)]
    pub web_config_file: Option<String>,
    /// collectors to run: a list such as node,datastore replaces the default set;
    /// -snapshots removes one from it, +name adds one (env PBS_COLLECTORS,
    /// default node,datastore,groups,snapshots,jobs,tasks,subscription,tape)
    #[argh(option)]
    pub collectors: Option<String>,
    /// how far back the tasks collector counts finished tasks, e.g. 24h, 90m or 7d
    /// (env PBS_TASKS_WINDOW, default 24h)
    #[argh(option)]
    pub tasks_window: Option<String>,
    /// per-snapshot series for the newest N finished snapshots of each group, 0 for none,
    /// at most 100 (env PBS_SNAPSHOT_HISTORY, default 0)
    #[argh(option)]
    pub snapshot_history: Option<String>,
    /// which snapshot lists a scrape reads: changed (only groups whose last backup or
    /// snapshot count changed, datastores with a verify finished since, and every datastore
    /// at least every --snapshots-max-age) or always (env PBS_SNAPSHOTS_REFRESH, default
    /// changed)
    #[argh(option)]
    pub snapshots_refresh: Option<String>,
    /// longest time between two full reads of a datastore's snapshots with
    /// --snapshots-refresh changed, e.g. 10m or 1h (env PBS_SNAPSHOTS_MAX_AGE, default 10m)
    #[argh(option)]
    pub snapshots_max_age: Option<String>,
    /// while PBS is unreachable, serve the last good datastore, groups and snapshots
    /// families for up to this long after that scrape, e.g. 12h; off when not set
    /// (env PBS_KEEP_LAST_VALUES)
    #[argh(option)]
    pub keep_last_values: Option<String>,
    /// largest PBS response accepted, in bytes (env PBS_MAX_BODY_BYTES, default 1073741824)
    #[argh(option)]
    pub max_body_bytes: Option<String>,
    /// YAML file of modules: credentials and the allow-list of targets for
    /// /metrics?target=&module= (env PBS_CONFIG_FILE); SIGHUP reads it again
    #[argh(option)]
    pub config_file: Option<String>,
    /// comma-separated allow-list for /metrics?target= with the credentials above:
    /// host, host:port or https://host:port, '*' for one DNS label (env PBS_TARGETS)
    #[argh(option)]
    pub targets: Option<String>,
    /// most targets whose state is kept between scrapes; past it the least recently
    /// scraped is dropped (env PBS_MAX_TARGETS, default 64)
    #[argh(option)]
    pub max_targets: Option<String>,
    /// also write another exporter's metric families: natrontech (env PBS_COMPAT)
    #[argh(option)]
    pub compat: Option<String>,
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,
}

/// A secret string: its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: String) -> Secret {
        Secret(secret)
    }

    /// The secret itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which PBS a metrics request scrapes, with which credentials.
    pub routes: Routes,
    /// Addresses to listen on, tried in order (the first that binds is used).
    pub listen: Vec<SocketAddr>,
    /// The listen address as given, for messages.
    pub listen_text: String,
    /// Path of the metrics endpoint.
    pub metrics_path: String,
    /// Log level.
    pub log_level: Level,
    /// Log line format.
    pub log_format: Format,
    /// The web config file (TLS, basic auth), and where its name came from (for messages).
    pub web_config: Option<(PathBuf, String)>,
    /// Largest PBS response accepted.
    pub max_body: u64,
    /// Another exporter's families to write too.
    pub compat: Compat,
    /// Most targets kept at once.
    pub max_targets: usize,
    /// What the collectors are told (tasks window, snapshot history depth).
    pub settings: Settings,
    /// The config file, read again on SIGHUP.
    pub config_file: Option<PathBuf>,
}

/// Another exporter whose metric families are written next to ours (`--compat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// Only our own families.
    #[default]
    None,
    /// natrontech/pbs-exporter's `pbs_*` families too.
    Natrontech,
}

/// A bad setting: the message names the flag or variable.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads settings from flags first, then the environment (through `env`, so tests can supply
/// their own).
pub struct Sources<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Sources<'_> {
    /// A setting's value and a description of where it came from.
    fn get(&self, flag: Option<&String>, flag_name: &str, var: &str) -> Option<(String, String)> {
        if let Some(v) = flag {
            return Some((v.clone(), format!("--{flag_name}")));
        }
        (self.env)(var)
            .filter(|v| !v.is_empty())
            .map(|v| (v, var.to_string()))
    }

    /// A credential given directly, or read from the `_FILE` variant (trailing newline removed).
    fn credential(
        &self,
        flag: Option<&String>,
        file_flag: Option<&String>,
        name: &str,
        var: &str,
    ) -> Result<Option<(String, String)>, ConfigError> {
        if let Some(v) = self.get(flag, name, var) {
            return Ok(Some(v));
        }
        let file_var = format!("{var}_FILE");
        let Some((path, from)) = self.get(file_flag, &format!("{name}-file"), &file_var) else {
            return Ok(None);
        };
        let value = read_secret_file(&path).map_err(|e| ConfigError(format!("{from}: {e}")))?;
        Ok(Some((value, from)))
    }
}

/// Reads a credential file: its first line, trimmed; an empty one is an error.
pub fn read_secret_file(path: &str) -> Result<String, String> {
    use std::io::Read;
    // A token is one short line: read no more than 64 KiB (a path like /dev/zero never ends).
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_string(&mut text))
        .map_err(|e| format!("cannot read '{path}': {e}"))?;
    let value = text.lines().next().unwrap_or("").trim().to_string();
    if value.is_empty() {
        return Err(format!("'{path}' is empty"));
    }
    Ok(value)
}

/// Validates the settings (and reads the config file, if one is given).
pub fn load(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let src = Sources { env };

    let config_file = src.get(args.config_file.as_ref(), "config-file", "PBS_CONFIG_FILE");
    let endpoint = match src.get(args.endpoint.as_ref(), "endpoint", "PBS_ENDPOINT") {
        Some((text, from)) => {
            Some(Endpoint::parse(&text).map_err(|e| ConfigError(format!("{from}: {e}")))?)
        }
        None => None,
    };
    let env_targets = src.get(args.targets.as_ref(), "targets", "PBS_TARGETS");
    if let (Some((_, file_from)), Some((_, from))) = (&config_file, &env_targets) {
        return Err(ConfigError(format!(
            "{from}: not used with {file_from}; list the targets in the config file's modules"
        )));
    }
    if endpoint.is_none() && env_targets.is_none() && config_file.is_none() {
        return Err(ConfigError(
            "no PBS endpoint: set PBS_ENDPOINT or --endpoint (e.g. https://pbs.example:8007), PBS_TARGETS, or PBS_CONFIG_FILE"
                .into(),
        ));
    }

    let timeout = match src.get(args.timeout.as_ref(), "timeout", "PBS_TIMEOUT") {
        Some((t, from)) => parse_duration(&t).map_err(|e| ConfigError(format!("{from}: {e}")))?,
        None => Duration::from_secs(10),
    };
    let keep_last_values = match src.get(
        args.keep_last_values.as_ref(),
        "keep-last-values",
        "PBS_KEEP_LAST_VALUES",
    ) {
        Some((d, from)) => Some(
            parse_duration_within(&d, MAX_KEEP_LAST_VALUES)
                .map_err(|e| ConfigError(format!("{from}: {e}")))?,
        ),
        None => None,
    };
    let collectors = match src.get(args.collectors.as_ref(), "collectors", "PBS_COLLECTORS") {
        Some((list, from)) => {
            parse_collectors(&list).map_err(|e| ConfigError(format!("{from}: {e}")))?
        }
        None => CollectorId::defaults().collect(),
    };

    // The environment's credentials, needed for PBS_ENDPOINT and PBS_TARGETS.
    let env_module = if endpoint.is_some() || env_targets.is_some() {
        let (token_id, secret) = credentials(args, &src)?;
        let trust = trust(args, &src)?;
        let mut targets = Vec::new();
        if let Some((list, from)) = &env_targets {
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let pattern =
                    Pattern::parse(item).map_err(|e| ConfigError(format!("{from}: {e}")))?;
                let fingerprint = match &trust {
                    Trust::Fingerprint(fp) => Some(*fp),
                    _ => None,
                };
                targets.push(AllowEntry {
                    pattern,
                    fingerprint,
                });
            }
            if targets.is_empty() {
                return Err(ConfigError(format!("{from}: no target listed")));
            }
        }
        Some((
            Module {
                name: DEFAULT_MODULE.into(),
                token_id,
                secret: Secret(secret),
                timeout: None,
                collectors: None,
                keep_last_values: None,
                ca_file: match &trust {
                    Trust::CaFile(p) => Some(p.clone()),
                    _ => None,
                },
                insecure: trust == Trust::Insecure,
                targets,
            },
            trust,
        ))
    } else {
        None
    };

    let modules = match &config_file {
        Some((path, from)) => Some(
            Modules::load(Path::new(path))
                .map_err(|e| ConfigError(format!("{from} {path}: {e}")))?,
        ),
        None => None,
    };

    let (listen_text, from) = src
        .get(
            args.listen_address.as_ref(),
            "listen-address",
            "PBS_LISTEN_ADDRESS",
        )
        .unwrap_or_else(|| (":10019".into(), String::new()));
    let listen = parse_listen(&listen_text).map_err(|e| ConfigError(format!("{from}: {e}")))?;

    let metrics_path = match src.get(
        args.metrics_path.as_ref(),
        "metrics-path",
        "PBS_METRICS_PATH",
    ) {
        Some((p, from)) if !p.starts_with('/') => {
            return Err(ConfigError(format!("{from}: '{p}' must start with '/'")));
        }
        Some((p, _)) => p,
        None => "/metrics".into(),
    };

    let log_level = match src.get(args.loglevel.as_ref(), "loglevel", "PBS_LOGLEVEL") {
        Some((l, from)) => Level::parse(&l).ok_or_else(|| {
            ConfigError(format!(
                "{from}: '{l}' is not one of error, warn, info, debug"
            ))
        })?,
        None => Level::Info,
    };

    let log_format = match src.get(args.log_format.as_ref(), "log-format", "PBS_LOG_FORMAT") {
        Some((f, from)) => Format::parse(&f).ok_or_else(|| {
            ConfigError(format!("{from}: '{f}' is not one of text, logfmt, json"))
        })?,
        None => Format::Text,
    };

    let web_config = src
        .get(
            args.web_config_file.as_ref(),
            "web-config-file",
            "PBS_WEB_CONFIG_FILE",
        )
        .map(|(path, from)| (PathBuf::from(path), from));

    let max_body = match src.get(
        args.max_body_bytes.as_ref(),
        "max-body-bytes",
        "PBS_MAX_BODY_BYTES",
    ) {
        Some((n, from)) => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1024)
            .ok_or_else(|| {
                ConfigError(format!(
                    "{from}: '{n}' is not a byte count of at least 1024"
                ))
            })?,
        None => 1 << 30,
    };

    let max_targets = match src.get(args.max_targets.as_ref(), "max-targets", "PBS_MAX_TARGETS") {
        Some((n, from)) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| {
                ConfigError(format!("{from}: '{n}' is not a number from 1 to 100000"))
            })?,
        None => 64,
    };

    let tasks_window = match src.get(
        args.tasks_window.as_ref(),
        "tasks-window",
        "PBS_TASKS_WINDOW",
    ) {
        Some((w, from)) => parse_duration_within(&w, MAX_TASKS_WINDOW)
            .map_err(|e| ConfigError(format!("{from}: {e}")))?,
        None => Settings::default().tasks_window,
    };

    let compat = match src.get(args.compat.as_ref(), "compat", "PBS_COMPAT") {
        Some((c, _)) if c == "natrontech" => Compat::Natrontech,
        Some((c, _)) if c == "none" => Compat::None,
        Some((c, from)) => {
            return Err(ConfigError(format!(
                "{from}: '{c}' is not natrontech or none"
            )));
        }
        None => Compat::None,
    };

    let snapshot_history = match src.get(
        args.snapshot_history.as_ref(),
        "snapshot-history",
        "PBS_SNAPSHOT_HISTORY",
    ) {
        Some((n, from)) => n
            .trim()
            .parse::<u64>()
            .map(|n| n.min(MAX_SNAPSHOT_HISTORY as u64) as usize)
            .map_err(|_| {
                ConfigError(format!(
                    "{from}: '{n}' is not a number of snapshots (0 to {MAX_SNAPSHOT_HISTORY})"
                ))
            })?,
        None => 0,
    };

    let snapshots_refresh = match src.get(
        args.snapshots_refresh.as_ref(),
        "snapshots-refresh",
        "PBS_SNAPSHOTS_REFRESH",
    ) {
        Some((r, from)) => Refresh::parse(&r)
            .ok_or_else(|| ConfigError(format!("{from}: '{r}' is not changed or always")))?,
        None => Settings::default().snapshots_refresh,
    };
    let snapshots_max_age = match src.get(
        args.snapshots_max_age.as_ref(),
        "snapshots-max-age",
        "PBS_SNAPSHOTS_MAX_AGE",
    ) {
        Some((t, from)) => parse_duration(&t).map_err(|e| ConfigError(format!("{from}: {e}")))?,
        None => Settings::default().snapshots_max_age,
    };

    let default = match (&endpoint, &env_module) {
        (Some(ep), Some((m, trust))) => Some(TargetSpec {
            module: String::new(),
            endpoint: ep.clone(),
            token_id: m.token_id.clone(),
            secret: m.secret.clone(),
            trust: trust.clone(),
            timeout,
            collectors: collectors.clone(),
            keep_last_values,
        }),
        _ => None,
    };
    Ok(Config {
        routes: Routes {
            default,
            env_allow: env_module.map(|(m, _)| m).filter(|m| !m.targets.is_empty()),
            modules,
            timeout,
            collectors,
            keep_last_values,
        },
        listen,
        listen_text,
        metrics_path,
        log_level,
        log_format,
        web_config,
        max_body,
        compat,
        max_targets,
        config_file: config_file.map(|(p, _)| PathBuf::from(p)),
        settings: Settings {
            tasks_window,
            snapshot_history,
            snapshots_refresh,
            snapshots_max_age,
        },
    })
}

/// The token id and secret given by the environment or flags.
fn credentials(args: &Args, src: &Sources<'_>) -> Result<(String, String), ConfigError> {
    let name = src.credential(
        args.api_token_name.as_ref(),
        args.api_token_name_file.as_ref(),
        "api-token-name",
        "PBS_API_TOKEN_NAME",
    )?;
    let user = src.credential(
        args.username.as_ref(),
        args.username_file.as_ref(),
        "username",
        "PBS_USERNAME",
    )?;
    let token_id = match (name, user) {
        (Some((name, _)), _) if name.contains('!') => name,
        (Some((name, _)), Some((user, from))) => {
            if !user.contains('@') {
                return Err(ConfigError(format!(
                    "{from}: '{user}' has no realm; write it as user@realm, e.g. {user}@pbs or root@pam"
                )));
            }
            format!("{user}!{name}")
        }
        (Some(_), None) => {
            return Err(ConfigError(
                "no PBS user: set PBS_USERNAME or --username (e.g. monitor@pbs), or give the whole token id user@realm!name in PBS_API_TOKEN_NAME".into(),
            ));
        }
        (None, _) => {
            return Err(ConfigError(
                "no API token name: set PBS_API_TOKEN_NAME or --api-token-name (the name after '!' in the token id, or the whole id)".into(),
            ));
        }
    };
    let (secret, _) = src
        .credential(args.api_token.as_ref(), args.api_token_file.as_ref(), "api-token", "PBS_API_TOKEN")?
        .ok_or_else(|| ConfigError("no API token secret: set PBS_API_TOKEN or PBS_API_TOKEN_FILE (or --api-token-file)".into()))?;
    if secret.contains(['\r', '\n']) {
        return Err(ConfigError(
            "the API token secret contains a line break".into(),
        ));
    }
    Ok((token_id, secret))
}

/// How the environment's PBS certificate is trusted.
fn trust(args: &Args, src: &Sources<'_>) -> Result<Trust, ConfigError> {
    Ok(
        if let Some((fp, from)) =
            src.get(args.fingerprint.as_ref(), "fingerprint", "PBS_FINGERPRINT")
        {
            Trust::Fingerprint(
                parse_fingerprint(&fp).map_err(|e| ConfigError(format!("{from}: {e}")))?,
            )
        } else if let Some((path, _)) = src.get(args.ca_file.as_ref(), "ca-file", "PBS_CA_FILE") {
            Trust::CaFile(path.into())
        } else if args.insecure || env_bool(src, "PBS_INSECURE")? {
            Trust::Insecure
        } else {
            Trust::System
        },
    )
}

fn env_bool(src: &Sources<'_>, var: &str) -> Result<bool, ConfigError> {
    match (src.env)(var)
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("0") | Some("false") | Some("no") | Some("off") => Ok(false),
        Some("1") | Some("true") | Some("yes") | Some("on") => Ok(true),
        Some(v) => Err(ConfigError(format!("{var}: '{v}' is not true or false"))),
    }
}

/// Parses `10s`, `500ms`, `1m`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    parse_duration_within(s, Duration::from_secs(86_400))
}

/// Longest `--tasks-window`: PBS keeps its task archive for weeks, not longer.
const MAX_TASKS_WINDOW: Duration = Duration::from_secs(31 * 86_400);

/// Longest `--keep-last-values` (a PBS off for a month is not sleeping).
pub const MAX_KEEP_LAST_VALUES: Duration = Duration::from_secs(31 * 86_400);

/// Parses a duration (`500ms`, `10s`, `2m`, `24h`, `7d`; a bare number is seconds) above 0 and
/// at most `max`.
pub fn parse_duration_within(s: &str, max: Duration) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else if let Some(n) = t.strip_suffix('d') {
        (n, 86400.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 10s, 500ms, 1m)"))?;
    let max_s = max.as_secs_f64();
    if !v.is_finite() || v <= 0.0 || v * scale > max_s {
        let days = max_s / 86400.0;
        let most = if days == 1.0 {
            "a day".to_string()
        } else {
            format!("{days} days")
        };
        return Err(format!("'{s}' must be above 0 and at most {most}"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// Parses `host:port`, `:port` (all addresses, IPv6 and IPv4) or `[v6]:port`.
pub fn parse_listen(s: &str) -> Result<Vec<SocketAddr>, String> {
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| format!("'{s}': bad port"))?;
        return Ok(vec![
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)),
        ]);
    }
    let addrs: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("'{s}' is not host:port ({e})"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("'{s}' resolves to no address"));
    }
    Ok(addrs)
}

/// Parses a collector list (see `--collectors`).
pub fn parse_collectors(list: &str) -> Result<Vec<CollectorId>, String> {
    let items: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let replaces = items.iter().any(|i| !i.starts_with(['+', '-']));
    let mut on: Vec<CollectorId> = if replaces {
        Vec::new()
    } else {
        CollectorId::defaults().collect()
    };
    for item in items {
        let (add, name) = match item.as_bytes()[0] {
            b'-' => (false, &item[1..]),
            b'+' => (true, &item[1..]),
            _ => (true, item),
        };
        let id = CollectorId::from_name(name).ok_or_else(|| {
            let names: Vec<&str> = CollectorId::ALL.iter().map(|c| c.name()).collect();
            format!("unknown collector '{name}' (known: {})", names.join(", "))
        })?;
        on.retain(|c| *c != id);
        if add {
            on.push(id);
        }
    }
    Ok(CollectorId::ALL
        .iter()
        .copied()
        .filter(|c| on.contains(c))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_with(args: Args, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(&args, &move |k| map.get(k).cloned())
    }

    fn token_id(vars: &[(&str, &str)]) -> String {
        let c = load_with(Args::default(), vars).unwrap();
        c.routes.default.unwrap().token_id
    }

    const BASE: [(&str, &str); 4] = [
        ("PBS_ENDPOINT", "https://pbs:8007"),
        ("PBS_USERNAME", "monitor@pbs"),
        ("PBS_API_TOKEN_NAME", "exporter"),
        ("PBS_API_TOKEN", "s3cr3t-value"),
    ];

    #[test]
    fn snapshot_history_is_off_by_default_and_clamped() {
        let c = load_with(Args::default(), &BASE).unwrap();
        assert_eq!(c.settings.snapshot_history, 0);
        let with = |v: &str| {
            let vars = [BASE.to_vec(), vec![("PBS_SNAPSHOT_HISTORY", v)]].concat();
            load_with(Args::default(), &vars).map(|c| c.settings.snapshot_history)
        };
        assert_eq!(with("5").unwrap(), 5);
        assert_eq!(with("100000").unwrap(), MAX_SNAPSHOT_HISTORY);
        let e = with("-1").unwrap_err().to_string();
        assert!(e.contains("PBS_SNAPSHOT_HISTORY"), "{e}");
        assert!(with("five").is_err());
    }

    #[test]
    fn snapshot_refresh_options() {
        let c = load_with(Args::default(), &BASE).unwrap();
        assert_eq!(c.settings.snapshots_refresh, Refresh::Changed);
        assert_eq!(c.settings.snapshots_max_age, Duration::from_secs(600));
        let vars = [
            BASE.to_vec(),
            vec![
                ("PBS_SNAPSHOTS_REFRESH", "always"),
                ("PBS_SNAPSHOTS_MAX_AGE", "90s"),
            ],
        ]
        .concat();
        let c = load_with(Args::default(), &vars).unwrap();
        assert_eq!(c.settings.snapshots_refresh, Refresh::Always);
        assert_eq!(c.settings.snapshots_max_age, Duration::from_secs(90));
        for (k, v) in [
            ("PBS_SNAPSHOTS_REFRESH", "sometimes"),
            ("PBS_SNAPSHOTS_MAX_AGE", "0s"),
            ("PBS_SNAPSHOTS_MAX_AGE", "2d"),
        ] {
            let vars = [BASE.to_vec(), vec![(k, v)]].concat();
            let e = load_with(Args::default(), &vars).unwrap_err().to_string();
            assert!(e.contains(k), "{e}");
        }
    }

    #[test]
    fn keep_last_values_is_off_by_default_and_reaches_every_target() {
        let c = load_with(Args::default(), &BASE).unwrap();
        assert_eq!(c.routes.keep_last_values, None);
        assert_eq!(c.routes.default.unwrap().keep_last_values, None);
        let vars = [BASE.to_vec(), vec![("PBS_KEEP_LAST_VALUES", "12h")]].concat();
        let c = load_with(Args::default(), &vars).unwrap();
        let twelve_hours = Some(Duration::from_secs(12 * 3600));
        assert_eq!(c.routes.keep_last_values, twelve_hours);
        assert_eq!(c.routes.default.unwrap().keep_last_values, twelve_hours);
        for bad in ["0s", "32d", "soon"] {
            let vars = [BASE.to_vec(), vec![("PBS_KEEP_LAST_VALUES", bad)]].concat();
            let e = load_with(Args::default(), &vars).unwrap_err().0;
            assert!(e.starts_with("PBS_KEEP_LAST_VALUES: "), "{e}");
        }
    }

    #[test]
    fn natrontech_variables_configure_everything() {
        let c = load_with(Args::default(), &BASE).unwrap();
        let d = c.routes.default.as_ref().unwrap();
        assert_eq!(d.token_id, "monitor@pbs!exporter");
        assert_eq!(d.secret.expose(), "s3cr3t-value");
        assert_eq!(d.timeout, Duration::from_secs(10));
        assert_eq!(c.metrics_path, "/metrics");
        assert_eq!(d.trust, Trust::System);
        assert_eq!(d.collectors, CollectorId::defaults().collect::<Vec<_>>());
        assert_eq!(c.listen[0].port(), 10019);
        assert!(c.routes.env_allow.is_none() && c.routes.modules.is_none());
        assert_eq!((c.compat, c.max_targets), (Compat::None, 64));
    }

    #[test]
    fn a_full_token_id_in_the_token_name_is_taken_whole() {
        let mut vars = BASE.to_vec();
        vars[2] = ("PBS_API_TOKEN_NAME", "root@pam!prom");
        assert_eq!(token_id(&vars), "root@pam!prom");
        vars.remove(1);
        assert_eq!(token_id(&vars), "root@pam!prom");
    }

    #[test]
    fn flags_win_over_the_environment() {
        let args = Args {
            timeout: Some("2s".into()),
            endpoint: Some("https://other:8007".into()),
            ..Args::default()
        };
        let c = load_with(args, &BASE).unwrap();
        let d = c.routes.default.unwrap();
        assert_eq!(d.timeout, Duration::from_secs(2));
        assert_eq!(d.endpoint.host, "other");
    }

    #[test]
    fn the_secret_is_read_from_a_file_and_never_debug_printed() {
        let dir = std::env::temp_dir().join(format!("pbs-exporter-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "from-file-secret\n").unwrap();
        let mut vars = BASE.to_vec();
        vars.remove(3);
        let path = file.to_string_lossy().to_string();
        vars.push(("PBS_API_TOKEN_FILE", &path));
        let c = load_with(Args::default(), &vars).unwrap();
        assert_eq!(
            c.routes.default.as_ref().unwrap().secret.expose(),
            "from-file-secret"
        );
        assert!(!format!("{c:?}").contains("from-file-secret"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_settings_name_their_variable_or_flag() {
        type Case<'a> = (Vec<(&'a str, &'a str)>, Args, &'a str);
        let cases: Vec<Case> = vec![
            (BASE[1..].to_vec(), Args::default(), "PBS_ENDPOINT"),
            (
                [BASE.to_vec(), vec![("PBS_TIMEOUT", "soon")]].concat(),
                Args::default(),
                "PBS_TIMEOUT",
            ),
            (
                BASE.to_vec(),
                Args {
                    timeout: Some("-1s".into()),
                    ..Args::default()
                },
                "--timeout",
            ),
            (
                [BASE.to_vec(), vec![("PBS_FINGERPRINT", "ab:cd")]].concat(),
                Args::default(),
                "PBS_FINGERPRINT",
            ),
            (
                [BASE.to_vec(), vec![("PBS_TASKS_WINDOW", "40d")]].concat(),
                Args::default(),
                "PBS_TASKS_WINDOW",
            ),
            (
                [
                    BASE.to_vec(),
                    vec![("PBS_API_TOKEN_FILE", "/nonexistent/token")],
                ]
                .concat()
                .into_iter()
                .filter(|(k, _)| *k != "PBS_API_TOKEN")
                .collect(),
                Args::default(),
                "PBS_API_TOKEN_FILE",
            ),
            (
                [BASE.to_vec(), vec![("PBS_COLLECTORS", "nodes")]].concat(),
                Args::default(),
                "PBS_COLLECTORS",
            ),
            (
                [BASE.to_vec(), vec![("PBS_LOGLEVEL", "loud")]].concat(),
                Args::default(),
                "PBS_LOGLEVEL",
            ),
            (
                [BASE.to_vec(), vec![("PBS_LOG_FORMAT", "xml")]].concat(),
                Args::default(),
                "PBS_LOG_FORMAT",
            ),
            (
                [BASE.to_vec(), vec![("PBS_INSECURE", "maybe")]].concat(),
                Args::default(),
                "PBS_INSECURE",
            ),
            (
                [BASE.to_vec(), vec![("PBS_USERNAME", "monitor")]].concat(),
                Args::default(),
                "PBS_USERNAME",
            ),
        ];
        for (vars, args, name) in cases {
            let err = load_with(args, &vars).unwrap_err().0;
            assert!(err.contains(name), "{name}: {err}");
            assert!(!err.contains("s3cr3t-value"), "{err}");
        }
    }

    #[test]
    fn pbs_targets_is_an_allow_list_with_the_environments_credentials() {
        let mut vars = BASE[1..].to_vec();
        vars.push(("PBS_TARGETS", "pbs1.example.com, *.lab.example.com:9000"));
        vars.push(("PBS_COMPAT", "natrontech"));
        vars.push(("PBS_MAX_TARGETS", "8"));
        let c = load_with(Args::default(), &vars).unwrap();
        assert!(c.routes.default.is_none());
        let m = c.routes.env_allow.unwrap();
        assert_eq!(m.token_id, "monitor@pbs!exporter");
        assert_eq!(m.targets.len(), 2);
        assert_eq!((c.compat, c.max_targets), (Compat::Natrontech, 8));
        for (var, value) in [
            ("PBS_TARGETS", "pbs*.example.com"),
            ("PBS_TARGETS", ","),
            ("PBS_COMPAT", "prometheus-pve"),
            ("PBS_MAX_TARGETS", "0"),
            ("PBS_CONFIG_FILE", "/nonexistent.yml"),
        ] {
            let mut v = BASE.to_vec();
            v.push((var, value));
            let err = load_with(Args::default(), &v).unwrap_err().0;
            assert!(err.starts_with(var), "{err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("NaNs").is_err());
        assert!(parse_duration("2d").is_err(), "a timeout is at most a day");
        let week = Duration::from_secs(7 * 86_400);
        assert_eq!(parse_duration_within("7d", MAX_TASKS_WINDOW).unwrap(), week);
        assert!(parse_duration_within("32d", MAX_TASKS_WINDOW).is_err());
    }

    #[test]
    fn collector_lists_replace_or_modify_the_default() {
        use CollectorId::*;
        assert_eq!(
            parse_collectors("-snapshots").unwrap(),
            vec![Node, Datastore, Groups, Jobs, Tasks, Subscription, Tape]
        );
        assert_eq!(
            parse_collectors("datastore,node").unwrap(),
            vec![Node, Datastore]
        );
        assert_eq!(
            parse_collectors("-groups,-snapshots,-tasks,-tape,+groups").unwrap(),
            vec![Node, Datastore, Groups, Jobs, Subscription]
        );
        assert!(
            parse_collectors("bogus")
                .unwrap_err()
                .contains("known: node")
        );
    }
}
