#!/bin/sh
# plot.sh -- draws raftwal vs the raw limit vs the peers, per cell of the
# durable grid, from raftwal-bench's JSON lines.
#
#   build/bench/raftwal-bench --json > results.jsonl
#   bench/plot.sh results.jsonl bench/durable.png
#
# Needs gnuplot (Debian: gnuplot-nox) and /usr/bin/python3 (stdlib only).
set -eu
in=${1:?usage: plot.sh RESULTS.jsonl OUT.png}
out=${2:?usage: plot.sh RESULTS.jsonl OUT.png}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One row per cell, one column per contender: entries/s, then ratio to raw.
/usr/bin/python3 - "$in" "$tmp" <<'PY'
import json, sys
src, tmp = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(src) if l.startswith("{")]
meta = next((r for r in rows if r.get("phase") == "meta"), {})
who = ["raw", "raftwal", "raftwal-steady", "raw-grow", "sqlite", "lmdb", "rocksdb"]
cells = {}
for r in rows:
    if r.get("phase") == "durable":
        cells.setdefault((r["payload"], r["batch"]), {})[r["who"]] = r
who = [w for w in who if any(w in c for c in cells.values())]
def name(p):
    return "%d KiB" % (p // 1024) if p >= 1024 else "%d B" % p
with open(tmp + "/rate.dat", "w") as f, open(tmp + "/ratio.dat", "w") as g:
    f.write("cell " + " ".join(who) + "\n")
    g.write("cell " + " ".join(who[1:]) + "\n")
    for (p, b) in sorted(cells):
        c = cells[(p, b)]
        label = '"%s x %d"' % (name(p), b)
        f.write(label + " " + " ".join(str(c.get(w, {}).get("entries_per_s", "NaN")) for w in who) + "\n")
        g.write(label + " " + " ".join(str(c.get(w, {}).get("ratio", "NaN")) for w in who[1:]) + "\n")
with open(tmp + "/meta", "w") as f:
    f.write("commit %s, %s, load %s, medians of %s runs" % (
        meta.get("commit", "?"), meta.get("date", "?"),
        " ".join(meta.get("loadavg", "?").split()[:3]), meta.get("runs", "?")))
with open(tmp + "/ncols", "w") as f:
    f.write(str(len(who)))
PY

n=$(cat "$tmp/ncols")
gnuplot <<GP
set terminal pngcairo size 1200,900 font ",10"
set output "$out"
set multiplot layout 2,1 title "raftwal-bench: durable appends, one commit per batch ($(cat "$tmp/meta"))"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left horizontal samplen 2 width -3
set grid ytics
set xtics rotate by -20
set logscale y
set ylabel "entries/s (log)"
plot for [i=2:$n+1] "$tmp/rate.dat" using i:xtic(1) title columnheader(i)
unset logscale y
set key top right
set ylabel "ratio to raw pwrite+fdatasync"
set yrange [0:*]
set arrow from graph 0, first 0.9 to graph 1, first 0.9 nohead dt 2 lc rgb "red"
set label "target 0.9" at graph 0.005, first 0.93 tc rgb "red"
plot for [i=2:$n] "$tmp/ratio.dat" using i:xtic(1) title columnheader(i) lc (i)
unset multiplot
GP
echo "wrote $out"
