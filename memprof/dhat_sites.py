#!/usr/bin/env python3
"""Per-scrape allocation sites from two dhat profiles that differ only in the number of
measured scrapes, e.g.

    target/debug/memprof --profiles reference --warmup 3 --scrapes 5  --out-dir /tmp/a
    target/debug/memprof --profiles reference --warmup 3 --scrapes 25 --out-dir /tmp/b
    python3 memprof/dhat_sites.py /tmp/a/dhat-heap-reference.json /tmp/b/dhat-heap-reference.json 20

Blocks and bytes are diffed per call stack and divided by the difference in scrapes (20 here),
then grouped by the first frame outside the allocator (the library or std call that allocates)
and the nearest pbs_exporter frame. dhat charges a realloc to the stack that first allocated
the block, so a buffer first allocated in the TLS handshake and regrown on every read shows up
under PbsClient::connect.
"""
import json
import re
import sys
from collections import defaultdict

ALLOC = re.compile(
    r"dhat::|__rust_alloc|__rust_realloc|raw_vec|alloc::alloc::|RawVec|::finish_grow|::grow_"
    r"|Vec<T,A>::|Vec<T>::|Vec<u8>>::|alloc::slice::|to_vec|ConvertVec|String::push"
    r"|String::reserve|btree::node|btree::split|BTreeMap<K,V,A>::split_off|boxed::Box|Wtf8"
    r"|\[root\]|LeafNode|NodeRef|extend_from_slice|spec_extend|append_elements|extend_with"
    r"|push_mut|VacantEntry|OsStr"
)


def load(path):
    d = json.load(open(path))
    ft = d["ftbl"]
    sites = defaultdict(lambda: [0, 0])
    for pp in d["pps"]:
        key = tuple(ft[i] for i in pp["fs"])
        sites[key][0] += pp["tbk"]
        sites[key][1] += pp["tb"]
    return sites


def clean(frame):
    return re.sub(r"^0x[0-9a-f]+: ", "", frame)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    a, b, n = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    groups = defaultdict(lambda: [0.0, 0.0])
    for key in set(a) | set(b):
        blocks = b[key][0] - a[key][0]
        if not blocks:
            continue
        frames = [clean(f) for f in key]
        lib = next((f for f in frames if not ALLOC.search(f)), "?")
        own = next((f for f in frames if "pbs_exporter" in f), "-")
        g = groups[(lib[:160], own[:160])]
        g[0] += blocks / n
        g[1] += (b[key][1] - a[key][1]) / n
    rows = sorted(groups.items(), key=lambda kv: -kv[1][0])
    print(
        "total %.1f blocks, %.0f bytes per scrape"
        % (sum(v[0] for _, v in rows), sum(v[1] for _, v in rows))
    )
    for (lib, own), (blocks, nbytes) in rows[:top]:
        if abs(blocks) < 0.05:
            continue
        print("%7.1f blocks %9.0f B  %s\n%28s<- %s" % (blocks, nbytes, lib, "", own))


if __name__ == "__main__":
    main()
