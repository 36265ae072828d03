#!/bin/sh
# report.sh -- regenerates bench/results/ (the table, the JSON lines and the
# plot bench/README.md shows) from one full run of the harness.
#
#   bench/report.sh BUILD_DIR [raftwal-bench options, e.g. --runs 5]
#
# BUILD_DIR must hold a build with the Python binding for the bindings
# phase (cmake -DRAFTWAL_BUILD_PYTHON=ON). Run it when the machine is quiet
# (check `uptime`): the header and the footer of the table record the load.
set -eu
build=${1:?usage: report.sh BUILD_DIR [raftwal-bench options]}
shift
here=$(cd "$(dirname "$0")" && pwd)
out=$here/results
mkdir -p "$out"
"$build/bench/raftwal-bench" --json-out "$out/full.jsonl" --dir "$build" "$@" | tee "$out/table.txt"
"$here/plot.sh" "$out/full.jsonl" "$out/durable.png"
