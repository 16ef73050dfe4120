//! Hands the C allocator's free heap pages back to the operating system.
//!
//! glibc's malloc returns freed memory to the OS only from the top of the main heap, and only
//! once the free space there passes its trim threshold; free pages below a live block stay
//! resident for good. A process whose memory peaks and then falls back (pbs-exporter after
//! scraping many targets at once) keeps its peak RSS. `malloc_trim(0)` releases every free
//! page of every arena (`madvise(MADV_DONTNEED)` in the middle of the heap, `sbrk` at its
//! top) without moving a live block.
//!
//! `malloc_trim` does not reach the chunks glibc keeps in the calling thread's cache (tcache):
//! up to 7 freed chunks of each of 64 sizes (up to 1032 bytes), ~235 KB when full, left wherever
//! the last frees put them. Each pins its page and keeps the free chunks on both sides from
//! merging, so they stay resident too; measured in pbs-exporter with ten targets held idle
//! after concurrent scrapes, 0.6 MiB of RSS compared with the cache switched off
//! (`GLIBC_TUNABLES=glibc.malloc.tcache_count=0`). [`evict_thread_cache`] moves the cached
//! chunks that lie among free memory back to the heap's free lists, for the next trim.
//!
//! Better still is no thread cache at all: [`without_thread_cache`] runs the program again with
//! glibc's setting for it (`GLIBC_TUNABLES=glibc.malloc.tcache_count=0`), which glibc reads only at
//! start, and with one heap for all threads (`glibc.malloc.arena_max=1`). Measured in pbs-exporter
//! (`scripts/footprint.sh`, ten targets held idle): RssAnon 0.75 → 0.50 MiB, with the eviction
//! above already in place; peak RSS and CPU per scrape unchanged or lower. The cache's speed is for
//! programs that allocate on many threads at once; pbs-exporter allocates on one, and little in
//! steady state.
//!
//! [`release_unused_stack`] does for a thread's stack what `malloc_trim` does for the heap:
//! the pages below the current frame, touched once by a deeper call, go back to the OS.
//!
//! These are the FFI calls of pbs-exporter, kept in their own crate so the exporter itself stays
//! `#![forbid(unsafe_code)]`. On other C libraries (musl returns freed memory by itself) they do
//! nothing.
#![no_std]

extern crate alloc;

mod stack;

pub use stack::release_unused_stack;
#[doc(hidden)]
pub use stack::touch_stack;

use alloc::vec::Vec;
use core::hint::black_box;

/// Returns the free heap pages to the OS; true when memory was released. Costs a walk over
/// the heap's free chunks (well under a millisecond for a few MiB): call it when the process
/// has just become idle, not on a hot path.
pub fn trim() -> bool {
    imp::trim()
}

/// Bins of glibc's thread cache: chunk sizes 32, 48, …, 1040 bytes.
const CACHE_BINS: usize = 64;
/// Chunks a bin keeps (glibc's default `tcache_count`).
const PER_BIN: usize = 7;
/// A request above the cache's largest (1032 bytes): a chunk grown to it and freed goes to the
/// heap's free lists.
const ABOVE_CACHE: usize = 1100;

/// Takes the chunks out of the calling thread's cache that lie before free memory, and gives
/// them back to the heap's free lists, where they merge with it. For each bin, takes 7 chunks
/// (the cached ones first) and grows each past the cache's sizes: in place (`realloc` into the
/// free chunk after it) it is kept to be freed as a large chunk; moved (the chunk after it is in
/// use), its old chunk went back to the cache, is taken out again and held, and goes back to
/// the cache at the end. A chunk followed by another cached one is evicted by the next pass,
/// once that one is gone; passes repeat while they hold fewer chunks back (at most
/// 8). So the cache keeps only chunks followed by a live block, whose page stays
/// resident anyway. Only malloc, realloc and free, in the calling thread (~2,000 calls a pass,
/// well under 0.1 ms): with another allocator or other cache settings it changes nothing.
pub fn evict_thread_cache() {
    // glibc's cache only: elsewhere (musl) there is nothing to evict, and trim() is a no-op.
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let mut held = usize::MAX;
    for _ in 0..MAX_PASSES {
        let now = evict_pass();
        if now >= held {
            break;
        }
        held = now;
    }
}

/// Passes of [`evict_thread_cache`] at most: runs of cached chunks are short.
const MAX_PASSES: usize = 8;

/// One pass over the bins; returns how many chunks it held back (put back in the cache).
fn evict_pass() -> usize {
    let mut kept = 0;
    for bin in 0..CACHE_BINS {
        // glibc's chunk for a request of n bytes is n + 8 rounded up to 16, at least 32.
        let request = 24 + 16 * bin;
        let mut grown: [Vec<u8>; PER_BIN] = Default::default();
        let mut held: [Vec<u8>; PER_BIN] = Default::default();
        for (g, h) in grown.iter_mut().zip(held.iter_mut()) {
            let mut v = black_box(Vec::<u8>::with_capacity(request));
            let at = v.as_ptr();
            v.reserve_exact(ABOVE_CACHE);
            if v.as_ptr() == at {
                *g = v;
            } else {
                drop(v);
                *h = black_box(Vec::with_capacity(request));
                kept += 1;
            }
        }
        drop(black_box(grown));
        drop(black_box(held));
    }
    kept
}

/// Turns glibc's thread cache off for the whole process, and keeps every thread on the one main
/// heap, by running the program again (`execve` of `/proc/self/exe`, with the same arguments, in
/// the same process) with `GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1`
/// added to its environment: glibc reads its settings once, at start, from the environment. Without
/// `arena_max=1` each thread that allocates gets an arena of its own, a heap mapping with at least
/// a page resident for a few small blocks (pbs-exporter's reactor and watchdog threads: 12 KiB);
/// its threads allocate rarely, so sharing the main heap's lock costs nothing. Does nothing when
/// `GLIBC_TUNABLES` is set already, even empty (the user's settings stand), when the program cannot
/// be run again (no `/proc`, `execve` refused: it goes on as it is), and elsewhere than on glibc.
///
/// Never runs the program more than once more: not in secure mode (the kernel's `AT_SECURE`:
/// setuid, setgid or file capabilities such as `setcap cap_net_bind_service=+ep`), where glibc
/// since 2.39 drops `GLIBC_TUNABLES` from the environment at start (so the setting could never
/// be seen), and not when this process is itself the one run again (the kernel's `AT_EXECFN`
/// is `/proc/self/exe`), whatever became of the environment. The process run again gets its
/// name back: the kernel names it after the path run (`exe`), so it is named after its
/// `argv[0]` again (its last 15 bytes' worth, as the kernel keeps), for `pgrep`, `ps -C`,
/// journald and the kernel's messages. Call it first thing in `main`, before any thread starts.
///
/// `/proc/self/exe` is the program the kernel started, which is not always this one. Run
/// through the dynamic loader explicitly (`ld-linux-x86-64.so.2 ./program ARGS`; seen as a
/// dynamically linked program the kernel loaded no loader for, `AT_BASE` 0) it does not run
/// again: the loader would, with the program's arguments as its own. Under valgrind without
/// `--trace-children=yes` it runs again outside valgrind, uninstrumented (with it, valgrind
/// follows it). Set `GLIBC_TUNABLES`, even empty, to keep it from running again.
pub fn without_thread_cache() {
    imp::without_thread_cache()
}

/// The name the kernel gives a process run as `path` (`/proc/PID/comm`): the last component of
/// the path, its first 15 bytes, and a terminating zero.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn comm_name(path: &[u8]) -> [u8; 16] {
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let mut name = [0u8; 16];
    let n = base.len().min(15);
    name[..n].copy_from_slice(&base[..n]);
    name
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use alloc::vec::Vec;
    use core::ffi::{CStr, c_char, c_int, c_ulong};
    use core::sync::atomic::{AtomicPtr, Ordering};

    unsafe extern "C" {
        /// glibc, `<malloc.h>`: `int malloc_trim(size_t pad)`.
        fn malloc_trim(pad: usize) -> c_int;
        /// `<unistd.h>`: the environment, `NAME=value` C strings up to a null pointer. A
        /// mutable C global (`setenv` may replace it): read once, before any thread starts.
        static mut environ: *const *const c_char;
        /// `<string.h>`.
        fn strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int;
        /// `<unistd.h>`.
        fn execve(
            path: *const c_char,
            argv: *const *const c_char,
            envp: *const *const c_char,
        ) -> c_int;
        /// `<sys/auxv.h>`: a value the kernel passed at start (0 when absent).
        fn getauxval(kind: c_ulong) -> c_ulong;
        /// `<sys/prctl.h>`.
        fn prctl(option: c_int, ...) -> c_int;
    }

    /// `<elf.h>`: nonzero when the program runs in secure mode (setuid, setgid, capabilities).
    const AT_SECURE: c_ulong = 23;
    /// `<elf.h>`: the path given to `execve`, a C string.
    const AT_EXECFN: c_ulong = 31;
    /// `<elf.h>`: where the kernel loaded the program's dynamic loader (0: none).
    const AT_BASE: c_ulong = 7;
    /// `<linux/prctl.h>`: sets the calling thread's name (`/proc/PID/comm`).
    const PR_SET_NAME: c_int = 15;
    /// The path the program runs itself again by.
    const SELF: &CStr = c"/proc/self/exe";

    /// The arguments glibc passed to `main` (null until then).
    static ARGV: AtomicPtr<*const c_char> = AtomicPtr::new(core::ptr::null_mut());

    /// Keeps the arguments, as Rust's standard library does on glibc: glibc calls the
    /// functions of `.init_array` with `main`'s arguments.
    #[used]
    #[unsafe(link_section = ".init_array")]
    static KEEP_ARGV: extern "C" fn(c_int, *mut *const c_char, *const *const c_char) = {
        extern "C" fn keep(_argc: c_int, argv: *mut *const c_char, _env: *const *const c_char) {
            ARGV.store(argv, Ordering::Relaxed);
        }
        keep
    };

    pub fn without_thread_cache() {
        const SETTING: &[u8] =
            b"GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1\0";
        let argv = ARGV.load(Ordering::Relaxed);
        if argv.is_null() {
            return;
        }
        // SAFETY: getauxval has no preconditions; AT_EXECFN, when present, points to a C
        // string the kernel put on the stack, alive for the whole process.
        let (secure, run_again) = unsafe {
            let execfn = getauxval(AT_EXECFN) as *const c_char;
            let run_again = !execfn.is_null() && CStr::from_ptr(execfn) == SELF;
            (getauxval(AT_SECURE) != 0, run_again)
        };
        if run_again {
            // SAFETY: argv is glibc's, alive for the whole process; argv[0] may be null.
            let arg0 = unsafe { *argv };
            if !arg0.is_null() {
                // SAFETY: a C string from glibc's argv.
                let name = super::comm_name(unsafe { CStr::from_ptr(arg0) }.to_bytes());
                // SAFETY: PR_SET_NAME reads a C string of up to 16 bytes; `name` is one.
                unsafe { prctl(PR_SET_NAME, name.as_ptr()) };
            }
            return;
        }
        // Dynamically linked, but the kernel loaded no loader for it: the loader is the program
        // the kernel started (`/proc/self/exe`), run explicitly (`ld-linux-x86-64.so.2 ./program`).
        // SAFETY: getauxval has no preconditions.
        let loader_run = !cfg!(target_feature = "crt-static") && unsafe { getauxval(AT_BASE) } == 0;
        if secure || loader_run {
            return;
        }
        let mut env = Vec::new();
        // SAFETY: glibc's environment is a null-terminated array of C strings; no other
        // thread runs yet that could change it. SETTING's first 15 bytes are its name and `=`.
        unsafe {
            let mut e = (&raw const environ).read();
            while !e.is_null() && !(*e).is_null() {
                if strncmp(*e, SETTING.as_ptr().cast(), 15) == 0 {
                    return;
                }
                env.push(*e);
                e = e.add(1);
            }
        }
        env.push(SETTING.as_ptr().cast());
        env.push(core::ptr::null());
        // SAFETY: a C string and null-terminated arrays of C strings (glibc's `argv`, alive
        // for the whole process), alive until execve returns, which it does only when it
        // failed.
        unsafe { execve(SELF.as_ptr(), argv, env.as_ptr()) };
    }

    pub fn trim() -> bool {
        // SAFETY: malloc_trim has no preconditions: it takes each arena's lock itself, touches
        // only free chunks, and is safe to call from any thread at any time.
        unsafe { malloc_trim(0) != 0 }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn without_thread_cache() {}

    pub fn trim() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::sync::Mutex;
    use std::vec::Vec;

    /// The process name is the path's last component, cut to the kernel's 15 bytes.
    #[test]
    fn comm_name_is_the_basename_cut_to_15_bytes() {
        assert_eq!(
            &super::comm_name(b"/usr/bin/pbs-exporter"),
            b"pbs-exporter\0\0\0\0"
        );
        assert_eq!(
            &super::comm_name(b"pbs-exporter-static"),
            b"pbs-exporter-st\0"
        );
        assert_eq!(
            &super::comm_name(b"./a"),
            b"a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
        );
        assert_eq!(super::comm_name(b""), [0; 16]);
    }

    /// The tests that read the process' RSS: one at a time.
    pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

    /// The process' RSS. smaps_rollup walks the page tables: exact, where /proc/self/status'
    /// VmRSS may lag.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    pub(crate) fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
        let line = status.lines().find(|l| l.starts_with("Rss:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Freed pages in the middle of the heap (below a block still alive) come back to the OS.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn free_pages_below_a_live_block_are_returned() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // 4 MiB in 64 KiB blocks (below glibc's mmap threshold: on the heap), touched; the
        // last one, above the others, stays alive while they are freed.
        let mut blocks: Vec<Vec<u8>> = (0..64).map(|_| std::vec![2u8; 64 * 1024]).collect();
        let pin = blocks.pop().unwrap();
        drop(blocks);
        let before = rss_kib();
        assert!(super::trim());
        let after = rss_kib();
        assert!(
            after + 2048 <= before,
            "RSS {before} KiB -> {after} KiB: expected at least 2 MiB returned"
        );
        assert_eq!(pin[63], 2);
    }

    /// Chunks left in the thread cache, one per page among freed memory, stay resident after a
    /// plain `malloc_trim`, and go once they are evicted.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn cached_chunks_among_free_memory_stop_pinning_pages_once_evicted() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // Each bin's chunks, every one after 8 KiB of touched filler, then a live block above.
        let mut filler = Vec::new();
        let mut small = Vec::new();
        for bin in 0..super::CACHE_BINS {
            for _ in 0..super::PER_BIN {
                filler.push(std::vec![1u8; 8 * 1024]);
                small.push(std::vec![1u8; 24 + 16 * bin]);
            }
        }
        let pin = std::vec![3u8; 64 * 1024];
        drop(filler);
        // Freed last, into the thread cache (what does not fit goes to the free lists).
        drop(small);
        super::trim();
        let plain = rss_kib();
        super::evict_thread_cache();
        assert!(super::trim());
        let evicted = rss_kib();
        // 448 cached chunks, about one page each; half of that is plenty of margin.
        assert!(
            evicted + 896 <= plain,
            "RSS {plain} KiB after malloc_trim, {evicted} KiB after the eviction too"
        );
        assert_eq!(pin[0], 3);
    }
}
