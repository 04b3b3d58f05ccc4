#!/usr/bin/env bash
# The container test: builds the CPU image (deploy/Containerfile.cpu) with podman on a Debian 12
# base made here with debootstrap (no image registry is reachable), makes a small model with the
# host's mot-train, runs the image with the model mounted read-only, waits for the image's own
# HEALTHCHECK to pass, generates once through mot-cli over the published port, reads /metrics,
# then stops the container with SIGTERM and checks it drained and exited 0. Prints each stage's
# time. Run as root (podman storage and debootstrap), from anywhere:
#   deploy/container_test.sh
# Environment:
#   MOT_BUILD_DIR   host build with trainer/mot-train (default: <repo>/build)
#   MOT_CT_FRESH=1  rebuild the base image and the CPU image without the layer cache
#   MOT_CT_JOBS     compile jobs inside the image build (default 2)
#   MOT_CT_IMAGE    tag of the CPU image (default localhost/mot-serve:cpu-test)
#   MOT_SKIP_APT=1  do not install podman, debootstrap, runc... (machines set up by hand)
# Exit status: 0 pass, 1 a check failed (the message says which).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${MOT_BUILD_DIR:-$ROOT/build}
IMAGE=${MOT_CT_IMAGE:-localhost/mot-serve:cpu-test}
BASE_IMAGE=localhost/mot-debian12-base:bookworm
JOBS=${MOT_CT_JOBS:-2}
FRESH=${MOT_CT_FRESH:-0}

fail() { echo "container_test: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
T_ALL=$(now)
TIMES=()
stage_start() { STAGE=$1; T_STAGE=$(now); echo "== $STAGE"; }
stage_end() {
  local s
  s=$(awk -v a="$T_STAGE" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  TIMES+=("$(printf '%-10s %7s s%s' "$STAGE" "$s" "${1:+  ($1)}")")
}

[[ $(id -u) -eq 0 ]] || fail "run as root: podman's root storage and debootstrap need it"

# ---- packages: installed only when missing, as scripts/setup.sh does ----
stage_start packages
# netavark/aardvark-dns: podman 4's network stack (published ports); iptables: netavark's NAT;
# runc: crun (podman's default) refuses these hosts' hybrid cgroups; curl: the /metrics check.
PACKAGES=(podman debootstrap runc netavark aardvark-dns iptables curl ca-certificates)
if [[ ${MOT_SKIP_APT:-0} != 1 ]]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "container_test: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
stage_end

WORK=$(mktemp -d /tmp/mot-container-test.XXXXXX)
CTR=mot-ct-$$
cleanup() {
  podman rm -f -t 0 "$CTR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# podman's settings for these machines, in a file of our own instead of /etc: runc and
# cgroupfs (no systemd, hybrid cgroups), and no default rlimits (runc cannot raise them here).
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$WORK/containers.conf
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)

# The first URI apt uses for SUITE, from sources.list (one-line format) or the deb822 .sources
# files; the files apt ignores (other extensions) are ignored here too.
apt_uri_for_suite() {
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                        if ($(i + 1) == s) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v s="$suite" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && uri != "")
                           { print uri; found = 1 } types = suites = uri = "" }
      /^[ \t]*$/ { flush(); if (found) exit; next }
      /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      /^URIs:/ { uri = $2 }
      END { if (!found) flush() }' "$f"
  done | head -1
}

# ---- base: a minimal Debian 12 from the mirror this host's apt uses, imported into podman ----
stage_start base
if [[ $FRESH == 1 ]] || ! podman image exists "$BASE_IMAGE"; then
  MIRROR=$(apt_uri_for_suite bookworm)
  SECURITY=$(apt_uri_for_suite bookworm-security)
  [[ -n $MIRROR ]] || fail "no apt source for bookworm on this host"
  echo "container_test: debootstrap bookworm from $MIRROR"
  nice -n 19 debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
  {
    echo "deb $MIRROR bookworm main"
    echo "deb $MIRROR bookworm-updates main"
    [[ -z $SECURITY ]] || echo "deb $SECURITY bookworm-security main"
  } >"$WORK/rootfs/etc/apt/sources.list"
  # What Debian's -slim images leave out: documentation, manuals, translations; and no .deb
  # kept after installing.
  cat >"$WORK/rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  echo 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };' \
    >"$WORK/rootfs/etc/apt/apt.conf.d/docker-clean"
  find "$WORK/rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  rm -rf "$WORK"/rootfs/usr/share/{man,info,locale}/* "$WORK"/rootfs/var/lib/apt/lists/* \
    "$WORK"/rootfs/var/cache/apt/*.bin "$WORK"/rootfs/var/cache/apt/archives/*.deb \
    "$WORK"/rootfs/var/log/*.log
  podman image rm -f "$BASE_IMAGE" >/dev/null 2>&1 || true
  tar -C "$WORK/rootfs" --numeric-owner -c . |
    podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
  stage_end "debootstrap + import"
else
  stage_end "cached image $BASE_IMAGE"
fi

# ---- image: the CPU image from the working tree ----
stage_start image
build_flags=(--isolation=chroot --format docker -f deploy/Containerfile.cpu
             --build-arg "BASE=$BASE_IMAGE" --build-arg "JOBS=$JOBS")
fresh_flags=()
[[ $FRESH == 1 ]] && fresh_flags=(--no-cache)
BUILD_T0=$(date -u +%Y-%m-%dT%H:%M:%SZ)
nice -n 19 "${PODMAN[@]}" build "${build_flags[@]}" "${fresh_flags[@]}" -t "$IMAGE" . \
  >"$WORK/build.log" 2>&1 ||
  { tail -40 "$WORK/build.log"; fail "podman build"; }
# Each compile leaves its build stage as an untagged image (about 800 MB), the layer cache of
# the next run. When this run compiled afresh, the ones earlier runs left are stale: drop them.
if ! grep -A1 'STEP [0-9/]*: RUN cmake' "$WORK/build.log" | grep -q 'Using cache'; then
  podman image prune -f --filter "until=$BUILD_T0" >/dev/null || true
fi
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
stage_end "$((size / 1000000)) MB"
# The image's own settings: non-root, the two ports, the health check.
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[[ $user == 10001:10001 ]] || fail "image user is '$user', want 10001:10001 (mot)"
hc=$(podman image inspect --format '{{.Config.Healthcheck}}' "$IMAGE")
[[ $hc == *mot-cli* ]] || fail "image has no HEALTHCHECK running mot-cli (got: $hc)"

# ---- model: a few training steps with the host's trainer (its demo data needs espeak-ng,
# which the runtime image leaves out) ----
stage_start model
TRAIN=$BUILD_DIR/trainer/mot-train
[[ -x $TRAIN ]] || fail "no $TRAIN: build the project first (scripts/setup.sh)"
nice -n 19 "$TRAIN" default-model --out "$WORK/model" --work "$WORK/model-work" \
  --demo_scenes 40 --demo_speech_scenes 8 --steps 3 --eval=false --threads 1 \
  >"$WORK/train.log" 2>&1 || { tail -20 "$WORK/train.log"; fail "mot-train default-model"; }
rm -rf "$WORK/model-work"
# The container's user (10001) only reads the model.
chmod -R a+rX "$WORK/model"
chmod a+x "$WORK"
stage_end

# ---- serve: the image as a user runs it; wait for its HEALTHCHECK ----
stage_start serve
# podman schedules health checks with systemd timers; these machines have no systemd, so podman
# logs an error on run and stop (kept in podman.err) and the loop below runs the check itself.
"${PODMAN[@]}" run -d --name "$CTR" -p 127.0.0.1::50051 -p 127.0.0.1::9090 \
  -v "$WORK/model:/models/default:ro" "$IMAGE" --threads=1 >/dev/null 2>>"$WORK/podman.err" ||
  { cat "$WORK/podman.err"; fail "podman run"; }
GRPC=$(podman port "$CTR" 50051/tcp)
METRICS=$(podman port "$CTR" 9090/tcp)
healthy=0
for _ in $(seq 1 240); do
  if ! podman container exists "$CTR" ||
     [[ $(podman inspect --format '{{.State.Running}}' "$CTR") != true ]]; then
    podman logs "$CTR" 2>&1 | tail -20
    fail "the container stopped while starting"
  fi
  # Runs the image's HEALTHCHECK command (mot-cli health) inside the container.
  if "${PODMAN[@]}" healthcheck run "$CTR" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.5
done
((healthy)) || { podman logs "$CTR" 2>&1 | tail -20; fail "not healthy after 120 s"; }
status=$("${PODMAN[@]}" exec "$CTR" mot-cli health --server 127.0.0.1:50051)
[[ $status == SERVING ]] || fail "mot-cli health printed '$status', want SERVING"
# The server (PID 1) runs as mot, and the model volume is read-only to it.
uid=$(podman exec "$CTR" awk '/^Uid:/ { print $2 }' /proc/1/status)
[[ $uid == 10001 ]] || fail "mot-server runs as uid $uid, want 10001"
if podman exec "$CTR" touch /models/default/written 2>/dev/null; then
  fail "/models/default is writable in the container"
fi
stage_end "healthy; gRPC at $GRPC, metrics at $METRICS"

# ---- generate: the image's mot-cli, from outside the container, through the published port ----
stage_start generate
set +e
out=$("${PODMAN[@]}" run --rm --network host --entrypoint mot-cli "$IMAGE" generate \
      --server "$GRPC" --text "a red circle" --max_new_tokens 8 --seed 1 --quiet \
      2>"$WORK/generate.err")
rc=$?
set -e
[[ $rc -eq 0 ]] || { cat "$WORK/generate.err"; fail "mot-cli generate exited $rc"; }
[[ -n ${out//[[:space:]]/} ]] || { cat "$WORK/generate.err"; fail "mot-cli generate printed nothing"; }
echo "generated: $out"
metrics=$(curl -fsS --max-time 10 "http://$METRICS/metrics") || fail "GET /metrics"
grep -q '^mot_queue_depth' <<<"$metrics" || fail "/metrics has no mot_queue_depth"
grep -q '^mot_kv_blocks_in_use' <<<"$metrics" || fail "/metrics has no mot_kv_blocks_in_use"
stage_end

# ---- stop: SIGTERM, drain, exit 0 (a SIGKILL after the timeout would exit 137) ----
stage_start stop
"${PODMAN[@]}" stop -t 60 "$CTR" >/dev/null 2>>"$WORK/podman.err" ||
  { cat "$WORK/podman.err"; fail "podman stop"; }
code=$(podman inspect --format '{{.State.ExitCode}}' "$CTR")
logs=$(podman logs "$CTR" 2>&1)
[[ $code -eq 0 ]] || { tail -20 <<<"$logs"; fail "exit code $code after SIGTERM, want 0"; }
grep -q SIGTERM <<<"$logs" || fail "the server did not log the SIGTERM"
grep -q server_stopped <<<"$logs" || fail "the server did not log server_stopped"
stage_end "exit 0 after drain"

echo "container_test: PASS"
printf '  %s\n' "${TIMES[@]}"
awk -v a="$T_ALL" -v b="$(now)" 'BEGIN { printf "  %-10s %7.1f s\n", "total", b - a }'
