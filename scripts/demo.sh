#!/usr/bin/env bash
# The main job: set up, build, make the default model on this machine (once, ~5 minutes on
# 2 cores; nothing is downloaded), start mot-server, and ask it for a caption of an image,
# an image from a caption, and speech, through mot-cli and the Python client. Outputs go to
# demo-out/ (or $1).
#   scripts/demo.sh                 everything, then stop the server
#   scripts/demo.sh --keep-serving  leave the server running (stop it with kill, see below)
# Environment: MOT_HOME (where the default model lives; default ~/.cache/mot), PORT (50051),
# METRICS_PORT (9090), THREADS (all cores), BUILD_DIR (build), CAPTION (the text drawn and
# spoken), MOT_SKIP_SETUP=1 (skip scripts/setup.sh: the demo test, on a built tree).
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0
OUT=demo-out
for a in "$@"; do
  case $a in
    --keep-serving) KEEP=1 ;;
    -h | --help) sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "demo: unknown flag $a" >&2; exit 4 ;;
    *) OUT=$a ;;
  esac
done
if [[ ${MOT_SKIP_SETUP:-0} != 1 ]]; then scripts/setup.sh; fi
BUILD_DIR=${BUILD_DIR:-build}
PORT=${PORT:-50051}
METRICS_PORT=${METRICS_PORT:-9090}
THREADS=${THREADS:-$(nproc)}
BIN=$BUILD_DIR
TRAIN=$BIN/trainer/mot-train
SERVER=$BIN/server/mot-server
CLI=$BIN/clients/mot-cli
MODEL=${MOT_HOME:-$HOME/.cache/mot}/default-model

# 1. The default model, trained here on the demo data set (skipped when it exists).
if [[ ! -f $MODEL/manifest.json ]]; then
  echo "== demo: training the default model into $MODEL (once; about 5 minutes on 2 cores)"
  "$TRAIN" default-model --threads "$THREADS"
else
  echo "== demo: the default model is in $MODEL"
fi

# 2. The server, in the background until health says SERVING.
mkdir -p "$OUT"
echo "== demo: starting mot-server on 127.0.0.1:$PORT (metrics on :$METRICS_PORT)"
"$SERVER" --address "127.0.0.1:$PORT" --metrics_address "127.0.0.1:$METRICS_PORT" \
  --threads "$THREADS" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
  fi
}
if ((KEEP == 0)); then trap stop_server EXIT; fi
for _ in $(seq 1 120); do
  if "$CLI" health --server "127.0.0.1:$PORT" --quiet >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "demo: mot-server exited; its log:" >&2
    cat "$OUT/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
"$CLI" health --server "127.0.0.1:$PORT"

# The bundled scene (a color/shape pair the default model never saw in training) and a
# caption of another held-out scene to draw and to speak.
IMAGE=scripts/demo_scene.png
CAPTION=${CAPTION:-a large green star in the center on a blue background}
# Text and speech greedy; images sampled (greedy decoding of image codes collapses to the
# most likely code, the background), with a fixed seed so that a run repeats.
CLI_ARGS=(--server "127.0.0.1:$PORT" --out_dir "$OUT" --temperature 0)
IMAGE_SAMPLING=(--temperature 0.7 --seed 1)

echo
cp "$IMAGE" "$OUT/input.png"
echo "== demo: a caption of $OUT/input.png (image -> text)"
"$CLI" generate "${CLI_ARGS[@]}" --request_id caption --image "$OUT/input.png" \
  --modalities text | tee "$OUT/caption.txt"
echo
echo "== demo: an image of \"$CAPTION\" (text -> image)"
"$CLI" generate "${CLI_ARGS[@]}" --request_id text-to-image --text "$CAPTION" \
  --modalities image --force_image "${IMAGE_SAMPLING[@]}"
echo "== demo: speech of \"$CAPTION\" (text -> audio)"
"$CLI" generate "${CLI_ARGS[@]}" --request_id text-to-speech --text "$CAPTION" \
  --modalities audio --force_audio
echo "== demo: the same image request from Python (clients/python)"
PYTHONPATH="clients/python:$BIN/tests/clients/pystubs" .venv/bin/python clients/python/examples/generate.py \
  --server "127.0.0.1:$PORT" --out-dir "$OUT/python" --modalities image --force-image \
  --temperature 0.7 --seed 1 "$CAPTION"
echo
echo "== demo: a few server metrics (http://127.0.0.1:$METRICS_PORT/metrics)"
/usr/bin/python3 - "$METRICS_PORT" <<'EOF' || true
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
for line in text.splitlines():
    if line.startswith(("mot_requests_total", "mot_generated_tokens_total")):
        print("  " + line)
EOF
echo "== demo: outputs in $OUT/: $(cd "$OUT" && ls | tr '\n' ' ')"
if ((KEEP)); then
  echo "== demo: mot-server keeps serving on 127.0.0.1:$PORT (pid $SERVER_PID; stop: kill $SERVER_PID)"
fi
