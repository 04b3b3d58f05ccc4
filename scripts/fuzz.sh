#!/usr/bin/env bash
# Builds and runs one libFuzzer target (clang, ASan + UBSan) on a copy of its seed corpus.
#   scripts/fuzz.sh <target> [seconds]   run for `seconds` (default 600), then summarize
#   scripts/fuzz.sh --list               list the targets (tests/fuzz/CMakeLists.txt)
# Environment: BUILD_DIR (default build-fuzz), JOBS (ninja -j, default 2), FUZZ_ARGS (extra
# libFuzzer flags). New corpus entries go to $BUILD_DIR/corpus/<target>/, crashes to
# $BUILD_DIR/artifacts/<target>/. Exit status: libFuzzer's (0 = nothing found).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SRC=tests/fuzz
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}

list_targets() {
  sed -n 's/^mot_add_fuzzer(NAME \([A-Za-z0-9_]*\).*/\1/p' "$FUZZ_SRC/CMakeLists.txt"
}

usage() {
  echo "usage: scripts/fuzz.sh <target> [seconds] | --list" >&2
  echo "targets: $(list_targets | tr '\n' ' ')" >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
if [[ $1 == --list ]]; then
  list_targets
  exit 0
fi
target=$1
seconds=${2:-600}
list_targets | grep -qx "$target" || { echo "unknown target: $target" >&2; usage; }
[[ $seconds =~ ^[0-9]+$ ]] || usage

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja \
    -DMOT_FUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Only the target and what it links: the rest of the tree need not build with clang.
ninja -C "$BUILD_DIR" -j "$JOBS" "$target"

binary=$BUILD_DIR/$FUZZ_SRC/$target
corpus=$BUILD_DIR/corpus/$target
artifacts=$BUILD_DIR/artifacts/$target
mkdir -p "$corpus" "$artifacts"
if [[ -d $FUZZ_SRC/corpus/$target ]]; then
  cp -n "$FUZZ_SRC/corpus/$target"/* "$corpus"/ 2>/dev/null || true
fi
dict=()
[[ -f $FUZZ_SRC/$target.dict ]] && dict=(-dict="$FUZZ_SRC/$target.dict")
log=$BUILD_DIR/$target.log

echo "fuzzing $target for $seconds s (corpus $corpus, log $log)"
set +e
# shellcheck disable=SC2086
"$binary" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus" \
  >"$log" 2>&1
rc=$?
set -e

runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)
cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9/a-zA-Z]+' || true)
echo "target:    $target"
echo "result:    $([[ $rc -eq 0 ]] && echo 'no crash' || echo "FAILED (exit $rc)")"
echo "executed:  ${runs:-unknown}"
echo "coverage:  ${cov:-unknown}"
echo "corpus:    $(find "$corpus" -type f | wc -l) files"
if [[ $rc -ne 0 ]]; then
  grep -E 'ERROR|SUMMARY|artifact' "$log" | head -20 || true
  echo "crash inputs: $(ls "$artifacts")"
fi
exit $rc
