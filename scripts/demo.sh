#!/usr/bin/env bash
# Installs what is missing, builds Brook, and runs WordCount on the embedded mini-cluster over
# the text in examples/data/, then prints the ten most frequent words.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-deps.sh"
bash "$root/scripts/build.sh" "$root/build" >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$root/build/src/cli/brook" run --local -p 2 -D execution.runtime-mode=BATCH \
  "$root/build/examples/wordcount.so" -- --input "$root/examples/data/rivers.txt" --output "$out/counts"
echo
echo "Top words (word,count):"
cat "$out"/counts/part-* | sort -t, -k2,2nr -k1,1 | head -n 10
