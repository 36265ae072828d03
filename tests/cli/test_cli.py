#!/usr/bin/python3
"""Tests of the `raftwal` command-line tool (tools/).

Run one case:   /usr/bin/python3 tests/cli/test_cli.py --raftwal BUILD/tools/raftwal CASE
Run them all:   /usr/bin/python3 tests/cli/test_cli.py --raftwal BUILD/tools/raftwal all
ctest registers each case as cli_<case> (tools/CMakeLists.txt).

Only the standard library is used. The damage tests locate bytes with a small
reader of the on-disk format written from docs/format.md alone (segment
header, 8-byte aligned records with 32-byte headers, CRC32C over salt, header
bytes 4..31 and payload), so they also check that the engine writes what the
spec says.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "..", "..", "include", "raftwal.h")
RAFTWAL = None  # path of the binary, from --raftwal

COMMANDS = ["demo", "dump", "verify", "stat", "repair", "rekey", "bench"]
# The commands that take --key-file for an encrypted log.
KEY_COMMANDS = ["demo", "dump", "verify", "stat", "repair"]

# What `raftwal demo` writes by default (tools/cmd_demo.c).
DEMO_ENTRIES = 4000
DEMO_BATCH = 50
DEMO_BATCHES_PER_TERM = 20
DEMO_METADATA = b"raftwal demo: cluster=demo node=1"

# ---- the demo's deterministic payload (tools/demo_payload.h) ---------------


def demo_payload(index, term):
    size = 16 + (index * 37) % 1000
    if index % 8 == 0:
        return bytes((index * 131 + term * 31 + i * 7) & 0xFF for i in range(size))
    pattern = ("entry %d term %d; " % (index, term)).encode()
    return (pattern * (size // len(pattern) + 1))[:size]


def demo_type(index):
    return 1 if index % 8 == 0 else 0


# ---- running the tool -------------------------------------------------------


class Result:
    def __init__(self, argv, proc):
        self.argv = argv
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def describe(self):
        return "$ %s\nexit %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            " ".join(self.argv), self.code, self.out[-4000:], self.err[-4000:])


def run(*args):
    argv = [RAFTWAL] + [str(a) for a in args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return Result(argv, proc)


def check(cond, message, result=None):
    if not cond:
        detail = ("\n" + result.describe()) if result is not None else ""
        raise AssertionError(message + detail)


def run_ok(*args):
    r = run(*args)
    check(r.code == 0, "expected exit 0", r)
    return r


def demo(log_dir, *extra):
    r = run_ok("demo", *extra, log_dir)
    check("OK" in r.out, "demo did not say OK", r)
    return r


def dump_json(log_dir, *extra):
    """Returns (state, segments, entries) from `raftwal dump --json`."""
    r = run_ok("dump", "--json", log_dir, *extra)
    state, segments, entries = None, [], []
    for line in r.out.splitlines():
        obj = json.loads(line)
        kind = obj["kind"]
        if kind == "state":
            check(state is None, "two state lines", r)
            state = obj
        elif kind == "segment":
            segments.append(obj)
        elif kind == "entry":
            entries.append(obj)
        else:
            check(False, "unknown kind %r" % kind, r)
    check(state is not None, "no state line", r)
    return state, segments, entries


def check_entries_match_demo(entries):
    for e in entries:
        want = demo_payload(e["index"], e["term"])
        data = bytes.fromhex(e["data_hex"])
        check(data == want, "entry %d: data differs from the demo payload" % e["index"])
        check(e["size"] == len(want), "entry %d: size %d, want %d" % (e["index"], e["size"], len(want)))
        check(e["type"] == demo_type(e["index"]), "entry %d: type %d" % (e["index"], e["type"]))


# ---- a reader of the on-disk format (docs/format.md) -------------------------

REC_ENTRY, REC_COMMIT, REC_EPOCH, REC_FOOTER = 1, 2, 9, 10
HEADER_SIZE = 64
REC_HEADER = 32


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class Record:
    def __init__(self, off, rtype, length, aux, a, b, salt):
        self.off, self.type, self.len, self.aux, self.a, self.b = off, rtype, length, aux, a, b
        self.salt = salt

    @property
    def end(self):
        return self.off + REC_HEADER + ((self.len + 7) & ~7)


def read_records(path):
    """Walks a segment's records from byte 64 to the zero header that ends
    them. Returns (records, file bytes)."""
    with open(path, "rb") as f:
        buf = f.read()
    check(buf[:8] == b"RAFTWAL\0", "%s: bad magic" % path)
    check(crc32c(buf[:60]) == struct.unpack_from("<I", buf, 60)[0], "%s: header CRC" % path)
    salt = struct.unpack_from("<Q", buf, 32)[0]
    records, off = [], HEADER_SIZE
    while off + REC_HEADER <= len(buf):
        head = buf[off:off + REC_HEADER]
        if head == bytes(REC_HEADER):
            break
        _, rtype, length, aux, a, b = struct.unpack_from("<IB3xIIQQ", head)
        rec = Record(off, rtype, length, aux, a, b, salt)
        if rec.end > len(buf):
            break
        records.append(rec)
        if rtype == REC_EPOCH:
            salt = b
        off = rec.end
    return records, buf


def record_crc_ok(buf, rec):
    stored = struct.unpack_from("<I", buf, rec.off)[0]
    body = buf[rec.off + 4:rec.off + REC_HEADER] + buf[rec.off + REC_HEADER:rec.off + REC_HEADER + rec.len]
    return crc32c(struct.pack("<Q", rec.salt) + body) == stored


def patch_file(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def find_offset(text):
    """The byte offset an error message names ("offset 4096" or "offset 0x1000")."""
    m = re.search(r"offset\s+(0x[0-9a-fA-F]+|\d+)", text)
    check(m is not None, "no offset in message: %r" % text)
    return int(m.group(1), 0)


# ---- shared set-ups ------------------------------------------------------------


def fresh_demo_log(tmp):
    log_dir = os.path.join(tmp, "log")
    demo(log_dir)
    return log_dir


def tear_last_batch(log_dir):
    """Zeroes the second half of the last batch of the tail segment (from the
    middle of one of its entries through its COMMIT), as a crash mid-write
    would leave it. Returns (segment, batch entries, batch start, zero start)."""
    _, segments, _ = dump_json(log_dir)
    tail = segments[-1]
    path = os.path.join(log_dir, tail["file"])
    records, buf = read_records(path)
    commits = [r for r in records if r.type == REC_COMMIT]
    check(commits, "no COMMIT in the tail segment %s" % tail["file"])
    last_commit = commits[-1]
    batch_start = last_commit.b
    batch = [r for r in records if batch_start <= r.off < last_commit.off]
    ents = [r for r in batch if r.type == REC_ENTRY]
    check(len(ents) >= 2, "the last batch has %d entries; want a batch of entries" % len(ents))
    check(all(record_crc_ok(buf, r) for r in batch + [last_commit]),
          "the last batch does not validate with docs/format.md's CRC rule")
    victim = ents[len(ents) // 2]
    zero_from = victim.off + REC_HEADER + victim.len // 2
    zero_to = last_commit.off + REC_HEADER
    patch_file(path, zero_from, bytes(zero_to - zero_from))
    return tail, ents, batch_start, zero_from


def flip_bit_in_sealed_segment(log_dir):
    """Flips one bit in the middle of the payload of a live entry in the
    middle of the first sealed segment that holds live entries. Returns
    (segment, the damaged entry's index, the byte offset flipped, its
    record, the first index of its batch)."""
    _, segments, _ = dump_json(log_dir)
    sealed = [s for s in segments if s["sealed"] and s["first_index"] <= s["last_index"]]
    check(sealed, "the demo log has no sealed segment with live entries: %r" % segments)
    seg = sealed[0]
    path = os.path.join(log_dir, seg["file"])
    records, buf = read_records(path)
    live = [r for r in records if r.type == REC_ENTRY and seg["first_index"] <= r.a <= seg["last_index"]]
    check(live, "no live ENTRY records found in %s" % seg["file"])
    victim = live[len(live) // 2]
    check(record_crc_ok(buf, victim), "entry record at %d does not validate per the spec" % victim.off)
    # The batch holding it: the first COMMIT after it names the batch start.
    commit = next(r for r in records if r.type == REC_COMMIT and r.off > victim.off)
    batch_first = min(r.a for r in records
                      if r.type == REC_ENTRY and commit.b <= r.off < commit.off)
    pos = victim.off + REC_HEADER + victim.len // 2
    patch_file(path, pos, bytes([buf[pos] ^ 0x10]))
    return seg, victim.a, pos, victim, batch_first


def forge_entry(log_dir):
    """Changes one byte of a live text entry in the tail segment and gives
    the record a matching CRC, so that only a byte-for-byte comparison with
    what was written can tell. Returns the forged entry's index."""
    _, segments, _ = dump_json(log_dir)
    tail = segments[-1]
    path = os.path.join(log_dir, tail["file"])
    records, buf = read_records(path)
    live = [r for r in records if r.type == REC_ENTRY and r.aux == 0
            and tail["first_index"] <= r.a <= tail["last_index"]]
    check(live, "no live text entry in %s" % tail["file"])
    victim = live[len(live) // 2]
    check(record_crc_ok(buf, victim), "entry record at %d does not validate per the spec" % victim.off)
    pos = victim.off + REC_HEADER
    payload = bytearray(buf[pos:pos + victim.len])
    payload[0] ^= 0x20  # "entry" -> "Entry": still printable
    crc = crc32c(struct.pack("<Q", victim.salt) + buf[victim.off + 4:pos] + bytes(payload))
    patch_file(path, pos, bytes(payload))
    patch_file(path, victim.off, struct.pack("<I", crc))
    return victim.a


# ---- the cases -----------------------------------------------------------------


def case_help(tmp):
    r = run_ok("--help")
    for cmd in COMMANDS:
        check(re.search(r"^\s+%s\s" % cmd, r.out, re.M), "--help does not list %s" % cmd, r)
    for cmd in COMMANDS:
        r = run_ok(cmd, "--help")
        check(r.out.startswith("usage: raftwal %s" % cmd), "%s --help: no usage line" % cmd, r)
        check(r.err == "", "%s --help wrote to stderr" % cmd, r)


def case_usage(tmp):
    missing = os.path.join(tmp, "missing")
    bad = [
        (),
        ("no-such-command",),
        ("demo",),
        ("demo", "--batch", "0", missing),
        ("demo", "--entries", "-5", missing),
        ("demo", "--segment-size", "1000", missing),
        ("dump",),
        ("dump", "--bogus", missing),
        ("dump", "--from", "x", missing),
        ("dump", "--from", "5", "--to", "3", missing),
        ("dump", "--from", missing),
        ("dump", missing, "extra"),
        ("verify",),
        ("verify", "a", "b"),
        ("stat",),
        ("stat", "--json=1", missing),
        ("repair",),
        ("repair", "--force", missing),
    ]
    for args in bad:
        r = run(*args)
        check(r.code == 2, "bad usage must exit 2", r)
        check(r.err.strip() != "", "bad usage must explain itself on stderr", r)
    check(not os.path.exists(missing), "a usage error created the log directory")
    # Failures (not usage errors) exit 1 with "raftwal: <strerror>: <detail>".
    for cmd in ("dump", "verify", "stat", "repair"):
        r = run(cmd, missing)
        check(r.code == 1, "%s on a missing log must exit 1" % cmd, r)
        check(r.err.startswith("raftwal: "), "%s: error format" % cmd, r)


def case_version(tmp):
    with open(HEADER) as f:
        want = re.search(r'#define RAFTWAL_VERSION_STRING "([^"]+)"', f.read()).group(1)
    r = run_ok("--version")
    check(r.out.startswith("raftwal %s" % want), "version is not %s" % want, r)
    check("library %s" % want in r.out, "run-time library version missing", r)


def case_bench_help(tmp):
    r = run_ok("bench", "--help")
    check("usage: raftwal-bench" in r.out, "bench --help must show the harness's usage", r)
    r = run("bench", "--no-such-option")
    check(r.code == 2, "bench passes a bad option to the harness, which exits 2", r)
    # A configured harness that is not there: a clear failure, no fall-back.
    missing = os.path.join(tmp, "no-raftwal-bench")
    proc = subprocess.run([RAFTWAL, "bench"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, RAFTWAL_BENCH=missing))
    r = Result([RAFTWAL, "bench"], proc)
    check(r.code == 1, "bench with a missing RAFTWAL_BENCH must exit 1", r)
    check("not installed" in r.err and missing in r.err, "bench must say where it looked", r)


def case_bench_missing(tmp):
    # Registered when the build has no harness (RAFTWAL_BUILD_BENCH=OFF).
    r = run("bench", "--quick")
    check(r.code == 1, "bench without a harness must exit 1", r)
    check("not installed" in r.err and "RAFTWAL_BUILD_BENCH" in r.err, "bench must say how to get it", r)
    r = run_ok("bench", "--help")
    check("raftwal bench" in r.out, "bench --help works without the harness", r)


def case_bench_runs(tmp):
    r = run_ok("bench", "--smoke", "--json", "--only", "durable", "--no-peers", "--dir", tmp)
    rows = [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]
    check(rows and rows[0].get("phase") == "meta", "the first JSON line describes the run", r)
    wal = [x for x in rows if x.get("phase") == "durable" and x.get("who") == "raftwal"]
    raw = [x for x in rows if x.get("phase") == "durable" and x.get("who") == "raw"]
    check(len(wal) == 1 and len(raw) == 1, "one durable row for raftwal and one for raw", r)
    check(wal[0]["entries_per_s"] > 0 and wal[0]["ratio_to"] == "raw", "raftwal's rate and ratio", r)
    check(wal[0]["fsyncs_per_commit"] > 0, "the engine's fsync count is reported", r)
    check(os.listdir(tmp) == [], "the harness removes its scratch directory", r)


def case_bench_codec(tmp):
    """`raftwal bench --quick --only codec` (issue 22's numbers, at CI size):
    every cell and read variant is printed for each contender this build
    has; one it lacks says so on stderr. No performance thresholds."""
    r = run_ok("bench", "--quick", "--json", "--only", "codec", "--dir", tmp)
    rows = [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]
    appends = {(x["who"], x["payload"]) for x in rows if x.get("phase") == "codec"}
    reads = {(x["who"], x["variant"]) for x in rows if x.get("phase") == "codec-rd"}
    refs = {"plain": None, "lz4": "plain", "aes": "plain",
            "json": None, "json-lz4": "json", "json-aes-lz4": "json", "json-zstd": "json"}
    for who, ref in refs.items():
        if "codec: %s skipped" % who in r.err:
            check(not any(w == who for w, _ in appends | reads), "%s is skipped, not measured" % who, r)
            continue
        for payload in (128, 1024, 16384):
            check((who, payload) in appends, "codec %d x 16: a row for %s" % (payload, who), r)
        check((who, "get") in reads and (who, "scan") in reads, "codec reads: get and scan for %s" % who, r)
    for x in rows:
        if x.get("phase") in ("codec", "codec-rd"):
            check(x.get("entries_per_s", 0) > 0, "a rate in every row: %s" % x, r)
            if refs[x["who"]]:
                check(x.get("ratio_to") == refs[x["who"]], "%s is a ratio to %s" % (x["who"], refs[x["who"]]), r)
            if x["phase"] == "codec":
                check(x.get("extra", 0) > 0 and x["variant"].startswith("stored "),
                      "stored bytes per payload byte in every append row: %s" % x, r)
    check(os.listdir(tmp) == [], "the harness removes its scratch directory", r)


def case_demo_twice(tmp):
    log_dir = os.path.join(tmp, "log")
    r1 = demo(log_dir)
    check("new log" in r1.out, "first run should create a new log", r1)
    state1, segs1, ents1 = dump_json(log_dir)
    check(state1["last_index"] == DEMO_ENTRIES, "last index after one run", r1)
    check(len(segs1) >= 2, "the demo should rotate: %d segment(s)" % len(segs1), r1)
    check(state1["snapshot"]["index"] > 0, "the demo should take a snapshot", r1)
    check(state1["first_index"] == state1["snapshot"]["index"] + 1, "purge up to the snapshot")
    top_term = max(e["term"] for e in ents1)

    r2 = demo(log_dir)
    check("continuing the log after index %d" % DEMO_ENTRIES in r2.out, "second run continues", r2)
    state2, _, ents2 = dump_json(log_dir)
    check(state2["last_index"] == 2 * DEMO_ENTRIES, "second run appends after the last index", r2)
    check(state2["first_index"] > state1["first_index"], "second run snapshots and purges again", r2)
    check(state2["first_index"] == state2["snapshot"]["index"] + 1, "second purge up to its snapshot")
    new = [e for e in ents2 if e["index"] > DEMO_ENTRIES]
    check([e["index"] for e in new] == list(range(max(state2["first_index"], DEMO_ENTRIES + 1),
                                                  2 * DEMO_ENTRIES + 1)), "second run's entries are live")
    # The second run's first term is top_term + 1; a new term every
    # DEMO_BATCHES_PER_TERM batches, so its last term is 3 above that.
    check(new[-1]["term"] == top_term + 1 + (DEMO_ENTRIES // DEMO_BATCH - 1) // DEMO_BATCHES_PER_TERM,
          "terms continue above the first run's: %d" % new[-1]["term"])
    check(state2["hardstate"]["term"] >= max(e["term"] for e in ents2), "hard state term")
    check_entries_match_demo(ents2)


def case_demo_detects_damage(tmp):
    # Data that passes every checksum but differs from what was written:
    # only the demo's own byte comparison can catch it.
    log_dir = fresh_demo_log(tmp)
    index = forge_entry(log_dir)
    r = run("demo", "--entries", 0, log_dir)
    check(r.code == 1, "demo must fail when an entry differs from what it wrote", r)
    check("VERIFY FAILED: data of index %d " % index in r.err, "demo names the forged entry", r)
    # A bit flip in a sealed segment: the library's checksum catches it.
    log_dir = os.path.join(tmp, "log2")
    demo(log_dir)
    flip_bit_in_sealed_segment(log_dir)
    r = run("demo", "--entries", 0, log_dir)
    check(r.code == 1 and "raftwal: " in r.err, "demo must fail on a corrupt entry", r)
    check("OK: log" not in r.out, "demo must not claim success", r)


def case_dump_json_bytes(tmp):
    log_dir = fresh_demo_log(tmp)
    state, segments, entries = dump_json(log_dir)
    first, last = state["first_index"], state["last_index"]
    check([e["index"] for e in entries] == list(range(first, last + 1)), "entries are first..last in order")
    check_entries_match_demo(entries)
    for e in entries:
        want_term = 1 + ((e["index"] - 1) // DEMO_BATCH) // DEMO_BATCHES_PER_TERM
        check(e["term"] == want_term, "entry %d term %d, want %d" % (e["index"], e["term"], want_term))
    # Hard state: the demo's last batch commits up to the batch before it.
    check(state["hardstate"] == {"term": entries[-1]["term"], "vote": 1,
                                 "commit": last - DEMO_BATCH}, "hard state %r" % state["hardstate"])
    snap = state["snapshot"]
    check(bytes.fromhex(snap["meta_hex"]).startswith(b"demo snapshot: index=%d " % snap["index"]),
          "snapshot meta %r" % snap)
    check(snap["meta_size"] == len(snap["meta_hex"]) // 2, "snapshot meta_size")
    check(bytes.fromhex(state["metadata_hex"]) == DEMO_METADATA, "user metadata")
    check(state["segments"] == len(segments), "segment count")
    check([s["seq"] for s in segments] == list(range(segments[0]["seq"], segments[0]["seq"] + len(segments))),
          "segment sequence numbers are consecutive")
    for s in segments:
        check(s["file"] == "%016x.wal" % s["seq"], "segment file name %r" % s)
        check(os.path.getsize(os.path.join(log_dir, s["file"])) == s["file_bytes"], "file_bytes %r" % s)
    check(all(s["sealed"] for s in segments[:-1]) and not segments[-1]["sealed"],
          "all segments but the last are sealed")


def case_dump_range(tmp):
    log_dir = fresh_demo_log(tmp)
    state, _, entries = dump_json(log_dir, "--from", 3500, "--to", 3510)
    check([e["index"] for e in entries] == list(range(3500, 3511)), "--from/--to select [3500, 3510]")
    check_entries_match_demo(entries)
    _, _, one = dump_json(log_dir, "--from=%d" % state["last_index"])
    check([e["index"] for e in one] == [state["last_index"]], "--from last gives the last entry")
    r = run("dump", log_dir, "--from", state["first_index"] - 1)
    check(r.code == 1 and r.err.startswith("raftwal: "), "--from below the first index fails", r)
    r = run("dump", log_dir, "--to", state["last_index"] + 1)
    check(r.code == 1 and r.err.startswith("raftwal: "), "--to above the last index fails", r)
    r = run("dump", log_dir, "--from", state["last_index"] + 1)
    check(r.code == 1 and r.err.startswith("raftwal: "), "--from above the last index fails", r)
    r = run("dump", log_dir, "--to", state["first_index"] - 1)
    check(r.code == 1 and r.err.startswith("raftwal: "), "--to below the first index fails", r)
    r = run("dump", log_dir, "--to", 2 ** 64 - 1)
    check(r.code == 1 and r.err.startswith("raftwal: "), "--to UINT64_MAX fails cleanly", r)
    r = run("dump", log_dir, "--to", 2 ** 64)
    check(r.code == 2, "--to beyond 64 bits is a usage error", r)


def case_dump_text(tmp):
    log_dir = fresh_demo_log(tmp)
    r = run_ok("dump", log_dir, "--from", 3992, "--to", 4000)
    check("first=" in r.out and "last=4000" in r.out, "text dump shows the bounds", r)
    check(len(re.findall(r"^\s+\d+\s+term ", r.out, re.M)) == 9, "one line per entry", r)
    text_3999 = '"' + demo_payload(3999, 4)[:32].decode() + '"...'
    check(text_3999 in r.out, "text preview of a printable entry: %s" % text_3999, r)
    hex_3992 = demo_payload(3992, 4)[:32].hex()  # 720 bytes, binary
    check("hex:" + hex_3992 + "..." in r.out, "hex preview of a binary entry", r)
    hex_4000 = demo_payload(4000, 4).hex()  # 16 bytes: shown whole
    check(re.search("hex:%s$" % hex_4000, r.out, re.M), "a short binary entry is shown whole", r)
    check(".wal" in r.out and "sealed" in r.out, "text dump lists segments", r)


def case_verify_fresh(tmp):
    log_dir = fresh_demo_log(tmp)
    state, segments, _ = dump_json(log_dir)
    r = run_ok("verify", log_dir)
    check("no torn tail" in r.out, "a fresh log has no torn tail", r)
    check("entries %d" % (state["last_index"] - state["first_index"] + 1) in r.out, "entry count", r)
    check("last index %d" % state["last_index"] in r.out, "last index", r)


def case_verify_torn_tail(tmp):
    log_dir = fresh_demo_log(tmp)
    before, _, _ = dump_json(log_dir)
    tail, ents, batch_start, zero_from = tear_last_batch(log_dir)
    r = run_ok("verify", log_dir)
    check("torn tail" in r.out and "no torn tail" not in r.out, "verify reports the torn tail", r)
    check(tail["file"] in r.out, "the torn tail names the tail segment", r)
    off = find_offset(r.out)
    check(batch_start <= off <= zero_from, "torn offset %d not in [%d, %d]" % (off, batch_start, zero_from), r)
    # A read-only open sees the durable prefix: without the torn batch.
    after, _, entries = dump_json(log_dir)
    check(after["last_index"] == before["last_index"] - len(ents), "the torn batch is not in the log")
    check_entries_match_demo(entries)
    # A writable open cuts it; the log continues and verifies.
    demo(log_dir, "--entries", 200)
    r = run_ok("verify", log_dir)
    check("no torn tail" in r.out, "the torn tail is gone after a writable open", r)


def case_verify_bitflip(tmp):
    log_dir = fresh_demo_log(tmp)
    seg, index, pos, rec, _ = flip_bit_in_sealed_segment(log_dir)
    r = run("verify", log_dir)
    check(r.code == 1, "a bit flip in a sealed segment is corruption", r)
    check(r.err.startswith("raftwal: "), "error format", r)
    check(seg["file"] in r.err, "the message names the damaged file %s" % seg["file"], r)
    off = find_offset(r.err)
    check(rec.off <= off <= pos, "offset %d does not point at the damaged record [%d, %d]" % (off, rec.off, pos), r)
    # Reading the damaged entry fails too (its CRC is checked when read).
    r = run("dump", "--json", log_dir, "--from", index, "--to", index)
    check(r.code == 1, "dumping the damaged entry fails", r)
    # stat still reports (the open reads only the tail and the footers); the
    # compression counts, which need the check pass, are unknown.
    r = run_ok("stat", log_dir)
    check(re.search(r"^  compression  unknown: the check pass failed \(corrupt", r.out, re.M),
          "stat says the check pass failed", r)
    st = json.loads(run_ok("stat", "--json", log_dir).out)
    check(st["compression_ratio"] is None and seg["file"] in st["check_error"],
          "stat --json: check_error names the file: %r" % st)


def case_repair(tmp):
    log_dir = fresh_demo_log(tmp)
    before, _, _ = dump_json(log_dir)
    seg, index, _, _, batch_first = flip_bit_in_sealed_segment(log_dir)
    r = run_ok("repair", log_dir)
    check(re.search(r"\bcut\b", r.out) and seg["file"] in r.out, "repair says what it cut", r)
    m = re.search(r"backup of what was cut: (.+)", r.out)
    check(m is not None, "repair names the backup", r)
    backup = m.group(1).strip()
    if not os.path.isabs(backup):
        backup = os.path.join(log_dir, backup)
    check(os.path.isdir(backup) and os.listdir(backup), "the backup %s holds files" % backup, r)
    check(seg["file"] in os.listdir(backup), "the backup holds a copy of the cut segment", r)
    r = run_ok("verify", log_dir)
    check("no torn tail" in r.out, "verify after repair", r)
    after, _, entries = dump_json(log_dir)
    check(after["first_index"] == before["first_index"], "repair keeps the prefix")
    check(after["last_index"] == batch_first - 1,
          "repair cut at the damaged batch: last %d, want %d (damage at %d)"
          % (after["last_index"], batch_first - 1, index))
    check_entries_match_demo(entries)
    r = run_ok("repair", log_dir)
    check("nothing needed cutting" in r.out, "a second repair finds nothing", r)
    # The salvaged log is writable again.
    demo(log_dir, "--entries", 200)


def case_stat_json(tmp):
    log_dir = fresh_demo_log(tmp)
    state, segments, _ = dump_json(log_dir)
    r = run_ok("stat", "--json", log_dir)
    lines = r.out.splitlines()
    check(len(lines) == 1, "stat --json prints one object", r)
    st = json.loads(lines[0])
    check(st["kind"] == "stat", "kind", r)
    for key in ("first_index", "last_index", "hardstate"):
        check(st[key] == state[key], "stat %s %r != dump %r" % (key, st[key], state[key]), r)
    check(st["entries"] == state["last_index"] - state["first_index"] + 1, "entries", r)
    check(st["snapshot"]["index"] == state["snapshot"]["index"], "snapshot", r)
    check([s["seq"] for s in st["segments"]] == [s["seq"] for s in segments], "segments", r)
    check(st["disk_bytes"] == sum(s["file_bytes"] for s in st["segments"]),
          "disk_bytes %d != the segments' file bytes" % st["disk_bytes"], r)
    r = run_ok("stat", log_dir)
    check("(%d bytes)" % st["disk_bytes"] in r.out, "text stat shows raw bytes on disk", r)
    check("MiB" in r.out, "text stat shows human sizes", r)


def case_empty_log(tmp):
    log_dir = os.path.join(tmp, "log")
    demo(log_dir, "--entries", 0)
    state, segments, entries = dump_json(log_dir)
    check((state["first_index"], state["last_index"]) == (1, 0), "a new log is first=1 last=0: %r" % state)
    check(entries == [], "an empty log dumps no entries")
    check(bytes.fromhex(state["metadata_hex"]) == DEMO_METADATA, "metadata written at creation")
    for s in segments:
        check(s["last_index"] == s["first_index"] - 1,
              "a segment without live entries has last_index = first_index - 1: %r" % s)
    r = run_ok("verify", log_dir)
    check("entries 0," in r.out, "verify counts no entries", r)
    r = run_ok("stat", "--json", log_dir)
    check(json.loads(r.out)["entries"] == 0, "stat counts no entries", r)


# ---- encryption and compression ---------------------------------------------

# A key with printable bytes, so that the tests can look for it in output.
KEY = b"raftwal-cli-test-key-0123456789!"
NEW_KEY = b"raftwal-cli-new-key-9876543210?!"
assert len(KEY) == len(NEW_KEY) == 32


def library_features():
    """The library's raftwal_features() as `raftwal --version` names them."""
    r = run_ok("--version")
    m = re.search(r"^features:((?: \w+)+)$", r.out, re.M)
    check(m is not None, "--version names the features", r)
    names = set(m.group(1).split()) - {"none"}
    check(names <= {"encryption", "lz4", "zstd"}, "unknown feature names %r" % names, r)
    return names


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def check_no_key_material(r, *keys):
    for key in keys:
        for form in (key.decode("latin-1"), key.hex(), key.hex().upper()):
            check(form not in r.out and form not in r.err, "the output shows a key", r)


def check_refused_for_lack_of(r, words):
    """The refusal of a build without a feature: exit 1, the library's
    EINVAL naming the feature."""
    check(r.code == 1, "expected exit 1", r)
    check(r.err.startswith("raftwal: invalid argument: "), "error format", r)
    check(any(w.lower() in r.err.lower() for w in words), "the error names %s" % words, r)


def case_key_file_format(tmp):
    """--key-file: 32 raw bytes, or 64 hex digits and one optional newline;
    anything else is a usage error (exit 2) that never shows the content."""
    log_dir = os.path.join(tmp, "log")
    demo(log_dir, "--entries", 50)
    hex_key = KEY.hex().encode()
    bad = {
        "missing": None,
        "empty": b"",
        "short": KEY[:31],
        "long": KEY + b"!",
        "not_hex": KEY + KEY,  # 64 bytes, not hex digits
        "hex_two_newlines": hex_key + b"\n\n",
        "hex_crlf": hex_key + b"\r\n",
        "hex_short": hex_key[:63] + b"\n",
        "hex_and_text": hex_key + b" # my key\n",
        "huge": KEY * 100,
    }
    for name, data in bad.items():
        path = os.path.join(tmp, name + ".key")
        if data is not None:
            write_file(path, data)
        for cmd in KEY_COMMANDS:
            r = run(cmd, "--key-file", path, log_dir)
            check(r.code == 2, "%s --key-file %s must be a usage error" % (cmd, name), r)
            check(("raftwal %s: --key-file %s: " % (cmd, path)) in r.err,
                  "the error names the option and the file", r)
            check_no_key_material(r, KEY)
        r = run("rekey", "--key-file", path, "--new-key-file", write_file(
            os.path.join(tmp, "ok.key"), NEW_KEY), log_dir)
        check(r.code == 2, "rekey --key-file %s must be a usage error" % name, r)
        r = run("rekey", "--key-file", os.path.join(tmp, "ok.key"), "--new-key-file", path, log_dir)
        check(r.code == 2 and "--new-key-file" in r.err, "rekey --new-key-file %s" % name, r)
    r = run("verify", "--key-file", os.path.join(tmp, "short.key"), log_dir)
    check("it holds 31 bytes" in r.err, "says what the file holds", r)
    r = run("verify", "--key-file", os.path.join(tmp, "not_hex.key"), log_dir)
    check("not 64 hex digits" in r.err, "says the text is not hex", r)
    # Each accepted form reaches the library: on this plaintext log that is
    # "wrong or missing key" (a key for a plaintext log) with encryption,
    # the refusal naming encryption without it. Never a usage error.
    good = {"raw": KEY, "hex": hex_key, "hex_newline": hex_key + b"\n",
            "hex_upper_newline": hex_key.upper() + b"\n"}
    has_encryption = "encryption" in library_features()
    for name, data in good.items():
        path = write_file(os.path.join(tmp, name + ".key"), data)
        for cmd in ("dump", "verify", "stat", "repair"):
            r = run(cmd, "--key-file", path, log_dir)
            if has_encryption:
                check(r.code == 1 and "wrong or missing key" in r.err,
                      "%s: a key for a plaintext log is refused" % cmd, r)
            else:
                check_refused_for_lack_of(r, ["encryption"])
            check_no_key_material(r, KEY)


def case_encrypted_log(tmp):
    log_dir = os.path.join(tmp, "log")
    key_file = write_file(os.path.join(tmp, "key"), KEY)
    new_key_file = write_file(os.path.join(tmp, "new.key"), (NEW_KEY.hex() + "\n").encode())
    if "encryption" not in library_features():
        r = run("demo", "--key-file", key_file, "--entries", 50, log_dir)
        check_refused_for_lack_of(r, ["encryption"])
        check_no_key_material(r, KEY)
        demo(log_dir, "--entries", 50)
        r = run("rekey", "--key-file", key_file, "--new-key-file", new_key_file, log_dir)
        check_refused_for_lack_of(r, ["encryption"])
        check_no_key_material(r, KEY, NEW_KEY)
        return
    r = demo(log_dir, "--key-file", key_file, "--entries", 400)
    check("encrypted: yes" in r.out, "demo reports an encrypted log", r)
    check_no_key_material(r, KEY)
    _, _, entries = dump_json(log_dir, "--key-file", key_file)
    check_entries_match_demo(entries)
    for cmd in ("dump", "verify", "stat"):
        r = run(cmd, log_dir)
        check(r.code == 1 and "wrong or missing key" in r.err, "%s without the key" % cmd, r)
        r = run(cmd, "--key-file", new_key_file, log_dir)
        check(r.code == 1 and "wrong or missing key" in r.err, "%s with another key" % cmd, r)
        check_no_key_material(r, KEY, NEW_KEY)
    r = run_ok("verify", "--key-file", key_file, log_dir)
    check("OK" in r.out, "verify with the key", r)
    r = run_ok("stat", "--key-file", key_file, log_dir)
    check(re.search(r"^  encrypted    yes", r.out, re.M), "stat says encrypted", r)
    st = json.loads(run_ok("stat", "--json", "--key-file", key_file, log_dir).out)
    check(st["encrypted"] is True, "stat --json encrypted", r)
    check(st["stored_entry_bytes"] > st["entry_bytes"] > 0, "tags make stored > decoded", r)
    run_ok("repair", "--key-file", key_file, log_dir)
    for name in os.listdir(log_dir):
        path = os.path.join(log_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
            check(KEY not in data, "the key is in %s" % name)
            check(demo_payload(3, 1)[:40] not in data, "an entry is in clear in %s" % name)
    # rekey: the new key opens the log, the old one no longer does.
    r = run("rekey", "--key-file", new_key_file, "--new-key-file", key_file, log_dir)
    check(r.code == 1 and "wrong or missing key" in r.err, "rekey with a wrong old key", r)
    r = run_ok("rekey", "--key-file", key_file, "--new-key-file", new_key_file, log_dir)
    check_no_key_material(r, KEY, NEW_KEY)
    r = run("verify", "--key-file", key_file, log_dir)
    check(r.code == 1 and "wrong or missing key" in r.err, "the old key after rekey", r)
    _, _, entries = dump_json(log_dir, "--key-file", new_key_file)
    check_entries_match_demo(entries)
    demo(log_dir, "--key-file", new_key_file, "--entries", 100)  # continues the log


def case_compressed_log(tmp):
    features = library_features()
    for name, words in (("lz4", ["lz4"]), ("zstd", ["zstd"])):
        log_dir = os.path.join(tmp, name)
        if name not in features:
            r = run("demo", "--compression", name, "--entries", 50, log_dir)
            check_refused_for_lack_of(r, words)
            continue
        r = demo(log_dir, "--compression", name, "--entries", 400)
        _, _, entries = dump_json(log_dir)  # readers need no option
        check_entries_match_demo(entries)
        st = json.loads(run_ok("stat", "--json", log_dir).out)
        check(st["encrypted"] is False, "not encrypted")
        check(st["compressed_entries"] > 0, "entries stored compressed: %r" % st)
        check(st["compression_ratio"] > 1.0, "compression ratio above 1: %r" % st)
        check(abs(st["compression_ratio"] - st["entry_bytes"] / st["stored_entry_bytes"]) < 0.01,
              "ratio = entry_bytes / stored_entry_bytes")
        r = run_ok("stat", log_dir)
        check(re.search(r"^  compression  \d+ of \d+ entries stored compressed", r.out, re.M),
              "text stat names the compressed entries", r)
        check(re.search(r"\(ratio \d+\.\d\d\)", r.out), "text stat shows the ratio", r)
    # A plain log: no compression, stat says so.
    log_dir = os.path.join(tmp, "plain")
    demo(log_dir, "--entries", 100, "--compression", "none")
    st = json.loads(run_ok("stat", "--json", log_dir).out)
    check((st["encrypted"], st["compressed_entries"]) == (False, 0), "a plain log: %r" % st)
    r = run_ok("stat", log_dir)
    check(re.search(r"^  encrypted    no$", r.out, re.M), "stat: not encrypted", r)
    check(re.search(r"^  compression  none", r.out, re.M), "stat: no compression", r)


def case_crypto_usage(tmp):
    missing = os.path.join(tmp, "missing")
    key_file = write_file(os.path.join(tmp, "key"), KEY)
    for args in [("rekey",), ("rekey", missing), ("rekey", "--key-file", key_file, missing),
                 ("rekey", "--new-key-file", key_file, missing),
                 ("demo", "--compression", "gzip", missing), ("demo", "--compression", missing),
                 ("verify", "--key-file", missing), ("stat", "--key-file")]:
        r = run(*args)
        check(r.code == 2, "bad usage must exit 2", r)
        check(r.err.strip() != "", "bad usage must explain itself on stderr", r)
    check(not os.path.exists(missing), "a usage error created the log directory")
    for cmd in KEY_COMMANDS:
        r = run_ok(cmd, "--help")
        check("--key-file F" in r.out, "%s --help documents --key-file" % cmd, r)
        check("32 raw bytes" in r.out and "64 hex" in r.out, "%s --help: the key file format" % cmd, r)
    check("--compression" in run_ok("demo", "--help").out, "demo --help documents --compression")
    r = run_ok("stat", "--help")
    check("raftwal_verify_opts" in r.out and "ratio" in r.out, "stat --help: where the ratio comes from", r)
    r = run_ok("rekey", "--help")
    check("--new-key-file NEW" in r.out, "rekey --help", r)
    r = run_ok("--help")
    check("--key-file" in r.out, "the main help mentions --key-file", r)


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    global RAFTWAL
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raftwal", required=True, help="path of the built raftwal binary")
    ap.add_argument("case", choices=sorted(CASES) + ["all"])
    args = ap.parse_args()
    RAFTWAL = os.path.abspath(args.raftwal)
    names = sorted(CASES) if args.case == "all" else [args.case]
    failed = 0
    for name in names:
        tmp = tempfile.mkdtemp(prefix="raftwal-cli-%s-" % name)
        try:
            CASES[name](tmp)
            print("ok   %s" % name)
        except AssertionError as e:
            failed += 1
            print("FAIL %s: %s" % (name, e))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
