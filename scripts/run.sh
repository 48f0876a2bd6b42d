#!/usr/bin/env bash
# Entry point of `npm start`, `npm test` and `npm run dev`: bootstraps the machine, then runs
# scripts/<command>.ts under Node >= 22 (npm itself may have been started by an older Node).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
command="${1:?usage: run.sh start|test|dev}"
shift

rd_ensure_node
if [ "$command" = test ]; then rd_ensure_debian_packages required; else rd_ensure_debian_packages; fi
rd_ensure_npm_deps
cd "$RD_ROOT"
exec node "scripts/$command.ts" "$@"
