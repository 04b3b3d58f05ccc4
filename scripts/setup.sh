#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and builds MoT Serve. Idempotent: a second run installs
# nothing new and rebuilds only what changed.
#   scripts/setup.sh            install packages, make .venv, configure and build into build/
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release), MOT_SKIP_APT=1 to
# skip the package step (for machines set up by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}

# Debian packages the build, the tests and the oracles need.
PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libabsl-dev libre2-dev nlohmann-json3-dev libssl-dev libicu-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libstb-dev libsndfile1-dev libsoxr-dev libkissfft-dev
  libopenblas-dev libopenblas0-openmp
  clang libclang-rt-14-dev
  python3 python3-venv python3-pip python3-numpy python3-torch python3-matplotlib python3-yaml
  espeak-ng sox
)

sudo_if_needed() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if [[ ${MOT_SKIP_APT:-0} != 1 ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"
  fi
fi

# Oracle interpreter: Debian's python3 (with python3-torch) plus the pip packages the
# tokenizer and safetensors oracles need, in a venv that sees the system site packages.
# grpcio/grpcio-tools: the Python client (clients/python) and its stubs; pip's, because
# Debian's python3-grpc-tools (1.14) is far older than its grpcio (1.51).
PY_PACKAGES=(tokenizers==0.23.3 safetensors==0.8.0 grpcio==1.71.0 grpcio-tools==1.71.0 jinja2==3.1.6)
if [[ ! -x .venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if ! .venv/bin/python -c "import tokenizers, safetensors, torch, grpc, grpc_tools, jinja2" 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi
# transformers for the Hugging Face import oracle (tests/oracle/hf_oracle.py), in a site
# directory of its own: 4.46 (the newest that runs on Debian's torch 1.13) pins tokenizers
# <0.21 and huggingface-hub <1.0, older than PY_PACKAGES' tokenizers; hf_oracle.py puts this
# directory first on its path.
HF_ORACLE_PACKAGES=(transformers==4.46.3 tokenizers==0.20.3 huggingface_hub==0.36.2 regex==2026.11.19)
if [[ ! -f .venv/hf-oracle/transformers/__init__.py ]]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
    --target .venv/hf-oracle "${HF_ORACLE_PACKAGES[@]}"
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DMOT_PYTHON="$ROOT/.venv/bin/python"
cmake --build "$BUILD_DIR"
