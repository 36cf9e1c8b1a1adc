# Shared by scripts/up and scripts/test: install whatever is missing, idempotently.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TEMPORAL_CLI_VERSION="v1.5.1" # newest tag whose go.mod has no replace directive (go install-able)
CACHE_DIR="${DEVICE_LIFECYCLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/device-lifecycle}"
export TEMPORAL_CLI="${TEMPORAL_CLI:-$CACHE_DIR/temporal-cli-$TEMPORAL_CLI_VERSION/temporal}"
PG_HOST="${PGHOST:-127.0.0.1}"
PG_PORT="${PGPORT:-5432}"

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

require_node() {
  command -v node >/dev/null || die "Node.js 20+ is required (node not found)"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js 20+ is required (found $(node --version))"
}

# npm install, not npm ci: the registry reachable here lacks some other-platform optional
# binaries, so the lock file omits them and npm ci refuses it. npm install honours the lock.
ensure_node_modules() {
  require_node
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages"
    npm install --no-audit --no-fund --loglevel=error
  fi
}

# The Temporal CLI (dev server + Web UI) built once from the Go module proxy and cached outside
# the checkout, so fresh clones and CI reruns reuse it.
ensure_temporal_cli() {
  if [ -x "$TEMPORAL_CLI" ]; then return; fi
  command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || die "Go is required once, to build the Temporal CLI"
  local go_bin tmp
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  tmp="$(mktemp -d)"
  say "building the Temporal CLI $TEMPORAL_CLI_VERSION (once; a few minutes)"
  GOBIN="$tmp" GOFLAGS=-mod=mod "$go_bin" install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
  mkdir -p "$(dirname "$TEMPORAL_CLI")"
  mv "$tmp/temporal" "$TEMPORAL_CLI"
  rm -rf "$tmp"
}

# Prisma 7's generate tries to download a schema engine it does not need for generating; pointing
# the variable at any existing file skips that download.
ensure_prisma_client() {
  if [ ! -f src/generated/prisma/client.ts ] || [ prisma/schema.prisma -nt src/generated/prisma/client.ts ]; then
    say "generating the Prisma client"
    PRISMA_SCHEMA_ENGINE_BINARY=/bin/true npx prisma generate >/dev/null
  fi
}

# PostgreSQL: use the one running; start the installed cluster if it is down; install it if absent.
ensure_postgres() {
  if pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then return; fi
  if ! command -v pg_ctlcluster >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing PostgreSQL from Debian's packages"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      die "PostgreSQL is not reachable on $PG_HOST:$PG_PORT and cannot be installed here"
    fi
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 1; done
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || die "PostgreSQL did not come up on $PG_HOST:$PG_PORT"
  # Fresh Debian clusters only trust local sockets; the project expects trust on 127.0.0.1 too.
  if ! psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -c 'select 1' >/dev/null 2>&1; then
    local hba
    hba="$(ls /etc/postgresql/"$version"/main/pg_hba.conf)"
    sed -i 's/^\(host\s\+all\s\+all\s\+127.0.0.1\/32\s\+\)\S\+/\1trust/' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
}

ensure_all() {
  ensure_node_modules
  ensure_prisma_client
  ensure_temporal_cli
  ensure_postgres
}
