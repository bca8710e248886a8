#!/usr/bin/env bash
# Installs Brook from a build folder into a temporary prefix, builds the out-of-tree job in
# myjob/ against it with find_package(Brook), runs it with the installed `brook` command and
# compares its output with sums computed here.
#
#   run_install_test.sh BUILD_DIR CMAKE_COMMAND CXX_COMPILER
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 BUILD_DIR CMAKE_COMMAND CXX_COMPILER" >&2
  exit 2
fi
build_dir=$1
cmake_command=$2
cxx_compiler=$3
here=$(cd "$(dirname "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/brook-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$cmake_command" --install "$build_dir" --prefix "$tmp/prefix"

# The job is an ordinary user project: it sees Brook only through the installed package.
unset BROOK_CONF_DIR CMAKE_PREFIX_PATH
"$cmake_command" -S "$here/myjob" -B "$tmp/myjob-build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx_compiler" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix"
"$cmake_command" --build "$tmp/myjob-build" -j 2

"$tmp/prefix/bin/brook" run --local -p 2 "$tmp/myjob-build/myjob.so" -- --output "$tmp/out"

# Of the even x in [1, 1000], the sum of x * x for each x % 3.
seq 1 1000 | awk '$1 % 2 == 0 { sum[$1 % 3] += $1 * $1 }
                  END { for (k = 0; k < 3; k++) printf "%d,%d\n", k, sum[k] }' >"$tmp/expected"
cat "$tmp/out"/part-* | LC_ALL=C sort >"$tmp/actual"

if ! diff -u "$tmp/expected" "$tmp/actual"; then
  echo "FAIL: the job's output differs from the expected sums (- expected, + actual)" >&2
  exit 1
fi
parts=$(cd "$tmp/out" && echo *)
if [[ $parts != "part-0-0 part-1-0" ]]; then
  echo "FAIL: expected the part files of 2 sink subtasks, got: $parts" >&2
  exit 1
fi
echo "PASS: installed Brook built and ran an out-of-tree job"
