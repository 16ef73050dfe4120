//! The command line and environment: every setting documented in `--help`, bad settings exit 2
//! with one line naming what to fix, and the token secret never shows.

mod common;

use common::{Exporter, start_sim};
use pbs_sim::Profile;
use std::process::{Command, Output};

const SECRET: &str = "7d9c1b52-secret-value";

fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pbs-exporter"))
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

const GOOD: [(&str, &str); 3] = [
    ("PBS_ENDPOINT", "https://127.0.0.1:1"),
    ("PBS_API_TOKEN_NAME", "monitor@pbs!exporter"),
    ("PBS_API_TOKEN", SECRET),
];

#[test]
fn help_lists_every_setting_with_its_variable_and_default() {
    let out = run(&GOOD, &["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // argh wraps lines; compare with whitespace folded.
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for var in [
        "PBS_ENDPOINT",
        "PBS_USERNAME",
        "PBS_USERNAME_FILE",
        "PBS_API_TOKEN_NAME",
        "PBS_API_TOKEN_NAME_FILE",
        "PBS_API_TOKEN",
        "PBS_API_TOKEN_FILE",
        "PBS_FINGERPRINT",
        "PBS_CA_FILE",
        "PBS_INSECURE",
        "PBS_TIMEOUT",
        "PBS_LISTEN_ADDRESS",
        "PBS_METRICS_PATH",
        "PBS_LOGLEVEL",
        "PBS_LOG_FORMAT",
        "PBS_WEB_CONFIG_FILE",
        "PBS_COLLECTORS",
        "PBS_MAX_BODY_BYTES",
    ] {
        assert!(help.contains(var), "--help does not mention {var}:\n{help}");
    }
    for default in [
        "default 10s",
        "default :10019",
        "default /metrics",
        "default info",
    ] {
        assert!(help.contains(default), "--help lacks {default}");
    }
    assert!(!help.contains(SECRET));
}

#[test]
fn bad_settings_exit_2_with_one_line_naming_the_setting() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 7] = [
        (&[("PBS_LOG_FORMAT", "xml")], &[], "PBS_LOG_FORMAT"),
        (&GOOD[1..], &[], "PBS_ENDPOINT"),
        (&[("PBS_FINGERPRINT", "12:34")], &[], "PBS_FINGERPRINT"),
        (&[("PBS_TIMEOUT", "fast")], &[], "PBS_TIMEOUT"),
        (&[], &["--timeout", "0s"], "--timeout"),
        (
            &[("PBS_CA_FILE", "/nonexistent/ca.pem")],
            &[],
            "/nonexistent/ca.pem",
        ),
        (
            &[("PBS_LISTEN_ADDRESS", "nonsense")],
            &[],
            "PBS_LISTEN_ADDRESS",
        ),
    ];
    for (extra, args, name) in cases {
        let mut env = GOOD.to_vec();
        if extra
            .first()
            .is_none_or(|(k, _)| *k != "PBS_API_TOKEN_NAME")
        {
            env.extend_from_slice(extra);
        } else {
            env = extra.to_vec();
        }
        let out = run(&env, args);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(name), "{name}: {err}");
        assert!(!err.contains(SECRET), "{err}");
    }
}

#[test]
fn an_unreadable_token_file_is_named() {
    let env = [
        GOOD[0],
        GOOD[1],
        ("PBS_API_TOKEN_FILE", "/nonexistent/pbs-token"),
    ];
    let out = run(&env, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("PBS_API_TOKEN_FILE") && err.contains("/nonexistent/pbs-token"),
        "{err}"
    );
}

#[test]
fn secrets_from_files_work_and_stay_out_of_logs_and_the_command_line() {
    let sim = start_sim(Profile::DEMO, |_| {});
    let dir = std::env::temp_dir().join(format!("pbs-exporter-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, format!("{}\n", sim.token_secret())).unwrap();
    let user = dir.join("user");
    std::fs::write(&user, "monitor@pbs\n").unwrap();
    let name = dir.join("name");
    std::fs::write(&name, "exporter").unwrap();
    let env = vec![
        ("PBS_ENDPOINT".to_string(), sim.endpoint()),
        ("PBS_FINGERPRINT".to_string(), sim.fingerprint()),
        ("PBS_USERNAME_FILE".to_string(), user.display().to_string()),
        (
            "PBS_API_TOKEN_NAME_FILE".to_string(),
            name.display().to_string(),
        ),
        (
            "PBS_API_TOKEN_FILE".to_string(),
            token.display().to_string(),
        ),
        ("PBS_LOGLEVEL".to_string(), "debug".to_string()),
    ];
    let exp = Exporter::start_with(&env, &[]);
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", exp_pid(&exp))).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&cmdline).contains(sim.token_secret()));
    assert!(!exp.log().contains(sim.token_secret()), "{}", exp.log());
    assert!(exp.log().contains("monitor@pbs!exporter"));
    std::fs::remove_dir_all(dir).unwrap();
}

fn exp_pid(exp: &Exporter) -> u32 {
    // The exporter listens on the address it logged; find its pid through /proc.
    let port = exp.addr.port();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains("pbs-exporter") {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            if String::from_utf8_lossy(&env).contains("PBS_API_TOKEN_FILE") {
                let _ = port;
                return pid;
            }
        }
    }
    panic!("exporter process not found");
}

#[test]
fn insecure_mode_warns_loudly() {
    let sim = start_sim(Profile::DEMO, |_| {});
    let env: Vec<(String, String)> = Exporter::env_for(&sim)
        .into_iter()
        .filter(|(k, _)| k != "PBS_FINGERPRINT")
        .collect();
    let exp = Exporter::start_with(&env, &["--insecure"]);
    assert!(
        exp.log().contains("WARN") && exp.log().contains("verification is OFF"),
        "{}",
        exp.log()
    );
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
}

/// `GLIBC_TUNABLES` in the environment of the running exporter (its process, not its start).
fn tunables_of(exp: &Exporter) -> Option<String> {
    let env = std::fs::read(format!("/proc/{}/environ", exp.pid())).unwrap();
    env.split(|&b| b == 0)
        .find_map(|e| e.strip_prefix(b"GLIBC_TUNABLES="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// glibc's thread cache is off and every thread allocates on the main heap (the exporter runs
/// itself again with the settings, keeping its arguments and process), unless `GLIBC_TUNABLES`
/// was set, which is left as it is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn glibc_thread_cache_is_off_unless_glibc_tunables_is_set() {
    let sim = start_sim(Profile::DEMO, |_| {});
    let exp = Exporter::start(&sim, &[], &["--loglevel", "info"]);
    // glibc 2.36 parses the setting in place, writing a NUL over each ':'.
    let tunables = tunables_of(&exp);
    assert!(
        matches!(
            tunables.as_deref(),
            Some("glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1")
                | Some("glibc.malloc.tcache_count=0")
        ),
        "{tunables:?}"
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", exp.pid())).unwrap();
    assert!(cmdline.ends_with(b"\0--loglevel\0info\0"), "{cmdline:?}");
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    // Its other threads (the reactor's, the watchdog) allocate on the main heap.
    assert_eq!(thread_arenas_of(&exp), 0);
    // Run again by the path /proc/self/exe, it is named after its program again, not "exe".
    assert_eq!(comm_of(&exp), "pbs-exporter");
    for set in ["glibc.malloc.tcache_count=3", ""] {
        let exp = Exporter::start(&sim, &[("GLIBC_TUNABLES", set)], &[]);
        assert_eq!(tunables_of(&exp).as_deref(), Some(set));
        assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
        assert!(
            thread_arenas_of(&exp) >= 1,
            "glibc's default: an arena per thread"
        );
        assert_eq!(comm_of(&exp), "pbs-exporter");
    }
}

/// glibc's thread arenas in the running exporter: each is an anonymous read-write mapping at
/// a multiple of 64 MiB followed by the rest of its 64 MiB reserved without access.
fn thread_arenas_of(exp: &Exporter) -> usize {
    const HEAP_MAX: u64 = 64 << 20;
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", exp.pid())).unwrap();
    let maps: Vec<(u64, u64, &str, usize)> = maps
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (lo, hi) = f[0].split_once('-').unwrap();
            let hex = |v| u64::from_str_radix(v, 16).unwrap();
            (hex(lo), hex(hi), f[1], f.len())
        })
        .collect();
    maps.windows(2)
        .filter(|w| {
            let ((lo, hi, perm, fields), (lo2, hi2, perm2, _)) = (w[0], w[1]);
            perm == "rw-p"
                && fields == 5
                && lo % HEAP_MAX == 0
                && perm2 == "---p"
                && lo2 == hi
                && hi2 == lo + HEAP_MAX
        })
        .count()
}

/// The process name of the running exporter, as `pgrep`, `ps -C` and journald see it.
fn comm_of(exp: &Exporter) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", exp.pid())).unwrap();
    comm.trim_end_matches('\n').to_string()
}

/// In secure mode (here: file capabilities, run by an unprivileged user) the exporter does not
/// run itself again: glibc since 2.39 drops `GLIBC_TUNABLES` there, so it would run itself
/// again forever. It starts, serves, and keeps its name (15 bytes of it, as the kernel keeps).
/// Needs root, `setcap` (apt: libcap2-bin) and `setpriv` (util-linux); skipped without them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn in_secure_mode_the_exporter_does_not_run_itself_again() {
    let dir = std::env::temp_dir().join(format!("pbs-exporter-secure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A name longer than the kernel keeps (15 bytes).
    let copy = dir.join("pbs-exporter-with-caps");
    std::fs::copy(env!("CARGO_BIN_EXE_pbs-exporter"), &copy).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [&dir, &copy] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let setcap = Command::new("setcap")
        .arg("cap_net_bind_service=+ep")
        .arg(&copy)
        .output();
    let setpriv_there = Command::new("setpriv").arg("--version").output().is_ok();
    if !setpriv_there || !matches!(&setcap, Ok(o) if o.status.success()) {
        eprintln!("skipped: setcap or setpriv missing or refused (root, libcap2-bin): {setcap:?}");
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    }
    let copy = copy.to_str().unwrap();
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        copy,
    ];
    // Started at all (an endless loop of runs never gets to print its version).
    let mut cmd = Command::new("timeout");
    cmd.args(["10"]).args(setpriv).arg("--version").env_clear();
    prints_its_version(cmd.output().unwrap());
    let sim = start_sim(Profile::DEMO, |_| {});
    let exp = Exporter::start_via(&setpriv, &Exporter::env_for(&sim), &[]);
    let secure = std::fs::read(format!("/proc/{}/auxv", exp.pid())).unwrap();
    let secure = secure
        .chunks_exact(16)
        .map(|kv| kv.split_at(8))
        .find(|(k, _)| *k == 23u64.to_ne_bytes())
        .map(|(_, v)| u64::from_ne_bytes(v.try_into().unwrap()));
    assert_eq!(secure, Some(1), "not in secure mode");
    assert_eq!(tunables_of(&exp), None);
    assert_eq!(comm_of(&exp), "pbs-exporter-wi");
    assert_eq!(exp.scrape().value("pbs_up", &[]), 1.0);
    drop(exp);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Run through the dynamic loader explicitly, the exporter does not run itself again: that
/// would run the loader (`/proc/self/exe`) with the exporter's arguments as the loader's own.
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    target_arch = "x86_64",
    not(target_feature = "crt-static")
))]
#[test]
fn run_through_the_dynamic_loader_it_does_not_run_itself_again() {
    let loader = "/lib64/ld-linux-x86-64.so.2";
    if !std::path::Path::new(loader).exists() {
        eprintln!("skipped: no {loader}");
        return;
    }
    let mut cmd = Command::new(loader);
    cmd.args([env!("CARGO_BIN_EXE_pbs-exporter"), "--version"])
        .env_clear();
    prints_its_version(cmd.output().unwrap());
}

#[test]
fn version_flag() {
    prints_its_version(run(&[], &["--version"]));
}

/// `--version` ran: exit 0, the exporter's name and version.
fn prints_its_version(out: Output) {
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("pbs-exporter {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn json_and_logfmt_logs_are_one_event_per_line_and_never_the_secret() {
    let sim = start_sim(Profile::DEMO, |_| {});
    let wrong = "0bad5ec2-wrong-secret-value";
    for format in ["json", "logfmt"] {
        let exp = Exporter::start(
            &sim,
            &[
                ("PBS_API_TOKEN", wrong),
                ("PBS_LOG_FORMAT", format),
                ("PBS_LOGLEVEL", "debug"),
            ],
            &[],
        );
        assert_eq!(exp.scrape().value("pbs_up", &[]), 0.0);
        let log = exp.wait_log("401");
        assert!(!log.contains(wrong), "{log}");
        let mut levels = Vec::new();
        for line in log.lines() {
            if format == "json" {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not one JSON object: {line:?}: {e}"));
                let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["level", "msg", "time"], "{line}");
                levels.push(v["level"].as_str().unwrap().to_string());
            } else {
                let rest = line.strip_prefix("time=").expect(line);
                let (time, rest) = rest.split_once(" level=").expect(line);
                let (level, msg) = rest.split_once(" msg=\"").expect(line);
                assert_eq!(time.len(), 20, "{line}");
                assert!(msg.ends_with('"') && !msg.ends_with("\\\""), "{line}");
                // Inside the quotes every `"` is escaped.
                let inner = &msg[..msg.len() - 1];
                assert!(
                    inner
                        .match_indices('"')
                        .all(|(i, _)| inner[..i].ends_with('\\')),
                    "{line}"
                );
                levels.push(level.to_string());
            }
        }
        for level in ["info", "warn"] {
            assert!(
                levels.iter().any(|l| l == level),
                "{format}: no {level} line: {log}"
            );
        }
    }
}
