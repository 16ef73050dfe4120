//! The main thread's stack (whose bounds glibc reads from `/proc/self/maps`): pages touched
//! deep below `main`'s frame leave the `[stack]` mapping's resident set once released, and the
//! thread goes as deep again afterwards (the pages come back zeroed). Its own binary
//! (`harness = false`): the test harness would run it on a thread of its own.

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

fn main() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    malloc_trim::touch_stack(512);
    let before = main_stack_rss_kib();
    let released = malloc_trim::release_unused_stack();
    let after = main_stack_rss_kib();
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
    println!("main_stack: [stack] resident {before} -> {after} KiB, {released} bytes released");
}
