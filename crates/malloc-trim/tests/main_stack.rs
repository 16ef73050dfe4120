//! The main thread's stack (whose bounds glibc reads from `/proc/self/maps`): pages touched
//! deep below `main`'s frame leave the `[stack]` mapping's resident set once released, and the
//! thread goes as deep again afterwards (the pages come back zeroed); only the first call
//! reads `/proc/self/maps`. Its own binary (`harness = false`): the test harness would run it
//! on a thread of its own.

/// Resident KiB of the `[stack]` mapping, from `/proc/self/smaps`.
fn main_stack_rss_kib() -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut lines = smaps.lines();
    lines
        .find(|l| l.ends_with("[stack]"))
        .expect("a [stack] mapping");
    let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
    rss.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Bytes this process has read so far (`rchar` of `/proc/self/io`, counting this read's own
/// bytes of that file but not the next one's).
fn bytes_read() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap();
    let line = io.lines().find(|l| l.starts_with("rchar:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    // What one read of /proc/self/io adds to the count.
    let (a, b) = (bytes_read(), bytes_read());
    let one_read = b - a;
    malloc_trim::touch_stack(512);
    let before = main_stack_rss_kib();
    let read_before = bytes_read();
    let released = malloc_trim::release_unused_stack();
    let first_read = bytes_read() - read_before;
    let after = main_stack_rss_kib();
    assert!(
        first_read >= one_read + 512,
        "the first call read {first_read} bytes: expected /proc/self/maps"
    );
    assert!(
        released >= 512 << 10,
        "released a range of {released} bytes"
    );
    assert!(
        after + 384 <= before,
        "[stack] resident {before} KiB -> {after} KiB: expected the 512 KiB touched to be returned"
    );
    malloc_trim::touch_stack(512);
    assert!(
        main_stack_rss_kib() + 64 >= before,
        "touched again, resident again"
    );
    let read_before = bytes_read();
    let again = malloc_trim::release_unused_stack();
    let second_read = bytes_read() - read_before;
    assert!(again >= 512 << 10, "released a range of {again} bytes");
    assert!(
        second_read <= one_read + 16,
        "the second call read {second_read} bytes: expected no read (bounds kept)"
    );
    println!("main_stack: [stack] resident {before} -> {after} KiB, {released} bytes released");
}
