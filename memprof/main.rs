//! `memprof`: a dhat heap profile of the exporter's real scrape path (`Scraper` over one
//! kept-alive, fingerprint-pinned TLS connection) against the PBS simulator, per profile.
//!
//! Built only with `--features dhat-heap`; see memprof/README.md. Each profile runs in its own
//! worker process (this binary re-executed with `--worker`), because dhat allows one profiler
//! per process and its peak (`max_bytes`) only grows: a shared process would report the largest
//! profile's peak for all of them. The simulator is a `pbs-sim` child process of the worker, so
//! none of its allocations are counted.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "common.rs"]
mod common;

use argh::FromArgs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// Heap profile (dhat) of N steady-state scrapes per simulator profile; writes
/// dhat-heap-<profile>.json for dhat's dh_view.html.
#[derive(FromArgs)]
struct Args {
    /// measured scrapes per profile, after the warm-up (default 20)
    #[argh(option, default = "20")]
    scrapes: u64,
    /// warm-up scrapes per profile, the first doing the TLS handshake (default 3)
    #[argh(option, default = "3")]
    warmup: u64,
    /// comma-separated pbs-sim profiles: reference, large, deep, demo or DxNxGxS (default
    /// reference,large,deep)
    #[argh(option, default = "String::from(\"reference,large,deep\")")]
    profiles: String,
    /// the pbs-sim binary (default: $SIM_BIN, else built with cargo into this executable's target directory)
    #[argh(option)]
    sim: Option<PathBuf>,
    /// directory for the dhat-heap-<profile>.json files (default: current directory)
    #[argh(option, default = "PathBuf::from(\".\")")]
    out_dir: PathBuf,
    /// render the whole exposition at once (`render_all`) instead of 16 KiB at a time like the
    /// server
    #[argh(switch)]
    render_all: bool,
    /// stack frames kept per allocation site in the profile (default 32)
    #[argh(option, default = "32")]
    frames: usize,
    /// internal: profile one simulator profile in this process
    #[argh(option, hidden_help)]
    worker: Option<String>,
}

/// What one worker measured; printed as one tab-separated line for the parent.
struct Report {
    profile: String,
    setup_blocks: u64,
    first_blocks: u64,
    first_bytes: u64,
    blocks_per_scrape: f64,
    bytes_per_scrape: f64,
    min_blocks: u64,
    max_blocks: u64,
    peak_bytes: u64,
    live_end: u64,
    live_dropped: u64,
    exposition: u64,
    samples: u64,
    ms_per_scrape: f64,
}

const RESULT_TAG: &str = "memprof-result";

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    let result = match &args.worker {
        Some(profile) => worker(&args, profile),
        None => parent(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("memprof: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one worker per profile and prints the table.
fn parent(args: &Args) -> Result<(), String> {
    let sim = common::sim_executable(args.sim.as_deref())?;
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| format!("{}: {e}", args.out_dir.display()))?;
    let mut rows = Vec::new();
    for profile in args
        .profiles
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        eprintln!(
            "memprof: profile {profile}: {} warm-up + {} measured scrapes",
            args.warmup, args.scrapes
        );
        let mut child = Command::new(&exe)
            .arg("--worker")
            .arg(profile)
            .arg("--scrapes")
            .arg(args.scrapes.to_string())
            .arg("--warmup")
            .arg(args.warmup.to_string())
            .arg("--sim")
            .arg(&sim)
            .arg("--out-dir")
            .arg(&args.out_dir)
            .arg("--frames")
            .arg(args.frames.to_string())
            .args(args.render_all.then_some("--render-all"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start a worker: {e}"))?;
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut row = None;
        for line in stdout.lines().map_while(Result::ok) {
            match line.strip_prefix(RESULT_TAG) {
                Some(rest) => row = Some(rest.trim().to_string()),
                None => println!("{line}"),
            }
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        match row {
            Some(r) if status.success() => rows.push(r),
            _ => {
                return Err(format!(
                    "the worker for profile {profile} failed ({status})"
                ));
            }
        }
    }
    println!();
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>14} {:>11} {:>11} {:>11} {:>11} {:>9}",
        "profile",
        "blocks/scr",
        "bytes/scr",
        "blocks min-max",
        "first scrape",
        "peak",
        "live end",
        "live drop",
        "exposition",
        "ms/scr"
    );
    for r in rows {
        let f: Vec<&str> = r.split('\t').collect();
        let n = |i: usize| {
            f.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        println!(
            "{:<10} {:>10.1} {:>12} {:>14} {:>14} {:>11} {:>11} {:>11} {:>11} {:>9.1}",
            f[0],
            n(4),
            common::human(n(5) as u64),
            format!("{}-{}", n(6), n(7)),
            format!("{}b/{}", n(2), common::human(n(3) as u64)),
            common::human(n(8) as u64),
            common::human(n(9) as u64),
            common::human(n(10) as u64),
            common::human(n(11) as u64),
            n(13),
        );
    }
    println!(
        "\nrendering: {}\n\
         blocks/bytes per scrape: mean over the measured scrapes (collect + render into the reused buffer);\n\
         first scrape: blocks/bytes of the first scrape (TLS handshake, buffers growing);\n\
         peak: dhat max_bytes over the worker's run; live end: bytes live after the last scrape,\n\
         scraper alive; live drop: bytes still live after dropping the scraper (should be ~0).\n\
         Profiles: {}/dhat-heap-<profile>.json (open with dh_view.html).",
        if args.render_all {
            "render_all (the whole exposition in one buffer)"
        } else {
            "16 KiB chunks into one reused buffer, as the server does"
        },
        args.out_dir.display()
    );
    Ok(())
}

/// Profiles one simulator profile in this process.
fn worker(args: &Args, profile: &str) -> Result<(), String> {
    let sim_exe = common::sim_executable(args.sim.as_deref())?;
    let sim = common::SimChild::spawn(&sim_exe, profile)?;
    let file = args.out_dir.join(format!(
        "dhat-heap-{}.json",
        profile.replace(['/', '\\'], "_")
    ));
    let profiler = dhat::Profiler::builder()
        .file_name(&file)
        .trim_backtraces(Some(args.frames))
        .build();

    let stats = dhat::HeapStats::get;
    let start = stats();
    let mut scraper = common::scraper(&sim)?;
    let mut out = Vec::new();
    let setup = stats();

    let render = if args.render_all {
        common::Render::All
    } else {
        common::Render::Chunked
    };
    let result = common::scrape(&mut scraper, &mut out, render);
    let first = stats();
    let mut summary = result?;
    for _ in 1..args.warmup.max(1) {
        common::scrape(&mut scraper, &mut out, render)?;
    }

    let before = stats();
    let (mut min_blocks, mut max_blocks) = (u64::MAX, 0);
    let timer = Instant::now();
    for _ in 0..args.scrapes {
        let s0 = stats();
        let result = common::scrape(&mut scraper, &mut out, render);
        let s1 = stats();
        summary = result?;
        let b = s1.total_blocks - s0.total_blocks;
        min_blocks = min_blocks.min(b);
        max_blocks = max_blocks.max(b);
    }
    let elapsed = timer.elapsed();
    let after = stats();
    let live_end = after.curr_bytes as u64;
    let (exposition, samples) = (summary.bytes, summary.samples);
    drop(scraper);
    drop(out);
    let dropped = stats();
    let n = args.scrapes.max(1) as f64;
    let r = Report {
        profile: profile.to_string(),
        setup_blocks: setup.total_blocks - start.total_blocks,
        first_blocks: first.total_blocks - setup.total_blocks,
        first_bytes: first.total_bytes - setup.total_bytes,
        blocks_per_scrape: (after.total_blocks - before.total_blocks) as f64 / n,
        bytes_per_scrape: (after.total_bytes - before.total_bytes) as f64 / n,
        min_blocks: if args.scrapes == 0 { 0 } else { min_blocks },
        max_blocks,
        peak_bytes: dropped.max_bytes as u64,
        live_end,
        live_dropped: dropped.curr_bytes as u64,
        exposition,
        samples,
        ms_per_scrape: elapsed.as_secs_f64() * 1000.0 / n,
    };
    println!(
        "profile {}: setup {} blocks; first scrape {} blocks / {}; steady {:.1} blocks / {} per scrape \
         (min {}, max {}); peak {}; live after last scrape {}, after dropping the scraper {}; \
         exposition {} in {} samples; {:.1} ms per scrape (under dhat)",
        r.profile,
        r.setup_blocks,
        r.first_blocks,
        common::human(r.first_bytes),
        r.blocks_per_scrape,
        common::human(r.bytes_per_scrape as u64),
        r.min_blocks,
        r.max_blocks,
        common::human(r.peak_bytes),
        common::human(r.live_end),
        common::human(r.live_dropped),
        common::human(r.exposition),
        r.samples,
        r.ms_per_scrape,
    );
    println!(
        "{RESULT_TAG}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        r.profile,
        r.setup_blocks,
        r.first_blocks,
        r.first_bytes,
        r.blocks_per_scrape,
        r.bytes_per_scrape,
        r.min_blocks,
        r.max_blocks,
        r.peak_bytes,
        r.live_end,
        r.live_dropped,
        r.exposition,
        r.samples,
        r.ms_per_scrape
    );
    drop(profiler);
    drop(sim);
    Ok(())
}
