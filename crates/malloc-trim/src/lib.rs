//! Hands the C allocator's free heap pages back to the operating system.
//!
//! glibc's malloc returns freed memory to the OS only from the top of the main heap, and only
//! once the free space there passes its trim threshold; free pages below a live block stay
//! resident for good. A process whose memory peaks and then falls back (pbs-exporter after
//! scraping many targets at once) keeps its peak RSS. `malloc_trim(0)` releases every free
//! page of every arena (`madvise(MADV_DONTNEED)` in the middle of the heap, `sbrk` at its
//! top) without moving a live block.
//!
//! This is the one FFI call of pbs-exporter, kept in its own crate so the exporter itself stays
//! `#![forbid(unsafe_code)]`. On other C libraries (musl returns freed memory by itself) it does
//! nothing.
#![no_std]

/// Returns the free heap pages to the OS; true when memory was released. Costs a walk over
/// the heap's free chunks (well under a millisecond for a few MiB): call it when the process
/// has just become idle, not on a hot path.
pub fn trim() -> bool {
    imp::trim()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    unsafe extern "C" {
        /// glibc, `<malloc.h>`: `int malloc_trim(size_t pad)`.
        fn malloc_trim(pad: usize) -> core::ffi::c_int;
    }

    pub fn trim() -> bool {
        // SAFETY: malloc_trim has no preconditions: it takes each arena's lock itself, touches
        // only free chunks, and is safe to call from any thread at any time.
        unsafe { malloc_trim(0) != 0 }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn trim() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    /// Freed pages in the middle of the heap (below a block still alive) come back to the OS.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn free_pages_below_a_live_block_are_returned() {
        // smaps_rollup walks the page tables: exact, where /proc/self/status' VmRSS may lag.
        fn rss_kib() -> u64 {
            let status = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap();
            let line = status.lines().find(|l| l.starts_with("Rss:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        }
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
}
