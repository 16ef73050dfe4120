//! Hands the calling thread's unused stack pages back to the operating system.
//!
//! A thread's stack stays resident down to the deepest point it ever reached: the kernel maps a
//! zeroed page on first touch and never takes it back. pbs-exporter's main thread goes ~20 KiB
//! deeper during a scrape (TLS handshake, JSON reading, rendering) than when idle; without this
//! those pages stay resident for good once a first scrape ran. [`release_unused_stack`] drops
//! the pages below the current frame (`madvise(MADV_DONTNEED)`): the next time the thread goes
//! that deep the kernel maps zeroed pages again (a minor fault per page).

/// Pages kept below the page holding the caller's frame: room for this function's own frame
/// and the C calls it makes, which run below it while the range is released.
const MARGIN_PAGES: usize = 2;

/// How far below the page of the caller's frame the range released reaches at most: a scrape
/// goes ~20 KiB deep. Below the main stack's mapping (which reaches down at least to that
/// page) the kernel keeps a gap of `stack_guard_gap` (1 MiB by default) free of other
/// mappings, so the range stays within the stack or that gap, whatever was mapped below since
/// glibc read the bounds.
const MAX_RELEASE: usize = 1 << 20;

/// Returns the calling thread's stack pages below its current frame (less a margin of two
/// pages, down to 1 MiB below it at most) to the OS; returns how many bytes the range released
/// covered (resident or not), 0 when nothing was done. On the main thread the first call
/// reads the stack's bounds from `/proc/self/maps` (glibc finds them there, allocating as it
/// reads) and keeps them: later calls read and allocate nothing, so heap pages a trim has just
/// returned stay returned. Other threads' bounds are asked of glibc each time (no file read, a
/// small allocation). One `madvise` a call: call it when the thread is idle and its stack
/// shallow, not on a hot path.
pub fn release_unused_stack() -> usize {
    imp::release_unused_stack()
}

/// The page-aligned range `[start, end)` of a stack occupying `[low, high)` that lies
/// entirely below the page of `frame` (an address in the caller's frame) less `margin_pages`
/// pages, and at most [`MAX_RELEASE`] below that page, or None when there is none. `page` is a
/// power of two.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn unused_range(
    low: usize,
    high: usize,
    frame: usize,
    page: usize,
    margin_pages: usize,
) -> Option<(usize, usize)> {
    if frame < low || frame >= high || !page.is_power_of_two() {
        return None;
    }
    let start = low.checked_add(page - 1)? & !(page - 1);
    let frame_page = frame & !(page - 1);
    let end = frame_page.checked_sub(margin_pages.checked_mul(page)?)?;
    let floor = frame_page
        .saturating_sub(MAX_RELEASE)
        .checked_add(page - 1)?
        & !(page - 1);
    let start = start.max(floor);
    (start < end).then_some((start, end))
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use core::ffi::{c_int, c_long, c_ulong, c_void};
    use core::hint::black_box;
    use core::mem::MaybeUninit;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// glibc's `pthread_attr_t`: 56 bytes on x86-64, 64 on aarch64; opaque here.
    #[repr(C, align(8))]
    struct PthreadAttr([u8; 64]);

    unsafe extern "C" {
        /// `<pthread.h>`.
        fn pthread_self() -> c_ulong;
        /// `<pthread.h>` (GNU): the attributes of a running thread, its stack's bounds among
        /// them (for the main thread, read from `/proc/self/maps` and the stack size limit,
        /// never overlapping the mapping below the stack).
        fn pthread_getattr_np(thread: c_ulong, attr: *mut PthreadAttr) -> c_int;
        /// `<pthread.h>`: the lowest address of the stack and its size.
        fn pthread_attr_getstack(
            attr: *const PthreadAttr,
            addr: *mut *mut c_void,
            size: *mut usize,
        ) -> c_int;
        /// `<pthread.h>`.
        fn pthread_attr_destroy(attr: *mut PthreadAttr) -> c_int;
        /// `<sys/mman.h>`.
        fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
        /// `<unistd.h>`.
        fn sysconf(name: c_int) -> c_long;
        /// `<unistd.h>`.
        fn getpid() -> c_int;
        /// `<unistd.h>` (glibc 2.30): the calling thread's id, the process id on the main
        /// thread.
        fn gettid() -> c_int;
    }

    /// `<sys/mman.h>`: private anonymous pages read as zeros afterwards, their memory freed.
    const MADV_DONTNEED: c_int = 4;
    /// `<unistd.h>`.
    const SC_PAGESIZE: c_int = 30;

    /// The main thread's stack bounds, once read (`[low, high)`; 0, 0 until then). Its stack
    /// never moves; of its bounds only the low one could change (the size limit changed, the
    /// mapping below unmapped), and the range released is capped 1 MiB below the frame anyway.
    static MAIN_STACK: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

    /// The calling thread's stack bounds `[low, high)`: the main thread's as first read.
    fn stack_bounds() -> Option<(usize, usize)> {
        // SAFETY: getpid and gettid have no preconditions.
        if unsafe { gettid() != getpid() } {
            return read_stack_bounds();
        }
        let cached = (
            MAIN_STACK[0].load(Ordering::Relaxed),
            MAIN_STACK[1].load(Ordering::Relaxed),
        );
        if cached.1 != 0 {
            return Some(cached);
        }
        let (low, high) = read_stack_bounds()?;
        // Only the main thread stores, low first: a nonzero high means both are set.
        MAIN_STACK[0].store(low, Ordering::Relaxed);
        MAIN_STACK[1].store(high, Ordering::Relaxed);
        Some((low, high))
    }

    /// The calling thread's stack bounds `[low, high)`, from glibc.
    fn read_stack_bounds() -> Option<(usize, usize)> {
        let mut attr = MaybeUninit::<PthreadAttr>::uninit();
        // SAFETY: pthread_getattr_np initialises `attr` (large enough for glibc's
        // pthread_attr_t) when it returns 0, and only then is it read and destroyed.
        unsafe {
            if pthread_getattr_np(pthread_self(), attr.as_mut_ptr()) != 0 {
                return None;
            }
            let mut addr = core::ptr::null_mut();
            let mut size = 0usize;
            let ok = pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
            pthread_attr_destroy(attr.as_mut_ptr());
            let low = addr as usize;
            ok.then(|| Some((low, low.checked_add(size)?)))?
        }
    }

    #[inline(never)]
    pub fn release_unused_stack() -> usize {
        // An address in this frame: every live frame of the thread lies at or above it, the
        // calls below (pthread_getattr_np the first time, madvise) run below it, within the
        // margin.
        let marker = 0u8;
        let frame = black_box(&raw const marker) as usize;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { sysconf(SC_PAGESIZE) };
        let Ok(page) = usize::try_from(page) else {
            return 0;
        };
        let Some((low, high)) = stack_bounds() else {
            return 0;
        };
        let Some((start, end)) = super::unused_range(low, high, frame, page, super::MARGIN_PAGES)
        else {
            return 0;
        };
        // SAFETY: [start, end) is page-aligned, inside this thread's stack (or, for the main
        // thread, in the gap the kernel keeps below its mapping) and entirely below the frame
        // of this call less two pages: no live frame, local or red zone of this thread lies
        // there (its frames are all above `frame`, the calls this function makes use far less
        // than the margin), and no other thread uses another thread's stack below its stack
        // pointer. The pages read as zeros when next touched, as fresh stack does. Parts of the
        // range not mapped (the main stack's mapping grows down on demand, glibc reports the
        // size limit) are skipped by the kernel, which then returns ENOMEM having released the
        // mapped part. No other mapping lies in the range: glibc's bounds never reached the
        // mapping below the stack when it read them, and the range reaches at most 1 MiB below
        // the page of `frame` (`unused_range`), which the stack's mapping holds: a mapping
        // made since (by another thread, say, under the legacy bottom-up layout, which places
        // mappings upwards towards the stack) ends at least `stack_guard_gap` (1 MiB by
        // default) below the stack's mapping, the kernel's rule for every mapping not placed
        // at a fixed address (nothing here maps at fixed addresses).
        unsafe { madvise(start as *mut c_void, end - start, MADV_DONTNEED) };
        end - start
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    pub fn release_unused_stack() -> usize {
        0
    }
}

/// Touches about `kib` KiB of the calling thread's stack below its frame, then returns (for
/// tests: the pages stay resident).
#[doc(hidden)]
#[inline(never)]
pub fn touch_stack(kib: usize) {
    let page = core::hint::black_box([1u8; 4096]);
    if kib > 4 {
        touch_stack(kib - 4);
    }
    core::hint::black_box(&page);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::unused_range;

    const P: usize = 4096;

    #[test]
    fn the_range_ends_two_pages_below_the_frames_page() {
        // Stack [0x10000, 0x30000), frame in the page at 0x20000.
        assert_eq!(
            unused_range(0x10000, 0x30000, 0x20abc, P, 2),
            Some((0x10000, 0x1e000))
        );
        // A frame at a page's very start keeps that page and two below it.
        assert_eq!(
            unused_range(0x10000, 0x30000, 0x20000, P, 2),
            Some((0x10000, 0x1e000))
        );
        // An unaligned low bound is rounded up: the page partly outside stays.
        assert_eq!(
            unused_range(0x10010, 0x30000, 0x20000, P, 2),
            Some((0x11000, 0x1e000))
        );
    }

    #[test]
    fn the_range_is_at_most_a_mib_long() {
        // An 8 MiB stack at [0x1000000, 0x1800000), frame in the page at 0x17ff000: down to
        // 1 MiB below that page, not to the stack's low bound.
        assert_eq!(
            unused_range(0x100_0000, 0x180_0000, 0x17f_f123, P, 2),
            Some((0x16f_f000, 0x17f_d000))
        );
        // A low bound above the cap stands.
        assert_eq!(
            unused_range(0x170_0000, 0x180_0000, 0x17f_f123, P, 2),
            Some((0x170_0000, 0x17f_d000))
        );
        // 64 KiB pages: 1 MiB below the frame's page, the margin in pages of 64 KiB.
        assert_eq!(
            unused_range(0x100_0000, 0x180_0000, 0x17f_f123, 0x1_0000, 2),
            Some((0x16f_0000, 0x17d_0000))
        );
    }

    #[test]
    fn nothing_when_the_frame_is_near_the_bottom_or_outside() {
        assert_eq!(unused_range(0x10000, 0x30000, 0x12fff, P, 2), None);
        assert_eq!(
            unused_range(0x10000, 0x30000, 0x13000, P, 2),
            Some((0x10000, 0x11000))
        );
        assert_eq!(unused_range(0x10000, 0x30000, 0x30000, P, 2), None);
        assert_eq!(unused_range(0x10000, 0x30000, 0xffff, P, 2), None);
        assert_eq!(unused_range(0, 0x30000, 0x1000, P, 2), None);
        assert_eq!(unused_range(0x10000, 0x30000, 0x20000, 3000, 2), None);
        assert_eq!(
            unused_range(usize::MAX - 10, usize::MAX, usize::MAX - 1, P, 2),
            None
        );
    }

    /// A thread's stack pages touched once, deep below where it is now, leave the process' RSS.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn stack_pages_below_the_frame_are_returned() {
        let _one = crate::tests::SERIAL
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let (before, released, after) = std::thread::Builder::new()
            .stack_size(4 << 20)
            .spawn(|| {
                super::touch_stack(1024);
                let before = crate::tests::rss_kib();
                let released = super::release_unused_stack();
                (before, released, crate::tests::rss_kib())
            })
            .unwrap()
            .join()
            .unwrap();
        // 1 MiB below the frame's page at most, less the margin.
        assert!(
            released >= 1000 << 10,
            "released a range of {released} bytes"
        );
        assert!(released <= 1 << 20, "released a range of {released} bytes");
        assert!(
            after + 768 <= before,
            "RSS {before} KiB -> {after} KiB: expected the 1 MiB touched to be returned"
        );
    }
}
