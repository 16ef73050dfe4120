#!/usr/bin/env python3
"""Builds the committed seed corpora in fuzz/seeds/<target>/.

Usage: python3 fuzz/make_seeds.py [FIXTURES_DIR]   (default /work/shared/pbs-api/fixtures)

The PBS API fixtures are compacted to one line (as PBS sends them) and prefixed with the few
control bytes each target reads first; the HTTP heads and chunked bodies are hand-written.
Rerunning rewrites the seed directories.
"""

import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/pbs-api/fixtures"
SEEDS = os.path.join(HERE, "seeds")


def compact(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        doc = json.load(f)
    # PBS serializes with serde_json: no spaces, non-ASCII as UTF-8.
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def chunk_exact(body, size):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i : i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


seeds = {}


def add(target, name, data):
    seeds.setdefault(target, []).append((name, data))


fixtures = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))

# json_tokenizer: [split byte, two key lengths not read (each % 64; 63: 63 or longer)] + document.
# The fixtures' lengths include PBS's unread keys (files, owner: 5; upid: 4).
UNREAD = [(5, 4), (5, 63), (4, 8), (0, 12), (3, 6), (1, 2)]
# Indexes into fuzz_targets/json_tokenizer.rs's EXPECTED of keys the fixtures have.
EXPECTED = {11: b"backup-id", 12: b"crypt-mode", 8: b"size", 10: b"files", 9: b"state"}
for k, f in enumerate(fixtures):
    split = [0, 3, 15, 127, 130, 200][k % 6]
    add("json_tokenizer", f, bytes([split, *UNREAD[k % 6]]) + compact(f))
    # The same with a key expected next, one the document has ("data" else): the high two bits
    # of the key length bytes pick fuzz_targets/json_tokenizer.rs's
    # EXPECTED[a >> 6 | (b >> 6) << 2].
    e = next((e for e, key in EXPECTED.items() if b'"%s":' % key in compact(f)), 7)
    a, b = UNREAD[k % 6]
    add("json_tokenizer", f + "-expect-%d" % e, bytes([split, a | (e & 3) << 6, b | (e >> 2) << 6]) + compact(f))
for k, doc in enumerate(
    [
        rb'{"a":"x\"y\\z\u00e9\ud83d\ude00","n":-12.5e+3,"t":true,"f":false,"z":null,"e":[],"o":{}}',
        rb'[0,-0,1E400,-1.5e-7,18446744073709551615,18446744073709551616,-9223372036854775809]',
        rb'{"s":"\ud800x","k":"\udc00","p":"\ud800\u0041"}',
        b'{"u":"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80","c":"\\b\\f\\n\\r\\t\\/"}',
        b" [ { } , [ ] , \"\" ] \r\n",
        b"[" * 63 + b"]" * 63,
    ]
):
    add("json_tokenizer", "hand-%d" % k, bytes([k * 7, k, 63 - k]) + doc)
# "data" expected (7), keys of length 4 and 2 not read: the expected key escaped, cut, last.
add("json_tokenizer", "hand-expect", bytes([2, 4 | 3 << 6, 2 | 1 << 6]) + rb'{"\u0064ata":{"ab":1},"data":[{"data":"x","dat":{"ab":[]},"ab":2}],"data":{}}')

# extractors: [endpoint + 5 * names, split byte] + body.
ENDPOINTS = {
    0: ["node-status.json"],
    1: ["datastore-usage.json", "datastore-usage-legacy-pbs3.0.json"],
    2: ["groups.json"],
    3: ["snapshots.json"],
    4: ["datastore-list.json"],
    5: ["tape-drive.json"],
    6: ["tape-changer.json"],
    7: ["tape-media-list.json"],
    9: ["datastore-status-s3.json", "datastore-status.json"],
    10: ["snapshots.json"],
}
for ep, files in ENDPOINTS.items():
    for v, f in enumerate(files):
        # The label names only matter to groups and snapshots.
        for names in range(4 if ep in (2, 3, 10) else 1):
            sel = ep + 5 * names if ep < 5 else 20 + (ep - 5) + 6 * names
            add("extractors", "%d-%d-%s" % (ep, names, f), bytes([sel, [0, 9, 64, 140][(v + names) % 4]]) + compact(f))
add("extractors", "2-dup", bytes([2, 5]) + b'{"data":[{"backup-type":"vm","backup-id":"1","comment":"a\\nb \\"q\\"","last-backup":5,"backup-count":1}]}')
add("extractors", "3-states", bytes([3 + 10, 5]) + b'{"data":[{"backup-type":"vm","backup-id":"1","backup-time":10,"size":5,"verification":{"state":"ok"},"protected":true},{"backup-type":"vm","backup-id":"1","backup-time":11,"verification":{"state":"failed"}}]}')
add("extractors", "4-maint", bytes([4, 3]) + b'{"data":[{"store":"b","maintenance":"type=offline,message=x"},{"store":"a","mount-status":"notmounted"},{"store":""}]}')
add("extractors", "8-active-ops", bytes([20 + 3, 4]) + b'{"data":{"read":2,"write":1}}')
add("extractors", "7-odd-media", bytes([20 + 2, 6]) + b'{"data":[{"pool":"p","status":"lost","location":"vault-x","expired":true},{"status":"full","location":"elsewhere"},{"pool":"p","status":"full","location":"online-c","expired":1}]}')
add("extractors", "10-repeated", bytes([20 + 5, 5]) + b'{"data":[{"backup-type":"vm","backup-id":"1","backup-time":10,"size":5},{"backup-type":"vm","backup-id":"1","backup-time":10,"size":6},{"backup-type":"vm","backup-id":"1","backup-time":-3,"size":1,"protected":true}]}')
add("extractors", "0-old-kernel", bytes([0, 2]) + b'{"data":{"kversion":"Linux 6.8.12-4-pve #1 SMP","loadavg":[0.1,0.2,0.3],"memory":{"total":1,"used":2,"free":3}}}')

# job_extractors: [endpoint, split byte] + body; endpoint 0-4 job lists, 5 tasks, 6 subscription.
for ep, f in [(0, "admin-gc.json"), (1, "admin-prune.json"), (2, "admin-sync.json"), (4, "admin-verify.json"), (5, "tasks.json")]:
    add("job_extractors", "%d-%s" % (ep, f), bytes([ep, [0, 9, 64, 140][ep % 4]]) + compact(f))
add("job_extractors", "3-tape", bytes([3, 5]) + b'{"data":[{"id":"t1","store":"s","pool":"p","drive":"d","last-run-upid":"UPID:n:1:2:3:6A5D8120:tape-backup-job:x:root@pam:","last-run-endtime":1784516000,"last-run-state":"OK","next-run":1}]}')
add("job_extractors", "6-active", bytes([6, 3]) + b'{"data":{"status":"active","nextduedate":"2027-01-31","productname":"x"}}')
add("job_extractors", "6-no-audit", bytes([6, 1]) + b'{"data":{"status":"notfound","message":"m","url":"u"}}')

# chunked: [seed, max piece] + stream.
snap = compact("snapshots.json")
tasks = compact("tasks.json")
for k, stream in enumerate(
    [
        b"4;name=v\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\nNEXT",
        b"0\r\n\r\n",
        b"3\r\nabc\r\n0\r\n\r\n",
        b"A \t;x\r\n0123456789\r\n0;last\r\nA: b\r\nC: d\r\n\r\nHTTP/1.1 200 OK\r\n",
        b"ffffffffffffffff\r\nabc",
        b"2\r\nabX",
        chunk_exact(snap, 4096),
        chunk_exact(tasks, 1000),
    ]
):
    add("chunked", "hand-%d" % k, bytes([k, [0, 1, 7, 255][k % 4]]) + stream)

# request_head: [buffer size, reads] + request.
for k, req in enumerate(
    [
        b"GET /metrics HTTP/1.1\r\nHost: exporter:9101\r\nUser-Agent: Prometheus/3.1.0\r\nAccept: application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2,*/*;q=0.1\r\nAccept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
        b"GET /metrics?collect[]=node&target=pbs1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"HEAD /health HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        b"GET /?a=b?c HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: 1e400\r\n\r\n",
    ]
):
    add("request_head", "hand-%d" % k, bytes([[255, 16, 2, 0][k % 4], [0, 1, 5, 64][k % 4]]) + req)

# response_head: [flags] + head.
RESPONSES = [
    b"HTTP/1.1 200 OK\r\nCache-Control: max-age=0\r\nConnection: Keep-Alive\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: 1234\r\nDate: Tue, 21 Jul 2026 10:00:00 GMT\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nTransfer-Encoding: chunked\r\nDate: Tue, 21 Jul 2026 10:00:00 GMT\r\n\r\n",
    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 21\r\nDate: Tue, 21 Jul 2026 10:00:00 GMT\r\n\r\nauthentication failed",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
]
for k, resp in enumerate(RESPONSES):
    add("response_head", "hand-%d" % k, bytes([k & 1]) + resp)

# body_reader: [mode, limit, capacity, reads, len_lo, len_hi] + stream.
node = compact("node-status.json")
ds = compact("datastore-usage.json")
head_len = b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\n\r\n" % len(node)
head_chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n"
add("body_reader", "len", bytes([0, 255, 255, 0]) + len(node).to_bytes(2, "little") + node + b"HTTP/1.1")
add("body_reader", "chunked", bytes([1, 200, 64, 7]) + b"\0\0" + chunk_exact(ds, 8192))
add("body_reader", "until-close", bytes([2, 140, 9, 1]) + b"\0\0" + b"authentication failed")
add("body_reader", "head-len", bytes([3, 255, 255, 33]) + b"\0\0" + head_len + node + b"next")
add("body_reader", "head-chunked", bytes([3, 255, 255, 0]) + b"\0\0" + head_chunked + chunk_exact(snap, 1500))
add("body_reader", "head-HEAD", bytes([7, 10, 20, 3]) + b"\0\0" + head_len)
add("body_reader", "over-limit", bytes([1, 10, 2, 5]) + b"\0\0" + b"20\r\n" + b"x" * 32 + b"\r\n0\r\n\r\n")

# label_escape: [budget lo, budget hi] + value.
for k, value in enumerate(
    [
        b"plain",
        b'a\\b "q"\nz \xc3\xa9',
        "€€😀x".encode(),
        b"pve@pbs!pve-cluster-a",
        b"\\n\\\\\"\n\n\"",
        b"\xff\xfe invalid utf-8",
    ]
):
    add("label_escape", "hand-%d" % k, bytes([k * 3 % 8, 0]) + value)

# request_auth_encoding: [line split] + Accept-Encoding / Authorization values, newline-separated.
for k, value in enumerate(
    [
        b"gzip",
        b"gzip, deflate, br",
        b"identity;q=1, *;q=0.001",
        b"gzip;q=0, *",
        b"deflate\nGZIP;Q=0.5\nx-gzip;q=1.000",
        b"gzip;q=1.5, gzip;q=0.1234, gzip;q=",
        b"Basic YWxpY2U6czNjcmV0OndpdGggY29sb24=",
        b"basic   Ojo=  \nBearer abc\nBasic !!",
    ]
):
    add("request_auth_encoding", "hand-%d" % k, bytes([k]) + value)

# web_config: exporter-toolkit web config files.
add("web_config", "full", b"""tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
basic_auth_users:
  prometheus: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG
""")
add("web_config", "auth-only", b"basic_auth_users:\n  alice: $2b$04$abc\n  \"bo:b\": x\n")
add("web_config", "unknown", b"tls_server_config:\n  cert_file: a\n  key_file: b\n  \"a\\nb\": c\n")
add("web_config", "flow", b"{tls_server_config: {cert_file: a, key_file: b, cipher_suites: [x]}, basic_auth_users: ~}")
add("web_config", "anchors", b"a: &x {b: *x}\n---\nc: [1, 2\n")

# modules_config: --config-file modules (token files are not read by the target). The README's
# example, with a whole fingerprint where it writes "AB:CD:...:EF".
FP = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
with open(os.path.join(HERE, "..", "README.md"), encoding="utf-8") as f:
    readme = f.read()
example = next(b for b in readme.split("```yaml\n")[1:] if b.startswith("modules:")).split("```")[0]
add("modules_config", "readme", example.replace("AB:CD:...:EF", FP).encode())
add("modules_config", "errors", b"modules:\n  m1:\n    token_id: a@pbs!t\n    token_file: /bad\n    timeout: soon\n    targets: [{target: '*x.example.com', fp: x}]\n")
add("modules_config", "anchors", b"modules:\n  a: &m {token_id: a@pbs!t, token: x, targets: &t [pbs1]}\n  b: *m\n  c: {token_id: b@pbs!u, token: y, targets: *t}\n")
add("modules_config", "flow", b"{modules: {\"m\\n1\": {token_id: 'a@pbs!t', token: x, collectors: node,tasks, insecure: true, targets: [http://h:80]}}}")

for target, files in seeds.items():
    d = os.path.join(SEEDS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in files:
        with open(os.path.join(d, name.replace("/", "_")), "wb") as f:
            f.write(data)
    print("%-15s %3d seeds, %7d bytes" % (target, len(files), sum(len(x) for _, x in files)))
