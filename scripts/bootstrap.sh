# Sourced by scripts/run.sh and .ci/run: makes a fresh machine able to run the project.
# Provisions Node >= 22 (Node 24 from the npm registry when the system Node is older),
# the Debian packages the agent and the browser tests need, and the npm dependencies.
# Every step is idempotent and prints what it does; nothing happens when all is present.

RD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RD_TOOLS="$RD_ROOT/.tools"
# x11-utils: the consent prompt (xmessage); x11-xserver-utils: xmodmap (keyboard layout);
# xterm: the demo desktop's terminal; xdotool: tests; bubblewrap: the interview desks' sandbox
# (packages/sandbox); nano: the desks' editor; coturn: the TURN relay `RD_TURN=coturn npm start` runs
# (scripts/lib/coturn.ts), and its tests.
RD_DEBIAN_PACKAGES=(ffmpeg xvfb fluxbox xclip libxtst6 chromium x11-utils x11-xserver-utils xterm xdotool bubblewrap nano coturn)

rd_say() { printf '\033[1m[remote-desk]\033[0m %s\n' "$*" >&2; }

rd_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Node 24 ships as the `node` package on the npm registry (its binary is in node/bin).
rd_ensure_node() {
  local local_bin="$RD_TOOLS/node/node_modules/node/bin"
  if [ -x "$local_bin/node" ]; then export PATH="$local_bin:$PATH"; fi
  if [ "$(rd_node_major)" -ge 22 ]; then return 0; fi
  if ! command -v npm >/dev/null 2>&1; then
    rd_say "npm is missing: install Node.js 22 or newer (https://nodejs.org) and run this again."
    return 1
  fi
  rd_say "system Node $(node --version 2>/dev/null || echo none) is older than 22: fetching Node 24 from the npm registry into .tools/node"
  mkdir -p "$RD_TOOLS/node"
  npm install --prefix "$RD_TOOLS/node" --no-save --no-package-lock --loglevel=error node@24 >&2 || return 1
  export PATH="$local_bin:$PATH"
  rd_say "using Node $(node --version)"
}

rd_missing_debian_packages() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local p
  for p in "${RD_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s ' "$p"
  done
}

# Installs the Debian packages when running as root; otherwise says exactly what to run.
# $1 = "required" makes a missing package an error (tests), anything else only warns (start).
rd_ensure_debian_packages() {
  local missing
  missing="$(rd_missing_debian_packages)"
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    rd_say "installing Debian packages: $missing"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2 &&
      rd_disable_system_coturn && return 0
    rd_say "apt-get failed; install them by hand: apt-get install -y $missing"
  else
    rd_say "missing Debian packages; run: sudo apt-get install -y $missing"
  fi
  [ "${1:-}" = required ] && return 1
  return 0
}

# Debian's coturn package enables its own service on a systemd machine, configured to relay for
# anyone: we only want the coturn that `RD_TURN=coturn npm start` runs with its secret, so the
# system's is turned off again.
rd_disable_system_coturn() {
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled coturn >/dev/null 2>&1; then
    rd_say "disabling Debian's own coturn service (npm start runs its own when RD_TURN=coturn)"
    systemctl disable --now coturn >&2 || true
  fi
  return 0
}

# Reinstalls when node_modules is missing or older than the lockfile.
rd_ensure_npm_deps() {
  local stamp="$RD_ROOT/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$RD_ROOT/package-lock.json" ]; then return 0; fi
  rd_say "installing npm dependencies (npm ci)"
  (cd "$RD_ROOT" && npm ci --loglevel=error >&2)
}
