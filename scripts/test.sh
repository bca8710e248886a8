#!/usr/bin/env bash
# Installs what is missing, builds Brook with warnings as errors, and runs the whole test suite:
# first the normal build, then the same tests built with AddressSanitizer and UBSan.
#   scripts/test.sh            both builds
#   scripts/test.sh --quick    the normal build only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"

run_suite() {
  local build=$1
  shift
  bash "$root/scripts/build.sh" "$build" -DBROOK_WERROR=ON "$@"
  (cd "$build" && ctest --output-on-failure -j 2 --timeout 600)
}

run_suite "$root/build"
if [[ ${1:-} != --quick ]]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite "$root/build-sanitize" -DBROOK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DBROOK_BUILD_BENCHMARKS=OFF
fi
echo "All tests passed."
