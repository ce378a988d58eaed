# Shared settings and helpers of the test bed; sourced by setup, up, down, demo and tests/run.
# shellcheck shell=bash

BED_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# livekit-server is built from its module source, fetched through the Go module proxy
# (tests/bed/setup, build_livekit_server); the bed runs LIVEKIT_SERVER_VERSION. v1.13.5 stays
# the default. v1.13.8 and later honour SIP_TRUNK_FAILURE in a client LeaveRequest
# (livekit/livekit#4890); they pin forks of pion's webrtc, dtls and ice in `replace`
# directives, which the proxy does not serve, so setup builds them against the upstream pion
# versions their go.mod requires instead (checked with v1.13.11).
LIVEKIT_SERVER_VERSION=${LIVEKIT_SERVER_VERSION:-v1.13.5}
# The versions whose behaviour the tests compare: sip_outbound_outcomes runs its table against
# each (a server of its own for those the bed does not run). `tests/bed/setup
# --all-livekit-versions` builds them all, as CI does; elsewhere that pass is skipped, saying so.
LIVEKIT_SERVER_COMPARED_VERSIONS=(v1.13.5 v1.13.11)

# Everything slow to make is cached here, outside the repository: the livekit-server build per
# version, the Python venv per requirements file, and cargo's target directory.
SIPBRIDGE_CACHE=${SIPBRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sipbridge}
# One target directory per checkout: cargo reuses a test binary built in another checkout of
# the same commit as fresh, while the `env!("CARGO_MANIFEST_DIR")` compiled into it still
# points at the other checkout (seen: the config tests reading files of a deleted clone).
checkout_key=$(printf %s "$BED_ROOT" | sha1sum | cut -c1-10)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SIPBRIDGE_CACHE/target-$checkout_key}

# Pid files, logs and generated configs of the running bed.
BED_DIR=${SIPBRIDGE_BED_DIR:-${TMPDIR:-/tmp}/sipbridge-bed}

# One build per version: $SIPBRIDGE_CACHE/livekit-server/<version>/livekit-server (the tests
# find the other versions' builds beside the bed's).
# docker compose, only to check deploy/docker-compose.yml (`config`): built from its module
# source like livekit-server, once per version.
DOCKER_COMPOSE_VERSION=v2.40.3
DOCKER_COMPOSE_BIN=$SIPBRIDGE_CACHE/docker-compose/$DOCKER_COMPOSE_VERSION/docker-compose
livekit_bin() { printf '%s/livekit-server/%s/livekit-server' "$SIPBRIDGE_CACHE" "$1"; }
LIVEKIT_BIN=$(livekit_bin "$LIVEKIT_SERVER_VERSION")
BRIDGE_BIN=$CARGO_TARGET_DIR/debug/sipbridge
DEV_CONFIG=$BED_ROOT/config/examples/dev.yaml
CLUSTER_CONFIG=$BED_ROOT/config/examples/cluster.yaml
PY_REQUIREMENTS=$BED_ROOT/tests/py/requirements.txt

# Ports of the bed. livekit's come from here; the bridge's are those of config/examples/dev.yaml
# (config/tests/examples.rs checks that they agree).
LIVEKIT_PORT=7880
LIVEKIT_RTC_UDP_PORT=7882
REDIS_PORT=6390
BRIDGE_HTTP=127.0.0.1:8080
BRIDGE_SIP=127.0.0.1:5060

say() { printf 'bed: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# The venv built from the current requirements file (its name changes when the file does).
venv_dir() {
  local digest
  digest=$( (python3 --version; cat "$PY_REQUIREMENTS") | sha256sum | cut -c1-12)
  printf '%s/venv-%s' "$SIPBRIDGE_CACHE" "$digest"
}

# wait_until SECONDS DESCRIPTION COMMAND...: retries COMMAND every 0.2 s.
wait_until() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      say "$what did not come up within ${seconds}s"
      return 1
    fi
    sleep 0.2
  done
}

# export_bed LINES: exports the KEY=value lines tests/bed/up printed.
export_bed() {
  local line
  while IFS= read -r line; do
    export "${line?}"
  done <<<"$1"
}

pid_alive() { [ -f "$BED_DIR/$1.pid" ] && kill -0 "$(cat "$BED_DIR/$1.pid")" 2>/dev/null; }

# start NAME COMMAND...: runs COMMAND in the background with its output in $BED_DIR/NAME.log.
start() {
  local name=$1
  shift
  "$@" >"$BED_DIR/$name.log" 2>&1 &
  echo $! >"$BED_DIR/$name.pid"
}

# exited_within SECONDS PID: waits up to SECONDS for PID to exit.
exited_within() {
  local tries=$(($1 * 5)) pid=$2
  for _ in $(seq "$tries"); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  return 1
}

# stop NAME: SIGTERM; a second SIGTERM after 2 s (livekit-server and the bridge both take a
# second signal as "stop now, skip the drain"); SIGKILL if still running 8 s later.
stop() {
  local name=$1 pid
  [ -f "$BED_DIR/$name.pid" ] || return 0
  pid=$(cat "$BED_DIR/$name.pid")
  if kill -TERM "$pid" 2>/dev/null && ! exited_within 2 "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! exited_within 8 "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      say "$name ($pid) did not stop on SIGTERM; killed"
    fi
  fi
  rm -f "$BED_DIR/$name.pid"
}

show_log() {
  say "last lines of $BED_DIR/$1.log:"
  tail -n 30 "$BED_DIR/$1.log" >&2 || true
}

# Every commit's test binaries stay in the cargo target (about 20 GB after five runs of the
# whole suite on one machine, which filled its disk): keep the executables the current build
# uses — the tests', and the bridge as tests/bed/up builds it — and remove the others. The
# build is fresh when this runs, so listing it compiles nothing.
prune_stale_test_binaries() {
  local deps=$CARGO_TARGET_DIR/debug/deps current stale
  [ -d "$deps" ] || return 0
  current=$(cd "$BED_ROOT" && {
    cargo test --workspace --locked --no-run --message-format=json
    cargo build --locked -p sipbridge --message-format=json
  } 2>/dev/null | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | while read -r path; do
    # The bridge binary is listed where it is linked (debug/sipbridge): its file in deps/
    # is the same one.
    [ -e "$path" ] && find "$deps" -maxdepth 1 -samefile "$path"
    printf '%s\n' "$path"
  done)
  [ -n "$current" ] || return 0
  # Test binaries are the executables without an extension (proc-macro crates are
  # executable `.so` files, and stay).
  stale=$(find "$deps" -maxdepth 1 -type f -perm -u+x ! -name '*.*' | grep -vxF "$current" || true)
  [ -n "$stale" ] || return 0
  printf 'bed: removing %s stale test binaries from %s\n' "$(wc -l <<<"$stale")" "$deps" >&2
  xargs -d '\n' rm -f <<<"$stale"
}
