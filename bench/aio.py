#!/usr/bin/env python3
"""raftwal.aio against the blocking raftwal.Log inside an asyncio loop.

Two measurements (issue 21), each on a fresh log in --dir (default: a temp
directory under /var/tmp, which should be a real disk: on tmpfs fdatasync
costs nothing and there is nothing to hide):

1. Loop lag: a ticker coroutine sleeps 1 ms at a time and records how late
   each wake-up is, while one coroutine appends 1 MiB entries durably,
   (a) through raftwal.aio, (b) through raftwal.Log called on the loop.
   Reported: the ticker's p50 / p99 / max lag and the appends/s.
2. Group commit: durable single-entry appends (--entry-size bytes) by 1
   coroutine and by 32 coroutines through raftwal.aio, appends/s, and the
   fsyncs per append (from log.stats()); the blocking Log for comparison.
3. One coroutine's durable 16 x 1 KiB batches: raftwal.aio, the blocking
   Log, and os.pwrite + os.fdatasync of the same bytes, each for a while in
   turn (interleaved rounds of whole runs).
4. (--only pairs) The same three interleaved commit by commit in one
   process, so that all three meet the same moods of a shared disk: per
   block of commits, the raw loop's time over the other's (the throughput
   ratio) and the ratio of median commit latencies; medians over the
   blocks. With --dir on tmpfs (fdatasync costs nothing) it measures the
   binding's own cost per commit.

Run from the repository root after building with -DRAFTWAL_BUILD_PYTHON=ON:
    PYTHONPATH=build/bindings/python /usr/bin/python3 bench/aio.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import raftwal
import raftwal.aio
from raftwal import Entry

MIB = 1 << 20


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def ticker(stop: asyncio.Event, lags: List[float]) -> None:
    while not stop.is_set():
        due = time.perf_counter() + 0.001
        await asyncio.sleep(0.001)
        lags.append(max(0.0, time.perf_counter() - due))


async def lag_run(path: str, seconds: float, use_aio: bool, idle: bool = False) -> Dict[str, float]:
    data = os.urandom(MIB)
    lags: List[float] = []
    stop = asyncio.Event()
    appends = 0
    if use_aio:
        log = await raftwal.aio.open(path)
        append: Callable = log.append
    else:
        log = raftwal.open(path)

        async def append(entries):  # the blocking call, made on the loop
            log.append(entries)
    tick = asyncio.ensure_future(ticker(stop, lags))
    await asyncio.sleep(0.05)  # the ticker runs before the load starts
    lags.clear()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if idle:  # the ticker alone: the machine's own lag
            await asyncio.sleep(0.01)
            continue
        await append([Entry(log.last_index + 1, 1, data)])
        appends += 1
        await asyncio.sleep(0)  # a service's other work gets its turn
        if log.last_index - log.first_index > 64:  # keep the disk footprint small
            if use_aio:
                await log.purge(log.last_index - 32)
            else:
                log.purge(log.last_index - 32)
    elapsed = time.perf_counter() - start
    stop.set()
    await tick
    if use_aio:
        await log.close()
    else:
        log.close()
    return {
        "appends_per_s": appends / elapsed,
        "lag_p50_ms": 1000 * statistics.median(lags),
        "lag_p99_ms": 1000 * percentile(lags, 0.99),
        "lag_max_ms": 1000 * max(lags),
        "ticks": len(lags),
    }


async def rate_run(path: str, seconds: float, writers: int, entry_size: int, use_aio: bool) -> Dict[str, float]:
    data = os.urandom(entry_size)
    count = 0
    if use_aio:
        log = await raftwal.aio.open(path)
    else:
        log = raftwal.open(path)
    before = log.stats()
    deadline = time.perf_counter() + seconds

    async def writer() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            if use_aio:
                await log.append([Entry(log.last_index + 1, 1, data)])
            else:
                log.append([Entry(log.last_index + 1, 1, data)])
                await asyncio.sleep(0)  # let the siblings take turns
            count += 1

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - start
    after = log.stats()
    if use_aio:
        await log.close()
    else:
        log.close()
    return {
        "appends_per_s": count / elapsed,
        "fsyncs_per_append": (after["fsyncs"] - before["fsyncs"]) / max(1, count),
    }


async def batch_run(path: str, seconds: float, how: str) -> float:
    """Durable 16 x 1 KiB batches per second from one coroutine: through
    raftwal.aio, through raftwal.Log on the loop, or as os.pwrite +
    os.fdatasync of the same bytes (the floor a binding is held to)."""
    payloads = [os.urandom(1024) for _ in range(16)]
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    if how == "pwrite":
        os.makedirs(path, exist_ok=True)
        fd = os.open(os.path.join(path, "raw"), os.O_RDWR | os.O_CREAT, 0o644)
        blob, offset = b"".join(payloads), 0
        ring = 8 * MIB  # written and synced first: overwrites, as in raftwal's preallocated segments
        os.pwrite(fd, bytes(ring), 0)
        os.fsync(fd)
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        try:
            while time.perf_counter() < deadline:
                os.pwrite(fd, blob, offset)
                os.fdatasync(fd)
                offset = (offset + len(blob)) % ring
                count += 1
        finally:
            os.close(fd)
        return count / (time.perf_counter() - start)
    log = await raftwal.aio.open(path) if how == "aio" else raftwal.open(path)
    while time.perf_counter() < deadline:
        first = log.last_index + 1
        batch = [Entry(first + k, 1, data) for k, data in enumerate(payloads)]
        if how == "aio":
            await log.append(batch)
        else:
            log.append(batch)
        count += 1
    elapsed = time.perf_counter() - start
    await log.close() if how == "aio" else log.close()
    return count / elapsed


async def pairs_run(root: str, blocks: int, per_block: int) -> Dict[str, Dict[str, float]]:
    payloads = [os.urandom(1024) for _ in range(16)]
    clock = time.perf_counter
    os.makedirs(root, exist_ok=True)
    fd = os.open(os.path.join(root, "raw"), os.O_RDWR | os.O_CREAT, 0o644)
    ring, offset = 8 * MIB, 0
    os.pwrite(fd, bytes(ring), 0)  # overwritten in place, as the engine's prepared segments
    os.fsync(fd)
    log = raftwal.open(os.path.join(root, "log"))
    alog = await raftwal.aio.open(os.path.join(root, "aio"))
    ratios: Dict[str, Dict[str, List[float]]] = {w: {"throughput": [], "median": []} for w in ("log", "aio")}
    raw_medians: List[float] = []
    try:
        for _ in range(blocks):
            lat: Dict[str, List[float]] = {"raw": [], "log": [], "aio": []}
            for i in range(per_block):
                for who in (("raw", "log", "aio") if i % 2 == 0 else ("aio", "log", "raw")):
                    t = clock()
                    if who == "raw":
                        os.pwrite(fd, b"".join(payloads), offset)
                        os.fdatasync(fd)
                        offset = (offset + 16 * 1024) % ring
                    elif who == "log":
                        first = log.last_index + 1
                        log.append([Entry(first + k, 1, data) for k, data in enumerate(payloads)])
                    else:
                        first = alog.last_index + 1
                        await alog.append([Entry(first + k, 1, data) for k, data in enumerate(payloads)])
                    lat[who].append(clock() - t)
            if log.last_index - log.first_index > 4096:  # keep the disk footprint small
                log.purge(log.last_index - 1024)
                await alog.purge(alog.last_index - 1024)
            raw_medians.append(statistics.median(lat["raw"]))
            for who in ("log", "aio"):
                ratios[who]["throughput"].append(sum(lat["raw"]) / sum(lat[who]))
                ratios[who]["median"].append(statistics.median(lat["raw"]) / statistics.median(lat[who]))
    finally:
        log.close()
        await alog.close()
        os.close(fd)
    out = {who: {k: statistics.median(v) for k, v in r.items()} for who, r in ratios.items()}
    out["raw"] = {"median_us": 1e6 * statistics.median(raw_medians)}
    return out


def fresh(root: str, name: str) -> str:
    path = os.path.join(root, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", help="where the logs go (default: a temp dir under /var/tmp)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per run (default 3)")
    parser.add_argument("--entry-size", type=int, default=1024, help="bytes per entry in the rate runs (default 1024)")
    parser.add_argument("--only", choices=("lag", "rate", "batch", "pairs"),
                        help="run one measurement (pairs runs only when asked for)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the batch runs (default 5)")
    parser.add_argument("--blocks", type=int, default=7, help="pairs: blocks of commits (default 7)")
    parser.add_argument("--per-block", type=int, default=150, help="pairs: commits of each kind per block (default 150)")
    args = parser.parse_args()
    root = args.dir or tempfile.mkdtemp(prefix="raftwal-aio-bench-", dir="/var/tmp")
    try:
        print(f"# raftwal.aio bench, logs in {root}, {args.seconds:g} s per run")
        if args.only in (None, "lag"):
            lag_table(root, args.seconds)
        if args.only in (None, "rate"):
            rate_table(root, args.seconds, args.entry_size)
        if args.only in (None, "batch"):
            batch_table(root, args.seconds, args.rounds)
        if args.only == "pairs":
            pairs_table(fresh(root, "pairs"), args.blocks, args.per_block)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)


def lag_table(root: str, seconds: float) -> None:
    print("\n## 1 ms ticker lag while 1 MiB durable appends run")
    print(f"{'appender':<28} {'appends/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, use_aio, idle in (("idle (no appends)", True, True), ("raftwal.aio", True, False),
                                ("raftwal.Log (blocking)", False, False)):
        r = asyncio.run(lag_run(fresh(root, "lag"), seconds, use_aio, idle))
        print(f"{name:<28} {r['appends_per_s']:>10.1f} {r['lag_p50_ms']:>8.2f} "
              f"{r['lag_p99_ms']:>8.2f} {r['lag_max_ms']:>8.2f}")


def rate_table(root: str, seconds: float, entry_size: int) -> None:
    print(f"\n## durable {entry_size}-byte single-entry appends")
    print(f"{'appender':<28} {'coroutines':>10} {'appends/s':>10} {'fsyncs/append':>14}")
    rates = {}
    for name, use_aio in (("raftwal.aio", True), ("raftwal.Log (blocking)", False)):
        for writers in (1, 32):
            r = asyncio.run(rate_run(fresh(root, "rate"), seconds, writers, entry_size, use_aio))
            rates[(use_aio, writers)] = r["appends_per_s"]
            print(f"{name:<28} {writers:>10} {r['appends_per_s']:>10.0f} {r['fsyncs_per_append']:>14.3f}")
    print(f"\nraftwal.aio 32 vs 1 coroutine: {rates[(True, 32)] / rates[(True, 1)]:.1f}x "
          f"(blocking Log: {rates[(False, 32)] / rates[(False, 1)]:.1f}x)")


def pairs_table(root: str, blocks: int, per_block: int) -> None:
    print(f"\n## durable 16 x 1 KiB batches interleaved commit by commit ({blocks} blocks of "
          f"{per_block} each; medians over the blocks)")
    r = asyncio.run(pairs_run(root, blocks, per_block))
    print(f"os.pwrite + os.fdatasync: median commit {r['raw']['median_us']:.0f} us")
    for name, who in (("raftwal.Log (blocking)", "log"), ("raftwal.aio", "aio")):
        print(f"{name:<28} {r[who]['throughput']:.3f}x of pwrite (throughput), "
              f"{r[who]['median']:.3f}x (median latency)")


def batch_table(root: str, seconds: float, rounds_wanted: int) -> None:
    print(f"\n## durable 16 x 1 KiB batches, one coroutine (median of {rounds_wanted} interleaved rounds)")
    hows = (("os.pwrite + os.fdatasync", "pwrite"), ("raftwal.Log (blocking)", "log"), ("raftwal.aio", "aio"))
    rounds: Dict[str, List[float]] = {how: [] for _, how in hows}
    for r in range(rounds_wanted):  # interleaved: the shared disk's mood changes by the second
        for k in range(len(hows)):
            how = hows[(k + r) % len(hows)][1]  # rotate who goes first, as raftwal-bench does
            rounds[how].append(asyncio.run(batch_run(fresh(root, how), seconds / 3, how)))
    for name, how in hows:
        ratios = [r / f for r, f in zip(rounds[how], rounds["pwrite"])]
        print(f"{name:<28} {statistics.median(rounds[how]):>10.0f}/s  "
              f"{statistics.median(ratios):.2f}x of pwrite (per-round ratios {min(ratios):.2f}-{max(ratios):.2f})")

if __name__ == "__main__":
    main()
