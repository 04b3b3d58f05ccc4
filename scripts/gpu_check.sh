#!/usr/bin/env bash
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#
# scripts/gpu_check.sh: the GPU checks of one device lease, in one prepared command.
#
#   scripts/gpu_check.sh pack [BUILD_DIR]   here (Debian, with nvcc): copies the GPU binaries of
#       BUILD_DIR (default build/) -- bench/gpu_bench, every test executable with a ctest
#       labelled gpu or in tests/cuda, and the run-time modules of lib/ (the CUDA backend,
#       libmot_backend_cuda.so, which the binaries dlopen from ../lib) -- stripped into
#       gpu-pack/{bin,tests,lib}, with every shared library they need except glibc, libstdc++,
#       libgcc, the CUDA driver and cuBLAS/cuBLASLt (the device machine has its own CUDA 13;
#       libstdc++/libgcc_s go to gpu-pack/compat, used only if the device's are older), and
#       prints the pack's size: under 60 MiB, and under 64 MiB with the working tree that
#       travels with it.
#   scripts/gpu_check.sh run [OUT_DIR]      on the device machine, from the repository root with
#       gpu-pack/ carried: prints nvidia-smi, runs every packed test (gtest JSON into OUT_DIR)
#       and then gpu_bench --device=cuda --towers=2,3 --out=OUT_DIR, each under `timeout`, the
#       whole in under 8 minutes (GPU_CHECK_SECONDS, default 470), and prints the tables last.
#       OUT_DIR defaults to $OUT. Full logs: OUT_DIR/gpu_check.log.
#
# The device call (the `run` tool; the machine's image is not Debian, so nothing is built there):
#   command:   scripts/gpu_check.sh run
#   carry:     ["gpu-pack"]
#   timeout_s: 560
# It returns gpu_bench.md, gpu_bench.json, gpu_check.log and one <test>.json per test binary
# (the tool brings back at most 8 files).
#
# Exit status: 0 everything ran and passed; 1 a test or the benchmark failed or timed out (the
# summary says which); 2 bad usage or a missing pack/binary.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pack="$repo/gpu-pack"
max_pack_mib=60

usage() {
  echo "usage: scripts/gpu_check.sh pack [BUILD_DIR] | run [OUT_DIR]" >&2
  exit 2
}

# True for the libraries the device machine brings itself (or must bring: the driver).
system_lib() {
  case "$1" in
    linux-vdso.so* | ld-linux*.so* | libc.so* | libm.so* | libpthread.so* | libdl.so* | \
      librt.so* | libutil.so* | libresolv.so* | libstdc++.so* | libgcc_s.so* | libcuda.so* | \
      libcublas.so* | libcublasLt.so* | libnvidia-*.so*)
      return 0 ;;
  esac
  return 1
}

do_pack() {
  local build="${1:-$repo/build}"
  build="$(cd "$build" && pwd)" || { echo "gpu_check: no build dir $1" >&2; exit 2; }
  local bins=()
  if [[ -x "$build/bench/gpu_bench" ]]; then
    bins+=("$build/bench/gpu_bench")
  else
    echo "gpu_check: $build/bench/gpu_bench is missing (ninja -C $build gpu_bench)" >&2
    exit 2
  fi
  # The test executables: every one with a ctest labelled gpu (gtest_discover_tests writes
  # <exe>[1]_tests.cmake beside it), and whatever tests/cuda holds.
  local t f
  while read -r t; do
    [[ -n "$t" && -f "$t" && -x "$t" ]] && bins+=("$t")
  done < <(
    {
      grep -rlE --include='*_tests.cmake' 'LABELS [^)]*gpu' "$build/tests" 2>/dev/null |
        while read -r f; do
          grep -m 1 -oE '^add_test\(\[=\[[^]]*\]=\] +[^ ]+' "$f" | awk '{print $NF}'
        done
      for t in "$build"/tests/cuda/*; do
        [[ -f "$t" && -x "$t" && "$t" != *.cmake ]] && echo "$t"
      done
    } | sort -u
  )
  if [[ ${#bins[@]} -eq 1 ]]; then
    echo "gpu_check: warning: no GPU test executables in $build/tests (packing gpu_bench only)" >&2
  fi
  # Run-time modules (dlopen'ed, so no binary's ldd names them): the CUDA backend,
  # lib/libmot_backend_cuda.so, found by the binaries in ../lib (gpu-pack/lib).
  local modules=()
  for f in "$build"/lib/*.so; do
    [[ -f "$f" ]] && modules+=("$f")
  done
  if [[ ${#modules[@]} -eq 0 ]]; then
    echo "gpu_check: warning: no run-time modules in $build/lib (no CUDA backend module?)" >&2
  fi

  rm -rf "$pack"
  mkdir -p "$pack/bin" "$pack/tests" "$pack/lib" "$pack/compat"
  local b lib path missing=0
  for b in "${bins[@]}" ${modules[@]+"${modules[@]}"}; do
    if [[ "$b" == */tests/* ]]; then
      cp "$b" "$pack/tests/"
      strip --strip-unneeded "$pack/tests/$(basename "$b")"
    elif [[ "$b" == "$build"/lib/* ]]; then
      cp "$b" "$pack/lib/"
      strip --strip-unneeded "$pack/lib/$(basename "$b")"
    else
      cp "$b" "$pack/bin/"
      strip --strip-unneeded "$pack/bin/$(basename "$b")"
    fi
    # "libfoo.so.1 => /path/libfoo.so.1 (0x...)": copy under the name the binary asks for.
    while read -r lib _ path _; do
      [[ -z "$lib" ]] && continue
      # libstdc++ and libgcc_s are the device's own; these copies are used there only if its
      # libstdc++ is older than the one this was built with (run checks with ldd).
      if [[ "$lib" == libstdc++.so* || "$lib" == libgcc_s.so* ]] && [[ -e "$path" ]]; then
        [[ -e "$pack/compat/$lib" ]] || cp -L "$path" "$pack/compat/$lib"
        continue
      fi
      system_lib "$lib" && continue
      if [[ "$path" == "not" ]]; then
        echo "gpu_check: $(basename "$b") needs $lib, which ldd does not find here" >&2
        missing=1
        continue
      fi
      if [[ ! -e "$pack/lib/$lib" ]]; then
        cp -L "$path" "$pack/lib/$lib"
        chmod u+w "$pack/lib/$lib"
        strip --strip-unneeded "$pack/lib/$lib" 2>/dev/null || true
      fi
    done < <(ldd "$b" | grep '=>' || true)
  done
  [[ $missing -eq 0 ]] || { echo "gpu_check: pack incomplete" >&2; exit 1; }

  # What was packed, from which commit (git is read-only here), for gpu_bench's footer.
  local commit
  commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [[ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null || true)" ]]; then
    commit="$commit+dirty"
  fi
  echo "$commit" > "$pack/COMMIT"
  {
    echo "packed $(date -u '+%Y-%m-%d %H:%M UTC') from $build, commit $commit"
    (cd "$pack" && find . -type f ! -name MANIFEST -printf '%s %p\n' | sort -k2)
  } > "$pack/MANIFEST"

  local bytes tree
  bytes="$(du -sb "$pack" | cut -f1)"
  # The device call carries the working tree too (tracked and untracked-but-not-ignored
  # files), 64 MiB in all with the pack.
  tree="$(cd "$repo" && git ls-files -z --cached --others --exclude-standard -- ':!gpu-pack' \
    2>/dev/null | du -cb --files0-from=- 2>/dev/null | tail -n 1 | cut -f1 || echo 0)"
  echo "gpu_check: packed ${#bins[@]} binaries, ${#modules[@]} modules and $(ls "$pack/lib" | wc -l) libraries (modules included) into $pack:"
  (cd "$pack" && ls bin tests | sed 's/^/  /' && for f in "${modules[@]##*/}"; do echo "  lib/$f"; done)
  # The newest glibc symbol version anything packed asks for: the device needs at least it.
  local glibc
  glibc="$(find "$pack/bin" "$pack/tests" "$pack/lib" -type f -exec objdump -T {} + 2>/dev/null |
    grep -o 'GLIBC_[0-9.]*' | sort -u -V | tail -n 1 || true)"
  echo "gpu_check: the device needs ${glibc:-an unknown} glibc or newer (libstdc++ fallback in compat/)"
  awk -v b="$bytes" -v t="${tree:-0}" -v max="$max_pack_mib" 'BEGIN {
    printf "gpu_check: pack size %.1f MiB (limit %d MiB); with the working tree (%.1f MiB) %.1f MiB travel (limit 64 MiB)\n", b / 1048576, max, t / 1048576, (b + t) / 1048576
    exit (b >= max * 1048576 || b + t >= 64 * 1048576) ? 1 : 0 }' ||
    { echo "gpu_check: pack too large" >&2; exit 1; }
}

# The directory holding libcublasLt.so.13 on the device: its CUDA toolkit, else the one
# PyTorch's wheels bring (nvidia/cublas/lib), else what ldconfig knows.
find_cublas_dir() {
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    /usr/local/cuda-*/lib64 /usr/local/cuda-*/targets/x86_64-linux/lib; do
    [[ -e "$d/libcublasLt.so.13" ]] && { echo "$d"; return 0; }
  done
  d="$(python3 -c 'import nvidia.cublas as c, os; print(os.path.join(list(c.__path__)[0], "lib"))' \
    2>/dev/null || true)"
  [[ -n "$d" && -e "$d/libcublasLt.so.13" ]] && { echo "$d"; return 0; }
  d="$(ldconfig -p 2>/dev/null | awk '/libcublasLt\.so\.13 /{print $NF; exit}')"
  [[ -n "$d" ]] && { dirname "$d"; return 0; }
  return 1
}

do_run() {
  local out="${1:-${OUT:-}}"
  [[ -n "$out" ]] || { echo "gpu_check: no OUT_DIR given and \$OUT is unset" >&2; exit 2; }
  [[ -x "$pack/bin/gpu_bench" ]] || {
    echo "gpu_check: $pack/bin/gpu_bench missing: run 'scripts/gpu_check.sh pack' here and carry gpu-pack" >&2
    exit 2
  }
  mkdir -p "$out"
  local log="$out/gpu_check.log"
  : > "$log"
  local total="${GPU_CHECK_SECONDS:-470}"
  local start
  start="$(date +%s)"
  left() { echo $((total - ($(date +%s) - start))); }

  local cublas_dir
  cublas_dir="$(find_cublas_dir)" || {
    echo "gpu_check: libcublasLt.so.13 not found (CUDA 13 toolkit or python nvidia-cublas)" >&2
    exit 2
  }
  export LD_LIBRARY_PATH="$pack/lib:$cublas_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "== gpu_check: pack $(cat "$pack/COMMIT" 2>/dev/null || echo '?'), cuBLASLt from $cublas_dir, $(ldd --version 2>&1 | head -n 1), $(date -u '+%Y-%m-%d %H:%M UTC')"
  # A libstdc++ older than the build machine's: use the packed one.
  if ldd "$pack/bin/gpu_bench" 2>&1 | grep -E "(GLIBCXX|CXXABI|GCC)_[0-9.]*' not found" > /dev/null; then
    echo "gpu_check: the device's libstdc++ is too old; using gpu-pack/compat" | tee -a "$log"
    export LD_LIBRARY_PATH="$pack/compat:$LD_LIBRARY_PATH"
  fi
  timeout 30 nvidia-smi 2>&1 | tee -a "$log" || echo "gpu_check: nvidia-smi failed" | tee -a "$log"
  local b
  for b in "$pack"/bin/* "$pack"/tests/* "$pack"/lib/libmot_*.so; do
    [[ -f "$b" ]] || continue
    if ldd "$b" 2>&1 | grep -q 'not found'; then
      echo "gpu_check: $(basename "$b") lacks libraries:" | tee -a "$log"
      ldd "$b" 2>&1 | grep 'not found' | tee -a "$log"
    fi
  done

  local summary=() failed=0 t name rc tmp
  tmp="$(mktemp)"
  for t in "$pack"/tests/*; do
    [[ -f "$t" && -x "$t" ]] || continue
    name="$(basename "$t")"
    # Each test binary gets at most 120 s and never eats the benchmark's last 3 minutes.
    local limit=$(( $(left) - 180 ))
    (( limit > 120 )) && limit=120
    if (( limit < 10 )); then
      summary+=("$name: skipped (time)")
      continue
    fi
    echo "== $name (timeout ${limit}s)" | tee -a "$log"
    set +e
    timeout -k 5 "$limit" "$t" --gtest_output="json:$out/$name.json" > "$tmp" 2>&1
    rc=$?
    set -e
    cat "$tmp" >> "$log"
    local line
    line="$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$tmp" | grep -v '\] [A-Za-z]' | tr '\n' ' ' || true)"
    if (( rc == 124 || rc == 137 )); then
      summary+=("$name: TIMED OUT after ${limit}s")
      failed=1
    elif (( rc != 0 )); then
      summary+=("$name: FAILED (exit $rc) $line")
      failed=1
    else
      summary+=("$name: ok $line")
    fi
    # The failing and skipped tests by name, on stdout (the log has their messages).
    grep -E '^\[  (FAILED|SKIPPED) \] [A-Za-z]' "$tmp" | grep -v ' ms)$' | sort -u | head -n 25 |
      sed 's/^/  /' || true
  done

  # The benchmark: what is left, less a minute for its last section and the teardown.
  local bench_left budget
  bench_left=$(( $(left) - 5 ))
  budget=$(( bench_left - 60 ))
  if (( budget < 30 )); then
    summary+=("gpu_bench: skipped (only ${bench_left}s left)")
    failed=1
  else
    echo "== gpu_bench (budget ${budget}s, timeout ${bench_left}s)" | tee -a "$log"
    set +e
    timeout -k 5 "$bench_left" "$pack/bin/gpu_bench" --device=cuda --towers=2,3 \
      --budget_s="$budget" --out="$out" --commit="$(cat "$pack/COMMIT" 2>/dev/null || echo unknown)" \
      > "$tmp" 2>> "$log"
    rc=$?
    set -e
    cat "$tmp" >> "$log"
    if (( rc == 124 || rc == 137 )); then
      summary+=("gpu_bench: TIMED OUT after ${bench_left}s (gpu_bench.md holds the rows written so far)")
      failed=1
    elif (( rc != 0 )); then
      summary+=("gpu_bench: FAILED (exit $rc; the table's rows say which)")
      failed=1
    else
      summary+=("gpu_bench: ok")
    fi
  fi
  rm -f "$tmp"

  echo "== gpu_check summary ($(( $(date +%s) - start ))s)"
  printf '  %s\n' "${summary[@]}"
  echo
  if [[ -f "$out/gpu_bench.md" ]]; then
    cat "$out/gpu_bench.md"
  else
    echo "(no gpu_bench.md; the last lines of the log:)"
    tail -n 40 "$log"
  fi
  return $failed
}

case "${1:-}" in
  pack) shift; do_pack "$@" ;;
  run) shift; do_run "$@" ;;
  *) usage ;;
esac
