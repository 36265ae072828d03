#!/bin/bash
# check_exports.sh LIB MAP HEADER SONAME
#
# The ABI check behind c_exported_symbols:
#   1. the dynamic symbols LIB defines are exactly the global names of the
#      version script MAP, each bound to MAP's version node;
#   2. every one of them starts with raftwal_;
#   3. MAP lists exactly the functions HEADER declares with RAFTWAL_API;
#   4. LIB's SONAME is SONAME.
set -euo pipefail

lib=$1 map=$2 header=$3 want_soname=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# Global names of the map: the lines between "global:" and "local:".
awk '/global:/{g=1; next} /local:/{g=0} g' "$map" |
    tr -d ' \t;' | grep -v '^$' | sort >"$tmp/map"
node=$(grep -oE '^[A-Za-z_][A-Za-z0-9_.]*[[:space:]]*\{' "$map" | head -1 | tr -d ' {')

# Defined dynamic symbols, minus the version node itself (an "A" symbol).
nm -D --defined-only "$lib" >"$tmp/nm.raw"
awk -v node="$node" '$2 != "A" || $3 != node {print $3}' "$tmp/nm.raw" >"$tmp/nm.versioned"
sed 's/@.*//' "$tmp/nm.versioned" | sort >"$tmp/nm"

# Functions the header exports.
grep -oE 'RAFTWAL_API[^(]*\b(raftwal_[a-z0-9_]+)[[:space:]]*\(' "$header" |
    grep -oE 'raftwal_[a-z0-9_]+[[:space:]]*\($' | tr -d ' (' | sort >"$tmp/header"

if ! diff -u "$tmp/map" "$tmp/nm" >"$tmp/d1"; then
    echo "FAIL: exported symbols (+) differ from $map (-):"; cat "$tmp/d1"; fail=1
fi
if grep -v '^raftwal_' "$tmp/nm"; then
    echo "FAIL: the symbols above are exported without the raftwal_ prefix"; fail=1
fi
if ! diff -u "$tmp/header" "$tmp/map" >"$tmp/d2"; then
    echo "FAIL: $map (+) differs from the RAFTWAL_API functions of $header (-):"
    cat "$tmp/d2"; fail=1
fi
if [ -n "$node" ] && grep -v "@@$node\$" "$tmp/nm.versioned"; then
    echo "FAIL: the symbols above are not bound to version node $node"; fail=1
fi
if [ "$(wc -l <"$tmp/map")" -lt 10 ]; then
    echo "FAIL: suspiciously few symbols in $map"; fail=1
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "$want_soname" ]; then
    echo "FAIL: SONAME is '$soname', expected '$want_soname'"; fail=1
fi

if [ $fail -eq 0 ]; then
    echo "ok: $(wc -l <"$tmp/nm") symbols exported, all in $map under $node; SONAME $soname"
fi
exit $fail
