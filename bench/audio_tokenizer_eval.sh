#!/usr/bin/env bash
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#
# Audio tokenizer reconstruction quality on held-out speech. Makes speech with espeak-ng
# from bench/audio_tokenizer_sentences.txt (train: the "train" sentences in 5 English, 2
# German and 2 French voices at 3 pitches each; test: the held-out "test" sentences in seen voices, and the
# English ones in a voice never trained on), trains each design with
# build/bench/audio_tokenizer_eval, scores with bench/audio_tokenizer_metrics.py (LSD, STOI)
# and prints one Markdown table.
#
# Usage: bench/audio_tokenizer_eval.sh [BUILD_DIR] [WORK_DIR]
#   BUILD_DIR: where audio_tokenizer_eval was built (default build)
#   WORK_DIR:  scratch space for WAVs (default BUILD_DIR/audio_eval); nothing is committed
#   CONFIGS:   env, ';'-separated "name|flags" to run instead of the default list
#   PYTHON:    env, an interpreter with numpy and pystoi (default .venv/bin/python)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
WORK="${2:-$BUILD/audio_eval}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
TOOL="$BUILD/bench/audio_tokenizer_eval"
SENTENCES="$ROOT/bench/audio_tokenizer_sentences.txt"

TRAIN_VOICES_en="en-us en-us+f3 en-gb en-gb+f2 en-us+m3"
TRAIN_VOICES_de="de de+f3"
TRAIN_VOICES_fr="fr fr+f2"
TEST_VOICES_en="en-us en-us+f3"
TEST_VOICES_de="de"
TEST_VOICES_fr="fr"
HELDOUT_VOICE="en-gb-scotland+f4"

make_data() {
  rm -rf "$WORK/train" "$WORK/test"
  mkdir -p "$WORK/train" "$WORK/test"
  local i=0
  while IFS='|' read -r split lang text; do
    [[ -z "$split" || "$split" == \#* ]] && continue
    i=$((i + 1))
    local var="TRAIN_VOICES_$lang"
    [[ "$split" == test ]] && var="TEST_VOICES_$lang"
    for v in ${!var}; do
      if [[ "$split" == train ]]; then
        # Three pitches per training voice (espeak-ng -p, default 50) triple the frames.
        for p in 35 50 65; do
          espeak-ng -v "$v" -p "$p" -w "$WORK/train/train__${v}_p${p}_$i.wav" "$text"
        done
      else
        espeak-ng -v "$v" -w "$WORK/test/seen_voice__${v}_$i.wav" "$text"
      fi
    done
    if [[ "$split" == test && "$lang" == en ]]; then
      espeak-ng -v "$HELDOUT_VOICE" -w "$WORK/test/heldout_voice__${HELDOUT_VOICE}_$i.wav" "$text"
    fi
  done < "$SENTENCES"
}

DEFAULT_CONFIGS="ceiling: GL on exact STFT (hop 80)|--mode=ceiling_stft"
DEFAULT_CONFIGS+=";ceiling: unquantized frames at 50/s|--mode=ceiling_frames"
DEFAULT_CONFIGS+=";VQ K=256, no gain split|--codebook_size=256 --gain_levels=1"
DEFAULT_CONFIGS+=";VQ K=1024, no gain split|--codebook_size=1024 --gain_levels=1"
DEFAULT_CONFIGS+=";gain-shape G=16 x K=1024|--codebook_size=1024 --gain_levels=16"
DEFAULT_CONFIGS+=";gain-shape G=32 x K=512|--codebook_size=512 --gain_levels=32"
DEFAULT_CONFIGS+=";**gain-shape G=8 x K=2048 (default)**|--codebook_size=2048 --gain_levels=8"
DEFAULT_CONFIGS+=";gain-shape G=4 x K=4096|--codebook_size=4096 --gain_levels=4"
DEFAULT_CONFIGS+=";gain-shape G=8 x K=2048, 2-stage RVQ|--codebook_size=2048 --gain_levels=8 --stages=2"
DEFAULT_CONFIGS+=";default, 16 Griffin-Lim iterations|--codebook_size=2048 --gain_levels=8 --gl_iters=16"
CONFIGS="${CONFIGS:-$DEFAULT_CONFIGS}"

make_data
echo "| design | tokens/s | vocab | LSD dB seen voices | STOI seen voices | LSD dB held-out voice | STOI held-out voice | file KB | train s | encode RTF | decode RTF |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
IFS=';' read -ra LIST <<< "$CONFIGS"
for entry in "${LIST[@]}"; do
  name="${entry%%|*}"
  flags="${entry#*|}"
  out="$WORK/out"
  rm -rf "$out"
  # shellcheck disable=SC2086
  line=$("$TOOL" --train_dir="$WORK/train" --test_dir="$WORK/test" --out="$out" $flags)
  metrics=$("$PYTHON" "$ROOT/bench/audio_tokenizer_metrics.py" "$out")
  get() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  m() { echo "$metrics" | "$PYTHON" -c "import json,sys
for l in sys.stdin:
  d=json.loads(l)
  if d['group']=='$1': print(f\"{d['$2']:.${3}f} ± {d['$2_sd']:.${3}f}\")"; }
  vocab=$(get vocab); [[ "$vocab" == 0 ]] && vocab="-"
  kb=$(( $(get file_bytes) / 1024 )); [[ "$kb" == 0 ]] && kb="-"
  echo "| $name | $(get tokens_per_s) | $vocab | $(m seen_voice lsd 2) | $(m seen_voice stoi 3) | $(m heldout_voice lsd 2) | $(m heldout_voice stoi 3) | $kb | $(get train_s) | $(get encode_rtf) | $(get decode_rtf) |"
done
echo
echo "Train: $(ls "$WORK/train" | wc -l) utterances; test: $(ls "$WORK/test" | wc -l) utterances."
echo "commit $(git -C "$ROOT" rev-parse --short HEAD), $(date -u +%F), $(lscpu | sed -n 's/^Model name: *//p'), command: bench/audio_tokenizer_eval.sh $*"
