#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds and runs the test suite, as CI does.
#   scripts/test.sh                 every test but those labelled slow
#   scripts/test.sh -L oracle       extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" -LE slow "$@"
