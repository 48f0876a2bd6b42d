#!/usr/bin/env bash
# The desk container's entrypoint (deploy/desk.Dockerfile): writes a fresh X cookie where the desk
# agent (the pod's other container) reads it, starts Xvfb on $DISPLAY at $RD_DESK_RESOLUTION, then
# each program of $RD_DESK_PROGRAMS (a JSON list of argv lists, from the desk's template) without a
# shell, and lives as long as the X server does.
set -euo pipefail
: "${DISPLAY:=:0}" "${XAUTHORITY:=/run/rd-x/Xauthority}" "${RD_DESK_RESOLUTION:=1366x768}"
: "${RD_DESK_PROGRAMS:=[[\"fluxbox\"],[\"xterm\"]]}"
# Group-readable: the agent runs as another user of the same group (the pod's fsGroup).
umask 027
: >"$XAUTHORITY"
xauth -q -f "$XAUTHORITY" add "$DISPLAY" MIT-MAGIC-COOKIE-1 "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
chmod 0640 "$XAUTHORITY" # xauth rewrites the file 0600 whatever the umask
mkfifo /tmp/.rd-x-ready
Xvfb "$DISPLAY" -screen 0 "${RD_DESK_RESOLUTION}x24" -auth "$XAUTHORITY" -nolisten tcp -noreset \
  -displayfd 5 5>/tmp/.rd-x-ready </dev/null &
xvfb=$!
read -r _ </tmp/.rd-x-ready || { echo "the desk's X server did not start" >&2; exit 1; }
rm -f /tmp/.rd-x-ready
cd "$HOME"
count=$(jq 'length' <<<"$RD_DESK_PROGRAMS")
for ((i = 0; i < count; i++)); do
  mapfile -d '' argv < <(jq -j --argjson i "$i" '.[$i][] | ., "\u0000"' <<<"$RD_DESK_PROGRAMS")
  ("${argv[@]}" </dev/null >/dev/null 2>&1 &)
done
wait "$xvfb"
