#!/bin/sh
# Installs raftwal from the build tree into a temporary prefix, then builds
# the README's example against it twice: with find_package (CMake) and with
# pkg-config, and runs both. Usage: check_install.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/raftwal.h"
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n 1)
test -e "$libdir/libraftwal.so.1"
test -f "$libdir/libraftwal.a"

# CMake package config
cmake -S "$src/tests/install/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
(mkdir "$tmp/run1" && cd "$tmp/run1" && LD_LIBRARY_PATH="$libdir" "$tmp/cm/consumer" | grep -q "^2 (term 1): world$")

# pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
test "$(pkg-config --modversion raftwal)" = "$(sed -n 's/#define RAFTWAL_VERSION_STRING "\(.*\)"/\1/p' "$src/include/raftwal.h")"
cc "$src/examples/hello.c" $(pkg-config --cflags --libs raftwal) -o "$tmp/pc"
(mkdir "$tmp/run2" && cd "$tmp/run2" && LD_LIBRARY_PATH="$libdir" "$tmp/pc" | grep -q "^2 (term 1): world$")
echo "install: header, libraries, raftwal.pc and raftwalConfig.cmake all work"
