# The desk container of a Kubernetes desk pod: an X server and the template's programs, as a
# non-root user. Build from the repository root:
#   docker build -f deploy/desk.Dockerfile -t remote-desk/desk:latest .
# The pod runs it with a read-only root filesystem: home, /tmp and the X socket directory are
# volumes (packages/sandbox/src/providers/kubernetes.ts).
FROM debian:bookworm-slim

# xvfb, fluxbox, xterm, nano: what the built-in templates run (packages/protocol desk-template.ts);
# xauth writes the display's cookie; jq reads the template's program list.
RUN apt-get update \
  && apt-get install -y --no-install-recommends xvfb xauth fluxbox xterm nano jq fonts-dejavu-core \
  && rm -rf /var/lib/apt/lists/*

# uid/gid 1000: the pod's runAsUser and fsGroup for the desk.
RUN groupadd --gid 1000 desk && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash desk

COPY --chmod=0755 deploy/desk-entrypoint.sh /usr/local/bin/rd-desk

USER 1000:1000
WORKDIR /home/desk
ENV HOME=/home/desk DISPLAY=:0 XAUTHORITY=/run/rd-x/Xauthority LANG=C.UTF-8
ENTRYPOINT ["/usr/local/bin/rd-desk"]
