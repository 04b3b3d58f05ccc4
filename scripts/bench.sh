#!/usr/bin/env bash
# The benchmarks: set up, build, and measure the engine. Prints one
# Markdown table per harness (model decode/prefill vs the bandwidth bound and PyTorch,
# backend Linear vs bandwidth and OpenBLAS, BPE encode vs Hugging Face tokenizers).
#   scripts/bench.sh            the standard tables (a few minutes on 2 cores)
#   scripts/bench.sh --quick    smaller models and fewer repetitions (a smoke run)
# Results worth keeping go to bench/results/ with the machine, the command and the load.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (figures are only comparable on a quiet machine)"
if [[ ${1:-} == --quick ]]; then
  "$BUILD_DIR"/bench/mot_bench --configs=small:bf16 --reps=3 --warmup=1
  "$BUILD_DIR"/bench/tokenizer_bench --reps 3 --mb 1
else
  "$BUILD_DIR"/bench/mot_bench
  "$BUILD_DIR"/bench/backend_bench
  "$BUILD_DIR"/bench/tokenizer_bench
fi
