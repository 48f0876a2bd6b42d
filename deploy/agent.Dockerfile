# The trusted desk agent of a Kubernetes desk pod: Node 24 and apps/agent of this repository, which
# captures the desk's display (through the shared X socket) and streams it over WebRTC. Build from
# the repository root:
#   docker build -f deploy/agent.Dockerfile -t remote-desk/agent:latest .
FROM node:24-bookworm-slim

# ffmpeg captures and encodes; libxtst6 lets nut-js inject input; xclip carries the clipboard.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg libxtst6 xclip ca-certificates \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The workspace manifests first, so that dependencies are a layer of their own.
COPY package.json package-lock.json ./
COPY packages/ packages/
COPY apps/signal/package.json apps/signal/
COPY apps/agent/ apps/agent/
RUN npm ci --omit=dev --workspace apps/agent --include-workspace-root=false \
  && npm cache clean --force

# uid 1001 in group 1000 (the image's "node" group): the pod's fsGroup, which owns the desk's X
# cookie (readable by the group).
RUN useradd --uid 1001 --gid 1000 --no-create-home agent
USER 1001:1000
ENV NODE_ENV=production DISPLAY=:0 XAUTHORITY=/run/rd-x/Xauthority RD_AGENT_CONFIG_DIR=/etc/rd-agent
# Node 24 runs the agent's TypeScript directly (type stripping), as apps/agent/bin/agent does.
ENTRYPOINT ["node", "apps/agent/src/cli.ts"]
CMD ["run"]
