# SAM's own local emulation (`sam local invoke`, `sam local start-api`) in Docker, for
# scripts/sam-local, scripts/schemathesis and scripts/smoke. Sourced after scripts/lib.sh.
#
# Docker: a daemon that answers `docker info` is used as it is. Otherwise (as root) Debian's
# docker.io runs a private dockerd, state under .local/sam/docker, `vfs` storage, inside a
# private network namespace (loopback only) together with DynamoDB Local and SAM, so nothing
# they start is reachable from outside this machine. Everything started is stopped on exit.
#
# Usage from a script:
#   sam_prepare "$0" "$@"   # installs, builds, then re-runs the script in the namespace
#   sam_stack_up            # daemon, base image, DynamoDB Local with tables and demo data
#   sam_local invoke ...    # sam with this stack's image, environment and parameters

SAM_STATE=.local/sam
AL2023_IMAGE=public.ecr.aws/lambda/provided:al2023
STAND_IN_IMAGE=update-connection/lambda-base:stand-in
FUNCTION=UpdateConnectionFunction

sam_arch() {
  case "$(uname -m)" in
    aarch64 | arm64) echo arm64 ;;
    *) echo x86_64 ;;
  esac
}

# Outside the namespace: decide how Docker runs, install and build, then re-run the calling
# script inside `unshare -n` (private daemon) or go on here (a daemon that answers).
sam_prepare() {
  export SAM_CLI_TELEMETRY=0 PATH="$PWD/.venv/bin:$PATH"
  if [ -n "${SAM_LOCAL_INSIDE:-}" ]; then return 0; fi
  ensure_java
  ensure_dynamodb_local
  ensure_venv
  local mode
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    mode=existing
    echo "==> Docker: using the daemon that answers ($(docker info --format '{{.Name}} {{.ServerVersion}}' 2>/dev/null))"
  else
    if [ "$(id -u)" != 0 ]; then
      echo "error: no Docker daemon answers 'docker info', and starting a private one needs root" >&2
      echo "       (you are uid $(id -u)). Start Docker (or set DOCKER_HOST), or run this as root." >&2
      exit 1
    fi
    if ! command -v unshare >/dev/null 2>&1 || ! unshare -n true 2>/dev/null; then
      echo "error: no Docker daemon answers 'docker info', and a private one needs a private network" >&2
      echo "       namespace ('unshare -n', util-linux), which this machine does not allow." >&2
      exit 1
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
      echo "==> installing Docker (Debian's docker.io)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    fi
    mode=private
    echo "==> Docker: a private dockerd (vfs, state in $SAM_STATE/docker) in a private network namespace"
  fi

  mkdir -p "$SAM_STATE"
  echo "==> cargo build (connections-admin)"
  cargo build --quiet --locked --bin connections-admin
  sam_build
  stand_in_rootfs

  if [ "$mode" = private ]; then
    export SAM_LOCAL_INSIDE=private
    exec unshare -n "$@"
  fi
  export SAM_LOCAL_INSIDE=existing
}

# `sam build` as a user runs it, for this machine's architecture. Debug by default (a
# release build with fat LTO takes minutes more); SAM_BUILD_MODE=release builds release.
sam_build() {
  local arch started=$SECONDS
  arch=$(sam_arch)
  echo "==> sam build --parameter-overrides Architecture=$arch (${SAM_BUILD_MODE:=debug})"
  if ! SAM_BUILD_MODE=$SAM_BUILD_MODE sam build \
      --parameter-overrides "Architecture=$arch" >"$SAM_STATE/build.log" 2>&1; then
    cat "$SAM_STATE/build.log" >&2
    echo "error: sam build failed" >&2
    exit 1
  fi
  echo "    built in $((SECONDS - started)) s"
}

# The stand-in base image's file tree, from Debian's packages only: busybox (the shell and
# core utilities SAM's image build runs) and the C runtime that `bootstrap` links against.
stand_in_rootfs() {
  local tar=$SAM_STATE/stand-in-rootfs.tar
  [ -s "$tar" ] && return 0
  echo "==> the stand-in base image's files, from Debian's busybox-static, libc6, libgcc-s1"
  local work
  work=$(mktemp -d)
  if ! (cd "$work" && apt-get download busybox-static libc6 libgcc-s1 >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$work" && apt-get download busybox-static libc6 libgcc-s1 >/dev/null)
  fi
  mkdir "$work/root"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
  rm -rf "$work/root/usr/share"
  for applet in sh mv cp chmod chown rm mkdir ln ls cat env sleep; do
    ln -sf busybox "$work/root/bin/$applet"
  done
  mkdir -p "$work/root"/{var/task,var/runtime,opt,tmp,etc,usr/bin}
  chmod 1777 "$work/root/tmp"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$work/root/etc/passwd"
  echo 'root:x:0:' >"$work/root/etc/group"
  tar -C "$work/root" -cf "$tar" .
  rm -rf "$work"
}

# Inside: the daemon, the base image, DynamoDB Local with the template's tables and the demo
# data, and the function's environment. Registers cleanup for everything it starts.
sam_stack_up() {
  SAM_PIDS=()
  trap sam_stack_down EXIT
  trap 'exit 130' INT TERM
  if [ "$SAM_LOCAL_INSIDE" = private ]; then
    ip link set lo up
    start_private_dockerd
  fi
  choose_base_image

  DDB_PORT=${DDB_PORT:-8000}
  echo "==> DynamoDB Local (in memory) on port $DDB_PORT"
  if [ "$SAM_LOCAL_INSIDE" = existing ]; then
    # The function's container must reach it through Docker's bridge, so it cannot be
    # kept to loopback here; the private daemon's namespace keeps it in.
    echo "    warning: with your own Docker daemon, DynamoDB Local listens on every interface"
    echo "    of this machine while the script runs (no bind option); it holds demo data only"
  fi
  start_dynamodb_local "$DDB_PORT"
  SAM_PIDS+=("$DDB_PID")
  export AWS_REGION=eu-west-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  export CONNECTIONS_TABLE=connections API_KEYS_TABLE=api-keys
  ADMIN=(env AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT" "${CARGO_TARGET_DIR:-target}/debug/connections-admin")
  "${ADMIN[@]}" create-tables >/dev/null
  "${ADMIN[@]}" seed-demo >/dev/null
  echo "    tables from template.yaml, demo data from demo/seed.json"

  # The function's container reaches DynamoDB Local through Docker's bridge.
  local gateway
  gateway=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)
  if [ -z "$gateway" ]; then
    gateway=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
  fi
  if [ -z "$gateway" ]; then
    echo "error: cannot find Docker's bridge address, so the function cannot reach DynamoDB Local" >&2
    exit 1
  fi
  FUNCTION_DDB_ENDPOINT="http://$gateway:$DDB_PORT"
  SAM_ENV_VARS=$SAM_STATE/env-vars.json
  cat >"$SAM_ENV_VARS" <<EOF
{"$FUNCTION": {"CONNECTIONS_TABLE": "$CONNECTIONS_TABLE", "API_KEYS_TABLE": "$API_KEYS_TABLE",
  "AWS_ENDPOINT_URL_DYNAMODB": "$FUNCTION_DDB_ENDPOINT"}}
EOF
  echo "    the function reaches it at $FUNCTION_DDB_ENDPOINT (--env-vars $SAM_ENV_VARS)"
  SAM_COMMON=(--invoke-image "$BASE_IMAGE" --skip-pull-image --region "$AWS_REGION"
    --env-vars "$SAM_ENV_VARS"
    --parameter-overrides "Architecture=$(sam_arch) DynamoDbEndpoint=$FUNCTION_DDB_ENDPOINT")
}

start_private_dockerd() {
  local root=$PWD/$SAM_STATE/docker
  # Socket paths are limited to 108 bytes: the runtime state goes to a short temp folder.
  DOCKER_EXEC_ROOT=$(mktemp -d /tmp/uc-docker.XXXXXX)
  mkdir -p "$root"
  dockerd --storage-driver vfs --data-root "$root/data" --exec-root "$DOCKER_EXEC_ROOT" \
    --pidfile "$DOCKER_EXEC_ROOT/dockerd.pid" -H "unix://$DOCKER_EXEC_ROOT/docker.sock" \
    >"$root/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$DOCKER_EXEC_ROOT/docker.sock"
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$root/dockerd.log" >&2
      echo "error: the private dockerd did not start (log: $root/dockerd.log)" >&2
      exit 1
    fi
    sleep 0.2
  done
}

# Amazon's provided:al2023 image when it is here or can be pulled; otherwise the stand-in.
choose_base_image() {
  if docker image inspect "$AL2023_IMAGE" >/dev/null 2>&1 ||
    { [ "$SAM_LOCAL_INSIDE" = existing ] && timeout 120 docker pull -q "$AL2023_IMAGE" >/dev/null 2>&1; }; then
    BASE_IMAGE=$AL2023_IMAGE
    echo "==> base image: $AL2023_IMAGE"
    return 0
  fi
  if ! docker image inspect "$STAND_IN_IMAGE" >/dev/null 2>&1; then
    docker import \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime' \
      --change 'WORKDIR /var/task' \
      "$SAM_STATE/stand-in-rootfs.tar" "$STAND_IN_IMAGE" >/dev/null
  fi
  BASE_IMAGE=$STAND_IN_IMAGE
  cat <<EOF
==> base image: $STAND_IN_IMAGE -- a STAND-IN, not Amazon Linux 2023
    $AL2023_IMAGE is not here and cannot be pulled (no registry is reachable), so the
    function runs on a base made from Debian's busybox-static, libc6 and libgcc-s1: the same
    Runtime Interface Emulator (from the aws-sam-cli package) and the same bootstrap, but
    Debian's glibc 2.36 instead of AL2023's glibc 2.34, busybox instead of AL2023's userland,
    and no system CA bundle (the function compiles in the AWS roots it trusts).
EOF
}

# sam with this stack's base image, environment and parameters: sam_local COMMAND ARGS...
sam_local() {
  local command=$1
  shift
  sam local "$command" "$@" "${SAM_COMMON[@]}"
}

# Starts `sam local start-api` (warm containers) on 127.0.0.1:PORT, in its own process
# group so that it stops with everything it started, and waits for it. LAZY: a container is
# made when its function is first called and then kept; EAGER would also make one for the
# PreTraffic hook, whose inline code SAM cannot mount ("expected str ... not NoneType").
sam_start_api() {
  local port=$1
  setsid sam local start-api --host 127.0.0.1 --port "$port" --warm-containers LAZY \
    "${SAM_COMMON[@]}" >"$SAM_STATE/start-api.log" 2>&1 &
  SAM_PIDS+=($!)
  if ! wait_for_port "$port" "sam local start-api" 300; then
    tail -n 30 "$SAM_STATE/start-api.log" >&2
    exit 1
  fi
}

sam_stack_down() {
  trap - EXIT
  local pid
  for pid in "${SAM_PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  if [ -n "${DOCKERD_PID:-}" ]; then
    # SAM's containers go with the daemon: dockerd stops them when it stops.
    docker ps -q 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
    kill "$DOCKERD_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$DOCKERD_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -9 "$DOCKERD_PID" 2>/dev/null || true
    pkill -f "$DOCKER_EXEC_ROOT" 2>/dev/null || true
    rm -rf "$DOCKER_EXEC_ROOT"
  fi
  wait 2>/dev/null || true
}
