#!/usr/bin/env bash
# The README's main command end to end (issue 14 item 6): scripts/demo.sh on this build
# with an empty MOT_HOME, so the default model is trained from scratch (nothing cached), then
# checks what it wrote: the caption names one of the demo's colors and shapes, the PNG
# decodes at the model's image size, the WAV is not silent.
#   tests/demo/demo_test.sh BUILD_DIR PYTHON
set -euo pipefail
BUILD_DIR=$(cd "$1" && pwd)
PYTHON=$2
cd "$(dirname "$0")/../.."
TMP=$(mktemp -d /tmp/mot_demo_test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
start=$(date +%s)
# Ports of their own, so a developer's running server does not answer.
MOT_HOME=$TMP/home MOT_SKIP_SETUP=1 BUILD_DIR=$BUILD_DIR PORT=50093 METRICS_PORT=9193 \
  scripts/demo.sh "$TMP/out"
echo "demo_test: scripts/demo.sh took $(($(date +%s) - start)) s (default model trained from scratch)"
"$PYTHON" - "$TMP/out" "$TMP/home/default-model" <<'PY'
import array, math, os, sys, wave
from PIL import Image
out, model = sys.argv[1], sys.argv[2]
colors = {"red", "green", "blue", "yellow", "purple", "orange", "white", "black"}
shapes = {"circle", "square", "triangle", "star", "cross"}
caption = open(os.path.join(out, "caption.txt")).read().lower().split()
problems = []
if not colors & set(caption):
    problems.append(f"the caption {caption} names no color")
if not shapes & set(caption):
    problems.append(f"the caption {caption} names no shape")
png = os.path.join(out, "text-to-image-image-0.png")
from safetensors import safe_open
with safe_open(os.path.join(model, "image_tokenizer.safetensors"), "np") as f:
    want = int(f.metadata()["resolution"])
img = Image.open(png)
img.load()
if img.size != (want, want):
    problems.append(f"{png} is {img.size}, expected {want}x{want}")
wav = os.path.join(out, "text-to-speech-audio-0.wav")
with wave.open(wav) as w:
    frames = w.readframes(w.getnframes())
    if w.getsampwidth() != 2:
        problems.append(f"{wav}: {8 * w.getsampwidth()}-bit, expected 16-bit PCM")
    samples = array.array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples))) / 32768
    seconds = w.getnframes() / w.getframerate()
if seconds < 0.2 or rms < 0.005:
    problems.append(f"{wav} is silent or empty ({seconds:.2f} s, RMS {rms:.4f})")
print(f"demo_test: caption {' '.join(caption)!r}; image {img.size}; speech {seconds:.2f} s RMS {rms:.3f}")
for p in problems:
    print("demo_test: FAIL:", p)
sys.exit(1 if problems else 0)
PY
