#!/usr/bin/python3
"""The codec phase's table for bench/README.md from raftwal-bench JSON lines.

    raftwal-bench --only codec --runs 11 --json-out A.jsonl ...
    /usr/bin/python3 bench/codec_table.py A.jsonl [B.jsonl ...]

One row per contender and cell: the lowest and highest of its per-set
median entries/s (sets taken while the shared disk was busy and while it
was quiet differ by up to 20x, so rates are not pooled), the median of its
per-run ratios over every run of every file given (each file one
interleaved set: ratios are only ever taken within a run), the quartiles of
those ratios (the spread), the per-file medians (how the sets differ), and
the stored and written bytes per payload byte. Standard library only.
"""
import json
import statistics
import sys


def quartiles(v):
    if len(v) < 2:
        return (v[0], v[0]) if v else (0, 0)
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], q[2]


def rate_range(v):
    if not v:
        return "-"
    k = lambda x: ("%.2fM" % (x / 1e6)) if x >= 1e6 else ("%.1fk" % (x / 1e3))
    return "%s–%s" % (k(min(v)), k(max(v)))


def main(paths):
    rows = {}  # (phase, payload, batch, who, variant) -> list of per-file rows
    order = []
    commits = set()
    for path in paths:
        for line in open(path):
            d = json.loads(line)
            if d.get("phase") == "meta":
                commits.add(d.get("commit"))
            if d.get("phase") not in ("codec", "codec-rd"):
                continue
            variant = d.get("variant", "") if d["phase"] == "codec-rd" else ""
            key = (d["phase"], d.get("payload"), d.get("batch"), d["who"], variant)
            if key not in rows:
                rows[key] = []
                order.append(key)
            rows[key].append(d)
    print("commits measured: %s; %d set(s)" % (", ".join(sorted(c for c in commits if c)), len(paths)))
    print()
    print("| cell | contender | entries/s (per-set medians, min–max) | ratio to | ratio: median of all runs | quartiles | median per set "
          "| stored / payload | written / payload |")
    print("|---|---|---:|---|---:|---|---|---:|---:|")
    for key in order:
        phase, payload, batch, who, variant = key
        sets = rows[key]
        ops = [d["entries_per_s"] for d in sets if d.get("entries_per_s")]
        ratios = [x for d in sets for x in d.get("runs_ratio", []) if x]
        cell = ("%s x %s" % (payload, batch)) if phase == "codec" else "read %s %s" % (payload, variant)
        ref = sets[0].get("ratio_to", "")
        stored = statistics.median(float(d["variant"].split()[1]) for d in sets) if phase == "codec" else None
        written = statistics.median(d.get("write_amp", 0) for d in sets) if phase == "codec" else None
        if ratios:
            lo, hi = quartiles(ratios)
            ratio = "%.2f (%d runs)" % (statistics.median(ratios), len(ratios))
            spread = "%.2f–%.2f" % (lo, hi)
            per_set = ", ".join("%.2f" % d["ratio"] for d in sets if d.get("ratio"))
        else:
            ratio = spread = per_set = "-"
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            cell, who, rate_range(ops), ref or "-", ratio, spread, per_set,
            "%.3f" % stored if stored is not None else "-", "%.3f" % written if written else "-"))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
