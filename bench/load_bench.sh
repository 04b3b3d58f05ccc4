#!/usr/bin/env bash
# Load benchmark (issue 14 item 8): starts mot-server on a checkpoint (the default model
# unless CHECKPOINT is set) on a free loopback port, runs build/bench/load_bench against it
# with the in-process engine as its peer, prints the table, and stops the server (SIGTERM,
# which must drain and exit 0).
#   bench/load_bench.sh [load_bench flags, e.g. --concurrency=1,8,32 --seconds=5]
# Environment: CHECKPOINT, THREADS (compute threads of both sides; default all cores),
# BUILD_DIR (build), PORT (50071), METRICS_PORT (9171).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
CHECKPOINT=${CHECKPOINT:-${MOT_HOME:-$HOME/.cache/mot}/default-model}
THREADS=${THREADS:-$(nproc)}
PORT=${PORT:-50071}
METRICS_PORT=${METRICS_PORT:-9171}
LOG=$(mktemp /tmp/load_bench_server.XXXXXX.log)
"$BUILD_DIR"/server/mot-server --checkpoint "$CHECKPOINT" --address "127.0.0.1:$PORT" \
  --metrics_address "127.0.0.1:$METRICS_PORT" --threads "$THREADS" >"$LOG" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  "$BUILD_DIR"/clients/mot-cli health --server "127.0.0.1:$PORT" >/dev/null 2>&1 && break
  kill -0 $PID 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.5
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); checkpoint $CHECKPOINT; threads $THREADS"
"$BUILD_DIR"/bench/load_bench --server "127.0.0.1:$PORT" --server_pid "$PID" \
  --checkpoint "$CHECKPOINT" --threads "$THREADS" "$@"
kill -TERM $PID
wait $PID && echo "mot-server drained and exited 0 on SIGTERM" || { echo "mot-server exit $?" >&2; exit 1; }
trap - EXIT
