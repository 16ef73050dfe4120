//! `footprint`: measures the memory and CPU of an exporter binary against the in-process PBS
//! simulator, per profile, and compares them with the budgets.
//!
//! ```text
//! scripts/footprint.sh                          # builds the static binary, then runs this
//! cargo run --release --example footprint -- --binary target/release/pbs-exporter --repeats 1
//! ```
//!
//! Every collector is on (`PBS_COLLECTORS` names them all, `support::Exporter`), and a scrape in which one failed
//! fails the measurement. Only the exporter process is measured: the simulator and the HTTP client run here, in this
//! process. For each profile and repeat: start the simulator, spawn the exporter pinned to its
//! fingerprint (listening on 127.0.0.1:0; the address is read from its log), wait until it
//! listens, let it settle, read VmRSS (idle, before any scrape), do one warm-up scrape (it opens
//! the TLS connection to PBS), then N scrapes over one kept-alive HTTP/1.1 connection, timing
//! each. utime+stime (/proc/PID/stat, all threads, 100 ticks/s) before and after the N scrapes
//! give CPU per scrape; VmHWM after them is the peak RSS. Finally SIGTERM, expecting status 0.
//!
//! The table's exporter reads every snapshot every scrape (`PBS_SNAPSHOTS_REFRESH=always`): its
//! CPU and peak are those of full reads, the worst case (a first scrape, or one after a
//! verify). With the large profile in the list, a "PBS cost" table follows for the default
//! (`--snapshots-refresh changed`): the manifests PBS reads (snapshot items the simulator
//! served, `pbs_sim::Cost`) in the first scrape, per steady-state scrape (budget: at most 1 % of
//! the first) and in the scrape after one new backup (budget: at most that group's snapshot
//! count), and the exporter's CPU per steady-state scrape.
//!
//! A profile may carry `+history=N`: the exporter then runs with `PBS_SNAPSHOT_HISTORY=N`
//! (`large+history=5` is in the default list: its own budget, peak ≤ 6 MiB).
//! `--gzip` sends `Accept-Encoding: gzip` (as Prometheus does), requires a gzip answer and
//! decompresses it for the sanity check; the "on the wire" column then shows compressed bytes.
//!
//! Exit status: 0 when every measurement ran, budgets met or not; 1 when a measurement failed
//! (exporter did not start, a scrape failed its sanity check, ...); 2 on bad arguments.

mod support;

use argh::FromArgs;
use pbs_sim::{self as sim, Change, Profile, SimConfig};
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use support::{Client, Exporter, ProcStatus, read_cpu_ticks, read_status};

/// Measures idle RSS, peak RSS (VmHWM), CPU per scrape and scrape latency of an exporter binary
/// against the built-in PBS simulator.
#[derive(FromArgs)]
struct Args {
    /// exporter binary to measure (default
    /// target/x86_64-unknown-linux-gnu/static/pbs-exporter, the static build)
    #[argh(option)]
    binary: Option<PathBuf>,
    /// comma-separated profiles: reference, large, deep, tasks, demo or DxNxGxS, each optionally
    /// with +history=N (--snapshot-history N); empty: only the multi-target measurement
    /// (default reference,large,deep,tasks,large+history=5)
    #[argh(
        option,
        default = "String::from(\"reference,large,deep,tasks,large+history=5\")"
    )]
    profiles: String,
    /// how many times to repeat each measurement (default 3)
    #[argh(option, default = "3")]
    repeats: usize,
    /// timed scrapes per measurement, after one warm-up scrape (default 100)
    #[argh(option, default = "100")]
    scrapes: usize,
    /// how long the exporter settles before the idle RSS is read, in ms (default 300)
    #[argh(option, default = "300")]
    settle_ms: u64,
    /// ask for gzip (Accept-Encoding: gzip), as Prometheus does
    #[argh(switch)]
    gzip: bool,
    /// simulators (reference profile, each with its own token and certificate) scraped
    /// concurrently through one exporter's config file; 0 skips it (default 10)
    #[argh(option, default = "10")]
    targets: usize,
    /// rounds of the multi-target measurement: each round scrapes every target at once
    /// (default 20)
    #[argh(option, default = "20")]
    rounds: usize,
}

/// Multi-target budgets: peak RSS, CPU per target-scrape relative to one target's, and the
/// memory each target adds while held idle: its anonymous memory over the idle exporter's, and
/// its whole RSS past the first target's (whose scrape maps the scrape's code once).
const MULTI_PEAK_MIB: f64 = 6.0;
const MULTI_CPU_RATIO: f64 = 1.2;
const MULTI_HELD_KIB_PER_TARGET: f64 = 64.0;

/// Clock ticks per second of /proc/PID/stat (USER_HZ: 100 on every Linux architecture that
/// matters here; the kernel fixes it for user space whatever CONFIG_HZ is).
const TICKS_PER_SEC: f64 = 100.0;
const KIB_PER_MIB: f64 = 1024.0;

/// Budgets: idle RSS MiB, peak RSS MiB, CPU ms per scrape.
struct Budget {
    idle_mib: f64,
    peak_mib: f64,
    cpu_ms: f64,
}

/// The 100,000-task profile's peak may exceed the reference profile's (measured in the same
/// run) by this much: task counts are aggregated while the list streams in.
const TASKS_PEAK_OVER_REFERENCE_MIB: f64 = 0.25;

/// What is measured: a simulator profile, and the exporter's `--snapshot-history`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Case {
    profile: Profile,
    history: usize,
}

impl Case {
    /// `PROFILE[+history=N]`.
    fn parse(s: &str) -> Result<Case, String> {
        let (p, history) = match s.split_once("+history=") {
            Some((p, n)) => (
                p,
                n.parse()
                    .map_err(|_| format!("'{s}': +history= needs a number"))?,
            ),
            None => (s, 0),
        };
        Ok(Case {
            profile: Profile::parse(p)?,
            history,
        })
    }
}

fn budget_for(case: Case) -> Option<Budget> {
    let p = case.profile;
    if case.history > 0 {
        // Per-snapshot series for the newest 5 of each of the large profile's 2,000 groups.
        return (p == Profile::LARGE && case.history == 5).then_some(Budget {
            idle_mib: 2.5,
            peak_mib: 6.0,
            cpu_ms: 150.0,
        });
    }
    if p == Profile::REFERENCE {
        Some(Budget {
            idle_mib: 2.5,
            peak_mib: 4.0,
            cpu_ms: 10.0,
        })
    } else if p == Profile::LARGE {
        Some(Budget {
            idle_mib: 2.5,
            peak_mib: 5.0,
            cpu_ms: 150.0,
        })
    } else if p == Profile::DEEP {
        Some(Budget {
            idle_mib: 2.5,
            peak_mib: 4.0,
            cpu_ms: 250.0,
        })
    } else {
        None
    }
}

fn case_name(c: Case) -> String {
    match c.history {
        0 => profile_name(c.profile),
        n => format!("{}+history={n}", profile_name(c.profile)),
    }
}

fn profile_name(p: Profile) -> String {
    for (name, q) in [
        ("reference", Profile::REFERENCE),
        ("large", Profile::LARGE),
        ("deep", Profile::DEEP),
        ("tasks", Profile::TASKS),
        ("demo", Profile::DEMO),
    ] {
        if p == q {
            return name.to_string();
        }
    }
    p.to_string()
}

fn check_body(body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    if let Some(failed) = text
        .lines()
        .find(|l| l.starts_with("pbs_scrape_collector_success{") && l.ends_with(" 0"))
    {
        return Err(format!("a collector failed: {failed}"));
    }
    if body.last() != Some(&b'\n') {
        return Err(format!(
            "body of {} bytes does not end with a newline",
            body.len()
        ));
    }
    let has_up = body.starts_with(b"pbs_up 1\n") || body.windows(10).any(|w| w == b"\npbs_up 1\n");
    if !has_up {
        let text = String::from_utf8_lossy(body);
        let up: Vec<&str> = text.lines().filter(|l| l.starts_with("pbs_up")).collect();
        return Err(format!("body has no 'pbs_up 1' line (found {up:?})"));
    }
    Ok(())
}

/// One measurement of one profile.
struct Sample {
    idle: ProcStatus,
    hwm_before_kib: u64,
    after: ProcStatus,
    cpu_ms_per_scrape: f64,
    warmup_ms: f64,
    latencies_ms: Vec<f64>,
    body_bytes: usize,
    /// The last body's size on the wire (compressed with `--gzip`).
    wire_bytes: usize,
    reconnects: usize,
}

fn measure(args: &Args, binary: &PathBuf, case: Case) -> Result<Sample, String> {
    let handle = sim::start(SimConfig {
        profile: case.profile,
        ..SimConfig::default()
    })
    .map_err(|e| format!("simulator: {e}"))?;
    let exporter = Exporter::spawn(
        binary,
        &handle,
        &[
            ("PBS_SNAPSHOT_HISTORY", case.history.to_string()),
            ("PBS_SNAPSHOTS_REFRESH", "always".to_string()),
        ],
    )?;
    let pid = exporter.pid();
    let proc_err = |e: io::Error| format!("/proc/{pid}: {e}");
    // Let it settle.
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let idle = read_status(pid).map_err(proc_err)?;

    let mut client = Client::new(exporter.addr);
    let mut body = Vec::new();
    let mut wire = Vec::new();
    let headers: &[(&str, &str)] = if args.gzip {
        &[("Accept-Encoding", "gzip")]
    } else {
        &[]
    };
    let mut scrape = |client: &mut Client, body: &mut Vec<u8>| -> Result<f64, String> {
        let t = Instant::now();
        let status = client.get_with("/metrics", headers, &mut wire)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if status != 200 {
            return Err(format!("/metrics answered {status}"));
        }
        body.clear();
        match (args.gzip, client.gzip) {
            (true, true) => {
                use std::io::Read;
                flate2::read::GzDecoder::new(&wire[..])
                    .read_to_end(body)
                    .map_err(|e| format!("gzip body: {e}"))?;
            }
            (false, false) => body.extend_from_slice(&wire),
            (asked, got) => return Err(format!("asked for gzip: {asked}, got gzip: {got}")),
        }
        check_body(body)?;
        Ok(ms)
    };
    let warmup_ms = scrape(&mut client, &mut body)?;
    let reconnects_before = client.reconnects;

    let hwm_before_kib = read_status(pid).map_err(proc_err)?.hwm_kib;
    let cpu_before = read_cpu_ticks(pid).map_err(proc_err)?;
    let mut latencies_ms = Vec::with_capacity(args.scrapes);
    for i in 0..args.scrapes {
        latencies_ms
            .push(scrape(&mut client, &mut body).map_err(|e| format!("scrape {}: {e}", i + 1))?);
    }
    let cpu_after = read_cpu_ticks(pid).map_err(proc_err)?;
    let after = read_status(pid).map_err(proc_err)?;
    let body_bytes = body.len();
    let wire_bytes = wire.len();
    let reconnects = client.reconnects - reconnects_before;
    drop(client);

    for line in exporter.problems() {
        eprintln!("  exporter log: {line}");
    }
    exporter.stop()?;
    handle.stop();

    let cpu_ms_per_scrape =
        (cpu_after - cpu_before) as f64 / TICKS_PER_SEC * 1e3 / args.scrapes as f64;
    Ok(Sample {
        idle,
        hwm_before_kib,
        after,
        cpu_ms_per_scrape,
        warmup_ms,
        latencies_ms,
        body_bytes,
        wire_bytes,
        reconnects,
    })
}

/// One multi-target measurement.
struct Multi {
    idle: ProcStatus,
    single_cpu_ms: f64,
    multi_cpu_ms: f64,
    peak: ProcStatus,
    /// Target 1 alone held idle, after its scrapes.
    held1: ProcStatus,
    /// Every target held idle, after the rounds.
    held: ProcStatus,
    round_ms: Vec<f64>,
}

impl Multi {
    /// RSS the targets held idle add to the idle exporter, per target, whole: it includes the
    /// binary's code and data that the first scrape of the process maps once (file pages).
    fn per_target_kib(&self, targets: usize) -> f64 {
        (self.held.rss_kib as f64 - self.idle.rss_kib as f64) / targets as f64
    }

    /// Anonymous memory (heap, stacks) the targets held idle add to the idle exporter, per
    /// target: one of the budget's two figures. The rest of RSS is file pages (and shared
    /// memory, none here): for the static binary its code and read-only data, mapped once per
    /// process, not per target.
    fn per_target_anon_kib(&self, targets: usize) -> f64 {
        (self.held.anon_kib as f64 - self.idle.anon_kib as f64) / targets as f64
    }

    /// RSS each target after the first adds while held idle: without what the first scrape
    /// of the process costs once (binary pages it touches, allocator caches). None with one
    /// target: there is no target after the first.
    fn marginal_kib(&self, targets: usize) -> Option<f64> {
        let after_first = targets.checked_sub(1).filter(|&n| n > 0)?;
        Some((self.held.rss_kib as f64 - self.held1.rss_kib as f64) / after_first as f64)
    }
}

/// `--targets` simulators of the reference profile, each with its own token (in its own token
/// file) and certificate, in one config file (a module each). The exporter's idle RSS before any
/// scrape; CPU per scrape of target 1 alone (one warm-up, then `--rounds` scrapes), and RSS
/// after settling with target 1 held idle; then one warm-up of every target and `--rounds`
/// rounds scraping all of them at once (one thread and kept-alive connection each): CPU per
/// target-scrape and peak RSS; then RSS after settling with the targets held idle.
fn measure_multi(args: &Args, binary: &PathBuf) -> Result<Multi, String> {
    let dir = std::env::temp_dir().join(format!("pbs-footprint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut sims = Vec::new();
    let mut config = String::from("modules:\n");
    for k in 0..args.targets {
        let secret = format!("footprint-secret-{k}");
        let handle = sim::start(SimConfig {
            profile: Profile::REFERENCE,
            token_id: format!("monitor@pbs!exporter{k}"),
            token_secret: secret.clone(),
            ..SimConfig::default()
        })
        .map_err(|e| format!("simulator: {e}"))?;
        let token_file = dir.join(format!("token{k}"));
        std::fs::write(&token_file, &secret).map_err(|e| e.to_string())?;
        config.push_str(&format!(
            "  m{k}:\n    token_id: \"{}\"\n    token_file: {}\n    targets:\n      - target: 127.0.0.1:{}\n        fingerprint: \"{}\"\n",
            handle.token_id(),
            token_file.display(),
            handle.addr().port(),
            handle.fingerprint()
        ));
        sims.push(handle);
    }
    let config_file = dir.join("config.yml");
    std::fs::write(&config_file, config).map_err(|e| e.to_string())?;
    let exporter = Exporter::spawn_with(
        binary,
        &[("PBS_CONFIG_FILE", config_file.display().to_string())],
    )?;
    let pid = exporter.pid();
    let proc_err = |e: io::Error| format!("/proc/{pid}: {e}");
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let idle = read_status(pid).map_err(proc_err)?;
    let paths: Vec<String> = sims
        .iter()
        .enumerate()
        .map(|(k, s)| format!("/metrics?target=127.0.0.1:{}&module=m{k}", s.addr().port()))
        .collect();
    let scrape = |client: &mut Client, body: &mut Vec<u8>, path: &str| -> Result<(), String> {
        let status = client.get(path, body)?;
        if status != 200 {
            return Err(format!("{path} answered {status}"));
        }
        check_body(body)
    };

    // One target alone: the figure the others are compared with.
    let mut client = Client::new(exporter.addr);
    let mut body = Vec::new();
    scrape(&mut client, &mut body, &paths[0])?;
    let before = read_cpu_ticks(pid).map_err(proc_err)?;
    for _ in 0..args.rounds {
        scrape(&mut client, &mut body, &paths[0])?;
    }
    let single_ticks = read_cpu_ticks(pid).map_err(proc_err)? - before;
    drop(client);
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let held1 = read_status(pid).map_err(proc_err)?;

    // All targets at once, round after round.
    let mut clients: Vec<(Client, Vec<u8>)> = (0..paths.len())
        .map(|_| (Client::new(exporter.addr), Vec::new()))
        .collect();
    for ((client, body), path) in clients.iter_mut().zip(&paths) {
        scrape(client, body, path)?;
    }
    let before = read_cpu_ticks(pid).map_err(proc_err)?;
    let mut round_ms = Vec::new();
    for _ in 0..args.rounds {
        let t = Instant::now();
        let results: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .iter_mut()
                .zip(&paths)
                .map(|((client, body), path)| s.spawn(move || scrape(client, body, path)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("client thread panicked".into()))
                })
                .collect()
        });
        round_ms.push(t.elapsed().as_secs_f64() * 1e3);
        for r in results {
            r?;
        }
    }
    let multi_ticks = read_cpu_ticks(pid).map_err(proc_err)? - before;
    let peak = read_status(pid).map_err(proc_err)?;
    drop(clients);
    std::thread::sleep(Duration::from_millis(args.settle_ms));
    let held = read_status(pid).map_err(proc_err)?;
    for line in exporter.problems() {
        eprintln!("  exporter log: {line}");
    }
    exporter.stop()?;
    for s in sims {
        s.stop();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let ms = |ticks: u64, scrapes: usize| ticks as f64 / TICKS_PER_SEC * 1e3 / scrapes as f64;
    Ok(Multi {
        idle,
        single_cpu_ms: ms(single_ticks, args.rounds),
        multi_cpu_ms: ms(multi_ticks, args.rounds * paths.len()),
        peak,
        held1,
        held,
        round_ms,
    })
}

/// Steady-state manifests per scrape may be at most this fraction of the first scrape's.
const STEADY_MANIFESTS_RATIO: f64 = 0.01;

/// What one scrape cost PBS, and one run of the PBS-cost measurement.
struct CostRun {
    first: sim::Cost,
    /// Over all steady-state scrapes.
    steady: sim::Cost,
    after_backup: sim::Cost,
    /// Snapshots of the group that got the new backup, after it.
    group_snapshots: u64,
    steady_cpu_ms: f64,
}

/// The large profile with the default refresh: the first scrape, `--scrapes` steady-state ones
/// (CPU timed), then one new backup in store1's vm/100 and one more scrape.
fn measure_cost(args: &Args, binary: &PathBuf) -> Result<CostRun, String> {
    let profile = Profile::LARGE;
    let handle = sim::start(SimConfig {
        profile,
        ..SimConfig::default()
    })
    .map_err(|e| format!("simulator: {e}"))?;
    let exporter = Exporter::spawn(binary, &handle, &[])?;
    let pid = exporter.pid();
    let proc_err = |e: io::Error| format!("/proc/{pid}: {e}");
    let mut client = Client::new(exporter.addr);
    let mut body = Vec::new();
    let mut scrape = |client: &mut Client| -> Result<(), String> {
        match client.get_with("/metrics", &[], &mut body)? {
            200 => check_body(&body),
            status => Err(format!("/metrics answered {status}")),
        }
    };
    handle.reset_cost();
    scrape(&mut client)?;
    let first = handle.reset_cost();
    let cpu_before = read_cpu_ticks(pid).map_err(proc_err)?;
    for i in 0..args.scrapes {
        scrape(&mut client).map_err(|e| format!("steady scrape {}: {e}", i + 1))?;
    }
    let cpu_after = read_cpu_ticks(pid).map_err(proc_err)?;
    let steady = handle.reset_cost();
    let group = (0, 0, 0);
    handle.change(group, Change::NewBackup)?;
    scrape(&mut client)?;
    let after_backup = handle.reset_cost();
    let group_snapshots = handle
        .changes()
        .group(group.0, group.1, group.2)
        .backup_count(&profile);
    drop(client);
    for line in exporter.problems() {
        eprintln!("  exporter log: {line}");
    }
    exporter.stop()?;
    handle.stop();
    Ok(CostRun {
        first,
        steady,
        after_backup,
        group_snapshots,
        steady_cpu_ms: (cpu_after - cpu_before) as f64 / TICKS_PER_SEC * 1e3 / args.scrapes as f64,
    })
}

/// Runs the PBS-cost measurement `--repeats` times and prints its table.
fn report_cost(args: &Args, binary: &PathBuf) -> Result<bool, String> {
    let mut runs = Vec::new();
    let per_scrape = |c: &sim::Cost| c.manifests() as f64 / args.scrapes as f64;
    let bytes_per_scrape = |c: &sim::Cost| c.bytes() as f64 / args.scrapes as f64;
    for rep in 1..=args.repeats {
        let r = measure_cost(args, binary)?;
        println!(
            "  PBS cost #{rep}: manifests first {}, steady {:.2}/scrape, after one new backup {} (group of {}); bytes first {}, steady {:.0}/scrape, after {}; CPU {:.2} ms per steady-state scrape",
            r.first.manifests(),
            per_scrape(&r.steady),
            r.after_backup.manifests(),
            r.group_snapshots,
            r.first.bytes(),
            bytes_per_scrape(&r.steady),
            r.after_backup.bytes(),
            r.steady_cpu_ms
        );
        runs.push(r);
    }
    let stat = |f: &dyn Fn(&CostRun) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
    let first = stat(&|r| r.first.manifests() as f64);
    let steady = stat(&|r| per_scrape(&r.steady));
    let after = stat(&|r| r.after_backup.manifests() as f64);
    let group = runs.last().map_or(0, |r| r.group_snapshots) as f64;
    let cpu = stat(&|r| r.steady_cpu_ms);
    let first_kb = stat(&|r| r.first.bytes() as f64 / 1000.0);
    let steady_kb = stat(&|r| bytes_per_scrape(&r.steady) / 1000.0);
    let after_kb = stat(&|r| r.after_backup.bytes() as f64 / 1000.0);
    let met = |ok: bool| if ok { "met" } else { "**NOT met**" };
    let steady_limit = first.median * STEADY_MANIFESTS_RATIO;
    println!();
    println!(
        "| PBS cost, large profile, default `--snapshots-refresh changed` | Manifests PBS reads | Bytes PBS sends (kB) | Budget | |"
    );
    println!("|---|---:|---:|---:|---|");
    println!(
        "| first scrape | {} | {} | | |",
        first.show(0),
        first_kb.show(0)
    );
    println!(
        "| steady-state scrape (mean of {}) | {} | {} | ≤ 1 % of the first = {steady_limit:.0} | {} |",
        args.scrapes,
        steady.show(2),
        steady_kb.show(1),
        met(steady.median <= steady_limit)
    );
    println!(
        "| scrape after one new backup (store1 vm/100) | {} | {} | ≤ the group's {group:.0} snapshots | {} |",
        after.show(0),
        after_kb.show(0),
        met(after.median <= group)
    );
    println!(
        "| exporter CPU per steady-state scrape (ms) | {} | | | |",
        cpu.show(2)
    );
    Ok(steady.median <= steady_limit && after.median <= group)
}

/// Runs the multi-target measurement `--repeats` times and prints its table.
fn report_multi(args: &Args, binary: &PathBuf) -> Result<bool, String> {
    let mut runs = Vec::new();
    for rep in 1..=args.repeats {
        let m = measure_multi(args, binary)?;
        println!(
            "  {} targets #{rep}: idle {:.2} MiB (anon {:.2}, file {:.2}); CPU {:.2} ms/scrape alone, {:.2} ms per target-scrape concurrently; peak {:.2} MiB; 1 target held idle {:.2} MiB (anon {:.2}, file {:.2}); {} held idle {:.2} MiB (anon {:.2}, file {:.2}); +{:.0} KiB/target over idle (anon +{:.0}){}; round median {:.1} ms",
            args.targets,
            mib(m.idle.rss_kib),
            mib(m.idle.anon_kib),
            mib(m.idle.file_kib),
            m.single_cpu_ms,
            m.multi_cpu_ms,
            mib(m.peak.hwm_kib),
            mib(m.held1.rss_kib),
            mib(m.held1.anon_kib),
            mib(m.held1.file_kib),
            args.targets,
            mib(m.held.rss_kib),
            mib(m.held.anon_kib),
            mib(m.held.file_kib),
            m.per_target_kib(args.targets),
            m.per_target_anon_kib(args.targets),
            m.marginal_kib(args.targets)
                .map(|k| format!(", +{k:.0} KiB per target after the first"))
                .unwrap_or_default(),
            median(&m.round_ms)
        );
        runs.push(m);
    }
    let peak = Stat::of(&runs.iter().map(|m| mib(m.peak.hwm_kib)).collect::<Vec<_>>());
    let single = Stat::of(&runs.iter().map(|m| m.single_cpu_ms).collect::<Vec<_>>());
    let multi = Stat::of(&runs.iter().map(|m| m.multi_cpu_ms).collect::<Vec<_>>());
    let ratio = Stat::of(
        &runs
            .iter()
            .map(|m| m.multi_cpu_ms / m.single_cpu_ms)
            .collect::<Vec<_>>(),
    );
    let stat = |f: &dyn Fn(&Multi) -> f64| Stat::of(&runs.iter().map(f).collect::<Vec<_>>());
    let per_target = stat(&|m| m.per_target_kib(args.targets));
    let per_target_anon = stat(&|m| m.per_target_anon_kib(args.targets));
    let marginal: Vec<f64> = runs
        .iter()
        .filter_map(|m| m.marginal_kib(args.targets))
        .collect();
    let idle = stat(&|m| mib(m.idle.rss_kib));
    let held1 = stat(&|m| mib(m.held1.rss_kib));
    let held = stat(&|m| mib(m.held.rss_kib));
    let anon = |f: &dyn Fn(&Multi) -> u64| stat(&|m| mib(f(m)));
    let (idle_anon, held1_anon, held_anon) = (
        anon(&|m| m.idle.anon_kib),
        anon(&|m| m.held1.anon_kib),
        anon(&|m| m.held.anon_kib),
    );
    let met = |ok: bool| if ok { "met" } else { "**NOT met**" };
    println!();
    println!(
        "| {} targets × {} rounds (reference profile) | Value, median (min–max) | Budget | |",
        args.targets, args.rounds
    );
    println!("|---|---:|---:|---|");
    println!(
        "| peak RSS (MiB) | {} | ≤ {MULTI_PEAK_MIB} | {} |",
        peak.show(2),
        met(peak.median <= MULTI_PEAK_MIB)
    );
    println!(
        "| CPU per target-scrape (ms), concurrently / one target alone | {} / {} = {} | ≤ {MULTI_CPU_RATIO} × | {} |",
        multi.show(2),
        single.show(2),
        ratio.show(2),
        met(ratio.median <= MULTI_CPU_RATIO)
    );
    println!(
        "| RSS idle → with 1 target held idle → with the {} held idle (MiB) | {} → {} → {} | | |",
        args.targets,
        idle.show(2),
        held1.show(2),
        held.show(2)
    );
    println!(
        "| of which anonymous, RssAnon (heap, stacks; the rest is the binary's file pages) (MiB) | {} → {} → {} | | |",
        idle_anon.show(2),
        held1_anon.show(2),
        held_anon.show(2)
    );
    println!(
        "| anonymous memory added per target held idle, RssAnon (held {} − idle) / {} (KiB) | {} | ≤ {MULTI_HELD_KIB_PER_TARGET} | {} |",
        args.targets,
        args.targets,
        per_target_anon.show(0),
        met(per_target_anon.median <= MULTI_HELD_KIB_PER_TARGET)
    );
    let marginal = (!marginal.is_empty()).then(|| Stat::of(&marginal));
    if let Some(marginal) = &marginal {
        println!(
            "| RSS added per target after the first, (held {} − held 1) / {} (KiB) | {} | ≤ {MULTI_HELD_KIB_PER_TARGET} | {} |",
            args.targets,
            args.targets - 1,
            marginal.show(0),
            met(marginal.median <= MULTI_HELD_KIB_PER_TARGET)
        );
    }
    println!(
        "| RSS added per target held idle, whole, (held {} − idle) / {} (KiB): with the code the first scrape maps once | {} | ≤ {MULTI_HELD_KIB_PER_TARGET} (issue 8's figure) | not judged: see README |",
        args.targets,
        args.targets,
        per_target.show(0)
    );
    Ok(peak.median <= MULTI_PEAK_MIB
        && ratio.median <= MULTI_CPU_RATIO
        && per_target_anon.median <= MULTI_HELD_KIB_PER_TARGET
        && marginal.is_none_or(|m| m.median <= MULTI_HELD_KIB_PER_TARGET))
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn median(v: &[f64]) -> f64 {
    let v = sorted(v.to_vec());
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Median with min–max, over the repeats.
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

impl Stat {
    fn of(v: &[f64]) -> Stat {
        let s = sorted(v.to_vec());
        Stat {
            median: median(&s),
            min: s[0],
            max: s[s.len() - 1],
        }
    }

    fn show(&self, decimals: usize) -> String {
        if self.min == self.max {
            format!("{:.*}", decimals, self.median)
        } else {
            format!(
                "{:.*} ({:.*}–{:.*})",
                decimals, self.median, decimals, self.min, decimals, self.max
            )
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / KIB_PER_MIB
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    let binary = args.binary.clone().unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
        target.join("x86_64-unknown-linux-gnu/static/pbs-exporter")
    });
    if !binary.is_file() {
        eprintln!(
            "footprint: {} does not exist: run scripts/build-static.sh, or pass --binary",
            binary.display()
        );
        return ExitCode::from(2);
    }
    let mut profiles = Vec::new();
    for p in args
        .profiles
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        match Case::parse(p) {
            Ok(p) => profiles.push(p),
            Err(e) => {
                eprintln!("footprint: --profiles: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if (profiles.is_empty() && args.targets == 0) || args.repeats == 0 || args.scrapes == 0 {
        eprintln!("footprint: need at least one profile (or --targets), one repeat and one scrape");
        return ExitCode::from(2);
    }

    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!(
        "footprint: {} ({size} bytes, {:.2} MiB); {} repeat(s) × (1 warm-up + {} scrapes) per profile; {}",
        binary.display(),
        size as f64 / 1048576.0,
        args.repeats,
        args.scrapes,
        if args.gzip {
            "Accept-Encoding: gzip"
        } else {
            "plain (no Accept-Encoding)"
        }
    );

    // Repeats are the outer loop, so slow drift on the machine spreads over all profiles.
    let mut samples: Vec<Vec<Sample>> = profiles.iter().map(|_| Vec::new()).collect();
    for rep in 1..=args.repeats {
        for (i, &profile) in profiles.iter().enumerate() {
            match measure(&args, &binary, profile) {
                Ok(s) => {
                    let lat = Stat::of(&s.latencies_ms);
                    println!(
                        "  {:<9} #{rep}: idle {:.2} MiB (anon {:.2}, file {:.2}, {} threads); peak {:.2} MiB (VmHWM before scrapes {:.2}); after {:.2} MiB (anon {:.2}, file {:.2}); CPU {:.2} ms/scrape; latency median {:.2} ms ({:.2}–{:.2}), warm-up {:.1} ms; body {} bytes, {} on the wire{}",
                        case_name(profile),
                        mib(s.idle.rss_kib),
                        mib(s.idle.anon_kib),
                        mib(s.idle.file_kib),
                        s.idle.threads,
                        mib(s.after.hwm_kib),
                        mib(s.hwm_before_kib),
                        mib(s.after.rss_kib),
                        mib(s.after.anon_kib),
                        mib(s.after.file_kib),
                        s.cpu_ms_per_scrape,
                        lat.median,
                        lat.min,
                        lat.max,
                        s.warmup_ms,
                        s.body_bytes,
                        s.wire_bytes,
                        if s.reconnects > 0 {
                            format!(
                                "; WARNING: {} reconnect(s), keep-alive not kept",
                                s.reconnects
                            )
                        } else {
                            String::new()
                        }
                    );
                    samples[i].push(s);
                }
                Err(e) => {
                    println!("FAIL: {} #{rep}: {e}", case_name(profile));
                    return ExitCode::FAILURE;
                }
            }
        }
    }

    if !profiles.is_empty() {
        println!();
        println!(
            "Per profile, median over {} repeat(s) (min–max):",
            args.repeats
        );
    }
    let mut rows = Vec::new();
    let mut all_met = true;
    let peak_of = |ss: &[Sample]| {
        Stat::of(&ss.iter().map(|s| mib(s.after.hwm_kib)).collect::<Vec<_>>()).median
    };
    let reference_peak = profiles
        .iter()
        .zip(&samples)
        .find(|(p, _)| p.profile == Profile::REFERENCE && p.history == 0)
        .map(|(_, ss)| peak_of(ss));
    for (profile, ss) in profiles.iter().zip(&samples) {
        let idle = Stat::of(&ss.iter().map(|s| mib(s.idle.rss_kib)).collect::<Vec<_>>());
        let peak = Stat::of(&ss.iter().map(|s| mib(s.after.hwm_kib)).collect::<Vec<_>>());
        let cpu = Stat::of(&ss.iter().map(|s| s.cpu_ms_per_scrape).collect::<Vec<_>>());
        let lat_med = Stat::of(
            &ss.iter()
                .map(|s| median(&s.latencies_ms))
                .collect::<Vec<_>>(),
        );
        let all_lat: Vec<f64> = ss
            .iter()
            .flat_map(|s| s.latencies_ms.iter().copied())
            .collect();
        let lat_all = Stat::of(&all_lat);
        let wire_kb = ss.last().map_or(0.0, |s| s.wire_bytes as f64 / 1000.0);
        let name = case_name(*profile);
        println!("  {name} ({}):", profile.profile);
        println!("    idle RSS        {} MiB", idle.show(2));
        println!("    peak RSS (HWM)  {} MiB", peak.show(2));
        println!("    CPU per scrape  {} ms", cpu.show(2));
        println!(
            "    scrape latency  median {} ms; fastest–slowest scrape {:.2}–{:.2} ms",
            lat_med.show(2),
            lat_all.min,
            lat_all.max
        );
        let (b_idle, b_peak, b_cpu, verdict) = match budget_for(*profile) {
            Some(b) => {
                let mut over = Vec::new();
                if idle.median > b.idle_mib {
                    over.push("idle");
                }
                if peak.median > b.peak_mib {
                    over.push("peak");
                }
                if cpu.median > b.cpu_ms {
                    over.push("CPU");
                }
                let verdict = if over.is_empty() {
                    "met".to_string()
                } else {
                    all_met = false;
                    format!("**NOT met** ({})", over.join(", "))
                };
                (
                    format!("≤ {}", b.idle_mib),
                    format!("≤ {}", b.peak_mib),
                    format!("≤ {}", b.cpu_ms),
                    verdict,
                )
            }
            None if profile.profile == Profile::TASKS && profile.history == 0 => {
                match reference_peak {
                    Some(r) => {
                        let limit = r + TASKS_PEAK_OVER_REFERENCE_MIB;
                        let verdict = if peak.median <= limit {
                            "met (peak)".to_string()
                        } else {
                            all_met = false;
                            "**NOT met** (peak)".to_string()
                        };
                        let b_peak =
                            format!("≤ reference + {TASKS_PEAK_OVER_REFERENCE_MIB} = {limit:.2}");
                        ("–".into(), b_peak, "–".into(), verdict)
                    }
                    None => (
                        "–".into(),
                        "–".into(),
                        "–".into(),
                        "measure reference too".into(),
                    ),
                }
            }
            None => ("–".into(), "–".into(), "–".into(), "no budget".into()),
        };
        rows.push(format!(
            "| {name} ({}) | {} | {b_idle} | {} | {b_peak} | {} | {b_cpu} | {:.2} ({:.2}–{:.2}) | {wire_kb:.0} | {verdict} |",
            profile.profile.to_string().replace('x', "×"),
            idle.show(2),
            peak.show(2),
            cpu.show(2),
            lat_med.median,
            lat_all.min,
            lat_all.max,
        ));
    }

    if !rows.is_empty() {
        println!();
        println!(
            "| Profile (D×N×G×S) | Idle RSS (MiB) | Budget | Peak RSS (MiB) | Budget | CPU/scrape (ms) | Budget | Scrape latency (ms), median (min–max) | Body on the wire (kB) | Budgets |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for row in rows {
            println!("{row}");
        }
        println!();
        println!(
            "Values: median over repeats (min–max over repeats); latency min–max over all scrapes. Budgets are judged on the medians."
        );
    }
    if profiles.contains(&Case {
        profile: Profile::LARGE,
        history: 0,
    }) {
        println!();
        match report_cost(&args, &binary) {
            Ok(met) => all_met &= met,
            Err(e) => {
                println!("FAIL: PBS cost: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if args.targets > 0 {
        println!();
        match report_multi(&args, &binary) {
            Ok(met) => all_met &= met,
            Err(e) => {
                println!("FAIL: {} targets: {e}", args.targets);
                return ExitCode::FAILURE;
            }
        }
    }
    if all_met {
        println!("footprint: all budgets met");
    } else {
        println!("footprint: BUDGET NOT MET for at least one profile (see the table)");
    }
    ExitCode::SUCCESS
}
