#!/usr/bin/env bash
# Entry point of `npm start`, `npm test` and `npm run dev`: bootstraps the machine, then runs
# scripts/<command>.ts under Node >= 22 (npm itself may have been started by an older Node).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
command="${1:?usage: run.sh start|test|dev}"
shift

rd_ensure_node
# The media benchmark measures x11vnc + noVNC beside the agent, so it needs x11vnc too.
if [ "$command" = bench/media ]; then RD_DEBIAN_PACKAGES+=(x11vnc); fi
if [ "$command" = test ] || [ "$command" = bench/media ] || [ "$command" = bench/tiles ]; then rd_ensure_debian_packages required; else rd_ensure_debian_packages; fi
rd_ensure_npm_deps
cd "$RD_ROOT"
exec node "scripts/$command.ts" "$@"
