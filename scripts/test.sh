#!/usr/bin/env bash
# Installs what is missing, builds Brook with warnings as errors, and runs the whole test suite:
# first the normal build, then the same tests built with AddressSanitizer and UBSan, then a
# short libFuzzer run of the network frame decoder and of the keyed state snapshot reader.
#   scripts/test.sh            both builds
#   scripts/test.sh --quick    the normal build only
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"

# run_suite BUILD_DIR "CTEST_ARGS" CMAKE_ARGS...
run_suite() {
  local build=$1
  local ctestArgs=$2
  shift 2
  bash "$root/scripts/build.sh" "$build" -DBROOK_WERROR=ON "$@"
  # shellcheck disable=SC2086
  (cd "$build" && ctest --output-on-failure -j 2 --timeout 600 $ctestArgs)
}

run_suite "$root/build" ""
if [[ ${1:-} != --quick ]]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # The chaos tests (millions of records through killed TaskManagers) run in the normal build
  # only: a Debug build under the sanitizers is too slow for their deadlines.
  run_suite "$root/build-sanitize" "-LE chaos" -DBROOK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DBROOK_BUILD_BENCHMARKS=OFF
fi
# Short fuzzing runs of the network frame decoder and the keyed state snapshot reader (clang's
# libFuzzer), in their own build folder.
if [[ ${1:-} != --quick ]]; then
  if command -v clang++-14 >/dev/null; then
    export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
    CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$root/build-fuzz" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROOK_FUZZ=ON -DBROOK_BUILD_TESTS=OFF \
      -DBROOK_BUILD_BENCHMARKS=OFF -DBROOK_BUILD_EXAMPLES=OFF -DBROOK_WERROR=ON >/dev/null
    ninja -C "$root/build-fuzz" -j "${BROOK_BUILD_JOBS:-2}" frame_fuzzer state_snapshot_fuzzer
    mkdir -p "$root/build-fuzz/frame-corpus"
    "$root/build-fuzz/src/runtime/frame_fuzzer" -max_total_time=30 -max_len=4096 \
      "$root/build-fuzz/frame-corpus"
    # The keyed state snapshot reader, from the committed seed snapshots in a fresh corpus.
    rm -rf "$root/build-fuzz/state-snapshot-corpus"
    mkdir -p "$root/build-fuzz/state-snapshot-corpus"
    cp "$root"/src/state/fuzz_corpus/* "$root/build-fuzz/state-snapshot-corpus/"
    "$root/build-fuzz/src/state/state_snapshot_fuzzer" -max_total_time=20 -max_len=4096 \
      "$root/build-fuzz/state-snapshot-corpus"
  else
    echo "Skipping the fuzz stage: clang++-14 is not installed."
  fi
fi
echo "All tests passed."
