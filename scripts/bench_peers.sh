#!/usr/bin/env bash
# MoT Serve beside llama.cpp on the CPU, one command: the same random weights (config 125m,
# one tower, Llama-shaped) in our checkpoint format and as GGUF, prefill and decode speed of
# both, interleaved over several rounds, one Markdown table.
#
# Usage (after scripts/setup.sh has built build/):
#   scripts/bench_peers.sh [--rounds=3] [--dtypes=f32,bf16,f16,Q8_0,Q4_0] [--threads=1,2]
#                          [--prompt=128] [--decode=32] [--reps=3] [--kv=f16] [--config=125m]
#                          [--out=bench/results/peers_YYYY-MM-DD.md] [--no-verify]
# Environment: BUILD_DIR (default build: where mot_bench and mot-quantize are), PEERS_DIR
# (default build-peers: the cache, ignored by git's /build*/ rule), JOBS (llama.cpp build
# parallelism, default nproc), NICE (prefix for the llama.cpp build, e.g. "nice -n 19"),
# LLAMA_AMX (default 0: llama.cpp built without its AMX kernels, see step 1; 1: with them).
#
# What it does, caching what it can in PEERS_DIR (a second run rebuilds nothing):
#  1. pip download the llama-cpp-python sdist (pinned below) and build the llama.cpp it
#     vendors (vendor/llama.cpp): llama-bench, llama-quantize and llama-debug (the logits
#     check), cmake Release, GGML_NATIVE=ON, static, no tests/server/app/OpenSSL (LLAMA_CURL
#     is gone from this llama.cpp), and by default -mno-amx-* (its AMX Q8_0/Q4_0 matmul
#     segfaults on our Xeon). Stamp: PEERS_DIR/llama-build/.built-VERSION-amxLLAMA_AMX.
#  2. A venv PEERS_DIR/venv (Debian's /usr/bin/python3 with its numpy) with gguf (pinned).
#  3. Models in PEERS_DIR/models (rewritten every run, seconds): mot_bench --save_checkpoint
#     writes the f32/bf16/f16 random checkpoints (one code path with mot_bench's own rows);
#     mot-quantize makes our Q8_0/Q4_0 from the f32 one; bench/peers/ckpt_to_gguf.py turns
#     the f32/bf16/f16 checkpoints into GGUF (identical bits, q/k rows permuted for
#     llama.cpp's RoPE layout); llama-quantize --pure makes llama.cpp's Q8_0/Q4_0 from the f32
#     GGUF.
#  4. Unless --no-verify: llama-debug's last-position logits on the f32 GGUF against the
#     repo's PyTorch reference (tests/oracle/mot_reference.py, .venv/bin/python) on the f32
#     checkpoint, same token ids (bench/peers/check_logits.py; relative RMS difference <= 1e-4
#     and the same top-1, else the run stops).
#  5. For each round, dtype and thread count, interleaved: llama-bench (pp PROMPT; tg DECODE
#     at depth PROMPT) and mot_bench --checkpoint (the order swaps on even rounds). Raw JSON
#     in PEERS_DIR/runs/<UTC time>/.
#  6. bench/peers/peer_table.py: medians over rounds, one table with a footer (CPU, flags,
#     versions, date, command); printed and written to --out.
# Exit status: 0 done; 1 a step failed (the message names it); 2 a bad flag.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
COMMAND="${BUILD_DIR:+BUILD_DIR=$BUILD_DIR }scripts/bench_peers.sh${*:+ $*}"

LLAMA_CPP_PYTHON_VERSION=0.3.36
GGUF_VERSION=0.19.0
BUILD_DIR=${BUILD_DIR:-build}
PEERS_DIR=${PEERS_DIR:-build-peers}
JOBS=${JOBS:-$(nproc)}
NICE=${NICE:-}
LLAMA_AMX=${LLAMA_AMX:-0}

ROUNDS=3
DTYPES=f32,bf16,f16,Q8_0,Q4_0
THREADS=1,2
PROMPT=128
DECODE=32
REPS=3
KV=f16
CONFIG=125m
OUT=bench/results/peers_$(date -u +%F).md
VERIFY=1

die() { echo "bench_peers.sh: $*" >&2; exit 1; }
usage_error() { echo "bench_peers.sh: $* (see --help)" >&2; exit 2; }
positive() {  # flag value
  [[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--$1=$2: must be a positive integer"
}

for arg in "$@"; do
  case $arg in
    --rounds=*) ROUNDS=${arg#*=}; positive rounds "$ROUNDS" ;;
    --dtypes=*) DTYPES=${arg#*=} ;;
    --threads=*) THREADS=${arg#*=} ;;
    --prompt=*) PROMPT=${arg#*=}; positive prompt "$PROMPT" ;;
    --decode=*) DECODE=${arg#*=}; positive decode "$DECODE" ;;
    --reps=*) REPS=${arg#*=}; positive reps "$REPS" ;;
    --kv=*) KV=${arg#*=} ;;
    --config=*) CONFIG=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    --no-verify) VERIFY=0 ;;
    -h | --help) sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage_error "unknown argument '$arg'" ;;
  esac
done
IFS=, read -r -a DTYPE_LIST <<<"$DTYPES"
IFS=, read -r -a THREAD_LIST <<<"$THREADS"
((${#DTYPE_LIST[@]})) || usage_error "--dtypes: empty list"
((${#THREAD_LIST[@]})) || usage_error "--threads: empty list"
for d in "${DTYPE_LIST[@]}"; do
  case $d in f32 | bf16 | f16 | Q8_0 | Q4_0) ;; *)
    usage_error "--dtypes: unknown dtype '$d' (f32, bf16, f16, Q8_0, Q4_0)" ;;
  esac
done
for t in "${THREAD_LIST[@]}"; do positive threads "$t"; done
[[ $LLAMA_AMX == 0 || $LLAMA_AMX == 1 ]] || die "LLAMA_AMX=$LLAMA_AMX: must be 0 or 1"
[[ $KV == f16 || $KV == f32 || $KV == bf16 ]] || usage_error "--kv=$KV: must be f16, f32 or bf16"
[[ $CONFIG == small || $CONFIG == 125m ]] ||
  usage_error "--config=$CONFIG: must be a one-tower config (small or 125m)"

MOT_BENCH=$BUILD_DIR/bench/mot_bench
MOT_QUANTIZE=$BUILD_DIR/model_loaders/mot-quantize
for b in "$MOT_BENCH" "$MOT_QUANTIZE"; do
  [[ -x $b ]] || die "$b: not built (run scripts/setup.sh, or cmake --build $BUILD_DIR --target \
mot_bench mot-quantize; BUILD_DIR=$BUILD_DIR)"
done
for tool in cmake /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "$tool: not found (scripts/setup.sh installs it)"
done
mkdir -p "$PEERS_DIR"
PEERS=$(cd "$PEERS_DIR" && pwd)

# 1. llama.cpp from the llama-cpp-python sdist.
SDIST=$PEERS/dl/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz
SRC=$PEERS/src/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION
LLAMA_BUILD=$PEERS/llama-build
STAMP=$LLAMA_BUILD/.built-$LLAMA_CPP_PYTHON_VERSION-amx$LLAMA_AMX
LLAMA_CMAKE_FLAGS=(-DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_SERVER=OFF
  -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF)
if [[ $LLAMA_AMX == 0 ]]; then
  # -march=native minus AMX: ggml's AMX matmul (Q8_0/Q4_0 prefill) segfaults in
  # ggml_backend_amx_mul_mat on this Xeon (upstream ggml-org/llama.cpp#20824, closed without a
  # fix); the AVX-512 paths, CPU_REPACK included, stay. GCC keeps explicit -mno-* over -march.
  LLAMA_CMAKE_FLAGS+=("-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    "-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16")
fi
if [[ ! -f $STAMP ]]; then
  if [[ ! -f $SDIST ]]; then
    echo "bench_peers: downloading llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION (sdist)" >&2
    /usr/bin/python3 -m pip download -q --disable-pip-version-check --no-deps \
      --no-binary :all: "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$PEERS/dl" ||
      die "pip download llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION failed"
  fi
  if [[ ! -f $SRC/vendor/llama.cpp/CMakeLists.txt ]]; then
    mkdir -p "$PEERS/src"
    tar -xzf "$SDIST" -C "$PEERS/src" || die "$SDIST: cannot extract"
  fi
  [[ -f $SRC/vendor/llama.cpp/CMakeLists.txt ]] || die "$SRC: no vendor/llama.cpp in the sdist"
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  echo "bench_peers: building llama.cpp (llama-bench, llama-quantize, llama-debug)" >&2
  cmake -S "$SRC/vendor/llama.cpp" -B "$LLAMA_BUILD" "${generator[@]}" "${LLAMA_CMAKE_FLAGS[@]}" \
    >"$PEERS/llama-configure.log" 2>&1 || die "llama.cpp configure failed: $PEERS/llama-configure.log"
  $NICE cmake --build "$LLAMA_BUILD" --target llama-bench llama-quantize llama-debug -j "$JOBS" \
    >"$PEERS/llama-build.log" 2>&1 || die "llama.cpp build failed: $PEERS/llama-build.log"
  touch "$STAMP"
fi
LLAMA_BENCH=$LLAMA_BUILD/bin/llama-bench
LLAMA_QUANTIZE=$LLAMA_BUILD/bin/llama-quantize
LLAMA_DEBUG=$LLAMA_BUILD/bin/llama-debug
for b in "$LLAMA_BENCH" "$LLAMA_QUANTIZE" "$LLAMA_DEBUG"; do
  [[ -x $b ]] || die "$b: missing although $STAMP exists (remove the stamp to rebuild)"
done
LLAMA_CPP_COMMIT=$(grep -m1 -o 'ggml-org/llama.cpp@[0-9a-f]*' "$SRC/CHANGELOG.md" || echo unknown)

# 2. The gguf package.
PY=$PEERS/venv/bin/python
[[ -x $PY ]] || /usr/bin/python3 -m venv --system-site-packages "$PEERS/venv" ||
  die "cannot make the venv $PEERS/venv (python3-venv installed?)"
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('gguf') != '$GGUF_VERSION')" \
  2>/dev/null; then
  "$PY" -m pip install -q --disable-pip-version-check "gguf==$GGUF_VERSION" ||
    die "pip install gguf==$GGUF_VERSION failed"
fi

# 3. The same random weights on both sides.
MODELS=$PEERS/models/$CONFIG
rm -rf "$MODELS"
mkdir -p "$MODELS"
need_f32=$VERIFY  # the logits check and the quantized dtypes start from the f32 weights
for d in "${DTYPE_LIST[@]}"; do
  if [[ $d == f32 || $d == Q* ]]; then need_f32=1; fi
done
for d in f32 bf16 f16; do
  if [[ $d == f32 ]] && ((need_f32)) || [[ " ${DTYPE_LIST[*]} " == *" $d "* ]]; then
    "$MOT_BENCH" --save_checkpoint="$MODELS/ckpt-$d" --configs="$CONFIG:$d" 2>/dev/null ||
      die "mot_bench --save_checkpoint=$MODELS/ckpt-$d failed"
    "$PY" bench/peers/ckpt_to_gguf.py "$MODELS/ckpt-$d" "$MODELS/$d.gguf" >"$MODELS/$d.gguf.json" ||
      die "ckpt_to_gguf.py $MODELS/ckpt-$d failed"
  fi
done
for d in Q8_0 Q4_0; do
  [[ " ${DTYPE_LIST[*]} " == *" $d "* ]] || continue
  "$MOT_QUANTIZE" --in "$MODELS/ckpt-f32" --out "$MODELS/ckpt-$d" --dtype "$d" >/dev/null ||
    die "mot-quantize --dtype $d failed"
  "$LLAMA_QUANTIZE" --pure "$MODELS/f32.gguf" "$MODELS/$d.gguf" "$d" >"$MODELS/$d.quantize.log" 2>&1 ||
    die "llama-quantize --pure $d failed: $MODELS/$d.quantize.log"
done
SIZES=""
for d in "${DTYPE_LIST[@]}"; do
  ours=$(du -b "$MODELS/ckpt-$d/model.safetensors" | cut -f1)
  theirs=$(du -b "$MODELS/$d.gguf" | cut -f1)
  SIZES+="${SIZES:+; }$d $(awk -v a="$ours" -v b="$theirs" \
    'BEGIN { printf "%.1f MB ours / %.1f MB GGUF", a / 1e6, b / 1e6 }')"
done

# 4. Equivalence, once: llama.cpp's logits on the f32 GGUF vs our PyTorch reference.
VERIFY_NOTE="not checked (--no-verify)."
if ((VERIFY)); then
  V=$MODELS/verify
  mkdir -p "$V"
  ORACLE_PY=$ROOT/.venv/bin/python
  if [[ ! -x $ORACLE_PY ]] || ! "$ORACLE_PY" -c "import torch, safetensors" 2>/dev/null; then
    VERIFY_NOTE="not checked: $ORACLE_PY lacks torch/safetensors (run scripts/setup.sh)."
  else
    "$LLAMA_DEBUG" -m "$MODELS/f32.gguf" -p "The quick brown fox jumps over the lazy dog." \
      --save-logits --logits-output-dir "$V" -ctk f32 -ctv f32 -fa off -t "${THREAD_LIST[-1]}" -c 256 \
      >"$V/llama-debug.log" 2>&1 || die "llama-debug failed: $V/llama-debug.log"
    "$PY" bench/peers/check_logits.py inputs "$V/llamacpp-f32-tokens.bin" "$V/inputs.json" ||
      die "no token ids from llama-debug: $V/llama-debug.log"
    "$ORACLE_PY" tests/oracle/mot_reference.py --checkpoint "$MODELS/ckpt-f32" \
      --inputs "$V/inputs.json" --output "$V/reference.bin" ||
      die "tests/oracle/mot_reference.py failed"
    vocab=$("$PY" -c "import json; print(json.load(open('$MODELS/ckpt-f32/config.json'))['vocab_size'])")
    result=$("$PY" bench/peers/check_logits.py compare "$V/llamacpp-f32.bin" "$V/reference.bin" \
      "$vocab" --tol 1e-4) || die "llama.cpp's logits differ from our reference: $result"
    VERIFY_NOTE="last-position logits of llama.cpp (llama-debug, f32 GGUF, f32 KV, flash attention \
off: its CPU flash attention rounds through f16, rel_rms about 2e-4) vs \
tests/oracle/mot_reference.py (f64, our f32 checkpoint) on the same token ids: $result."
  fi
  echo "bench_peers: equivalence: $VERIFY_NOTE" >&2
fi

# 5. The interleaved rounds.
RUN=$PEERS/runs/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
run_llama() {  # dtype threads round
  local base=$RUN/llama_$1_t$2_r$3
  "$LLAMA_BENCH" -m "$MODELS/$1.gguf" -p "$PROMPT" -n 0 -t "$2" -r "$REPS" -ctk "$KV" -ctv "$KV" \
    -o json >"$base"_pp.json 2>"$base"_pp.log || die "llama-bench failed: $base"_pp.log
  "$LLAMA_BENCH" -m "$MODELS/$1.gguf" -p 0 -n "$DECODE" -d "$PROMPT" -t "$2" -r "$REPS" \
    -ctk "$KV" -ctv "$KV" -o json >"$base"_tg.json 2>"$base"_tg.log ||
    die "llama-bench failed: $base"_tg.log
}
run_mot() {  # dtype threads round
  local base=$RUN/mot_$1_t$2_r$3
  "$MOT_BENCH" --checkpoint="$MODELS/ckpt-$1" --prompt="$PROMPT" --decode="$DECODE" \
    --threads="$2" --reps="$REPS" --warmup=1 --kv_dtype="$KV" --no_oracle --json="$base.json" \
    >"$base.md" 2>"$base.log" || die "mot_bench failed: $base.log"
}
for ((r = 1; r <= ROUNDS; ++r)); do
  for d in "${DTYPE_LIST[@]}"; do
    for t in "${THREAD_LIST[@]}"; do
      echo "bench_peers: round $r/$ROUNDS, $d, $t threads" >&2
      if ((r % 2)); then
        run_llama "$d" "$t" "$r"
        run_mot "$d" "$t" "$r"
      else
        run_mot "$d" "$t" "$r"
        run_llama "$d" "$t" "$r"
      fi
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# 6. The table.
export ROUNDS REPS PROMPT DECODE KV CONFIG DTYPES THREADS SIZES VERIFY_NOTE LOAD_START LOAD_END \
  LLAMA_CPP_PYTHON_VERSION LLAMA_CPP_COMMIT COMMAND JOBS MODELS
export LLAMA_BUILD_FLAGS="cmake ${LLAMA_CMAKE_FLAGS[*]}"
MOT_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
# Read-only: no index refresh (another process may hold the index).
MOT_DIRTY=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null |
  wc -l)
MOT_BENCH_BUILT=$(date -u -r "$MOT_BENCH" '+%Y-%m-%d %H:%M UTC')
export MOT_COMMIT MOT_DIRTY MOT_BENCH_BUILT
"$PY" - "$RUN/meta.json" <<'EOF'
import json, os, sys, time
e = os.environ
cpu, flags = "unknown", []
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name") and cpu == "unknown":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = [x for x in line.split(":", 1)[1].split()
                     if x in ("avx2", "fma", "f16c") or x.startswith(("avx512", "amx", "avx_vnni"))]
params = json.load(open(os.path.join(e["MODELS"], "f32.gguf.json")))["params"] if os.path.exists(
    os.path.join(e["MODELS"], "f32.gguf.json")) else None
dirty = int(e["MOT_DIRTY"])
json.dump({
    "rounds": int(e["ROUNDS"]), "reps": int(e["REPS"]), "prompt": int(e["PROMPT"]),
    "decode": int(e["DECODE"]), "kv": e["KV"], "model": e["CONFIG"],
    "params_m": f"{params / 1e6:.1f}M" if params else "?",
    "dtypes": e["DTYPES"].split(","), "threads": [int(t) for t in e["THREADS"].split(",")],
    "sizes": e["SIZES"], "verify": e["VERIFY_NOTE"], "cpu": cpu, "flags": " ".join(flags),
    "cores": os.cpu_count(), "load_start": e["LOAD_START"], "load_end": e["LOAD_END"],
    "llama_cpp_python": e["LLAMA_CPP_PYTHON_VERSION"], "llama_cpp_commit": e["LLAMA_CPP_COMMIT"],
    "llama_build": e["LLAMA_BUILD_FLAGS"],
    "mot_commit": e["MOT_COMMIT"] + (f" + {dirty} uncommitted tracked changes" if dirty else ""),
    "mot_bench_built": e["MOT_BENCH_BUILT"],
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": e["COMMAND"],
}, open(sys.argv[1], "w"), indent=1)
EOF
"$PY" bench/peers/peer_table.py "$RUN" --meta "$RUN/meta.json" --out "$OUT"
echo "bench_peers: raw results in $RUN; table written to $OUT" >&2
