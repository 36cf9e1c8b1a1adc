#!/usr/bin/env bash
# Prints the PostgreSQL DDL that Prisma derives from a schema file: from FROM (a schema file,
# or "empty") to TO (default prisma/schema.prisma). Offline, through Prisma 6.19's JS schema
# engine in tools/prisma-ddl (Prisma 7's migrate commands need a downloaded engine binary).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
from="${1:-empty}"
to="${2:-$root/prisma/schema.prisma}"
tool="$root/tools/prisma-ddl"
if [ ! -x "$tool/node_modules/.bin/prisma" ]; then
  (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Prisma 6 wants the datasource url in the schema, Prisma 7 refuses it there: add it to a copy.
for_prisma6() { sed 's/^\(\s*provider\s*=\s*"postgresql"\)/\1\n  url = env("DATABASE_URL")/' "$1" > "$2"; }
for_prisma6 "$to" "$tmp/to.prisma"
if [ "$from" = empty ]; then
  from_args=(--from-empty)
else
  for_prisma6 "$from" "$tmp/from.prisma"
  from_args=(--from-schema-datamodel "$tmp/from.prisma")
fi
cd "$tool"
# The engine variables point at any existing file so Prisma skips its download attempt.
PRISMA_QUERY_ENGINE_LIBRARY=/bin/true PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
  ./node_modules/.bin/prisma migrate diff "${from_args[@]}" --to-schema-datamodel "$tmp/to.prisma" --script
