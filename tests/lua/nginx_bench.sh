#!/bin/bash
# nginx_bench.sh -- the numbers of bindings/lua/README.md ("Numbers"): the
# README's OpenResty example, durable POST /append of 1 KiB bodies with wrk.
# Not a ctest (timing depends on the machine). For each mode, yielding (the
# default) and blocking (the example opened with yield = false):
#   - durable appends/s with 1 connection and with 32;
#   - p99 latency of GET /status (1 connection) idle, and while 32
#     connections append.
# Usage: build with -DRAFTWAL_BUILD_LUA=ON, then from the source tree
#   tests/lua/nginx_bench.sh [build dir] [seconds per run]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
secs=${2:-5}
export LUA_PATH="$src/bindings/lua/?.lua;$here/lib/?.lua;;"
export RAFTWAL_LIB=$build/libraftwal.so.1 RAFTWAL_CLI=$build/tools/raftwal
export RAFTWAL_LUAJIT=${RAFTWAL_LUAJIT:-$(command -v luajit)} RAFTWAL_NGINX=${RAFTWAL_NGINX:-/usr/sbin/nginx}
export RAFTWAL_CURL=${RAFTWAL_CURL:-$(command -v curl)} RAFTWAL_LUA_README=$src/bindings/lua/README.md
# shellcheck source=lib/nginx_harness.sh
. "$here/lib/nginx_harness.sh"
harness_init nginx_bench
command -v wrk >/dev/null || fail "wrk is missing (apt-get install wrk)"

cat >"$prefix/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = string.rep("x", 1024)
EOF

rate() { # connections -> appends/s
    wrk -t1 -c"$1" -d"${secs}s" --timeout 10s -s "$prefix/post.lua" "$url/append" |
        awk '/^Requests\/sec:/ { print $2 }'
}
status_p99() { # p99 of GET /status over one connection
    wrk -t1 -c1 -d"${secs}s" --latency "$url/status" | awk '$1 == "99%" { print $2 }'
}

run_mode() { # mode sed-expression
    local mode=$1 one many idle busy
    rm -rf "$prefix/wal" && mkdir "$prefix/wal"
    if [ "$(id -u)" = 0 ]; then chown nobody "$prefix/wal"; fi
    harness_conf "$2"
    harness_start
    harness_wait_writer
    idle=$(status_p99)
    one=$(rate 1)
    many=$(rate 32)
    rate 32 >/dev/null &
    local load=$!
    background_pids+=("$load")
    busy=$(status_p99)
    wait "$load"
    harness_stop
    printf '| %s | %s | %s | %.1fx | %s | %s |\n' "$mode" "$one" "$many" \
        "$(echo "$many / $one" | bc -l)" "$idle" "$busy"
}

echo "| mode | appends/s, 1 conn | appends/s, 32 conns | ratio | GET /status p99 idle | p99 under 32-conn load |"
echo "|---|---|---|---|---|---|"
run_mode yielding 's/OPTIONS = { thread_pool = "raftwal" }/&/'
run_mode blocking 's/OPTIONS = { thread_pool = "raftwal" }/OPTIONS = { thread_pool = "raftwal", yield = false }/'
passed=1
