#!/usr/bin/env bash
# Start or stop the Docker engine the tests use, on this machine, with no network for containers.
#   scripts/docker.sh up     install Debian's docker.io and busybox-static if missing, start dockerd,
#                            build the stand-in images the examples name (busybox, python)
#   scripts/docker.sh down   stop the dockerd that `up` started
# No registry is contacted: images are built FROM scratch from this machine's own files.
set -euo pipefail
cd "$(dirname "$0")/.."
state=build/docker
pidfile=$state/dockerd.pid
mkdir -p "$state"

up() {
  if ! command -v dockerd >/dev/null || ! command -v busybox >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io busybox-static >"$state/apt.log"
  fi
  if ! docker info >/dev/null 2>&1; then
    # no bridge, no iptables: containers get no network, which is what workflow steps want
    dockerd --bridge=none --iptables=false --ip-forward=false --ip-masq=false >"$state/dockerd.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $state/dockerd.log" >&2; exit 1; }
  fi
  build_images
}

build_images() {
  local ctx
  # busybox: the static binary, its applets as links
  ctx=$(mktemp -d)
  cp "$(command -v busybox)" "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nENV PATH=/bin:/usr/bin\nCMD ["/bin/sh"]\n' >"$ctx/Dockerfile"
  docker build -q -t yadage2x/busybox:local "$ctx" >/dev/null 2>>"$state/build.log"
  rm -rf "$ctx"
  # python: Debian's python3 with the libraries it links, on the busybox image
  ctx=$(mktemp -d)
  mkdir -p "$ctx/root"
  py=$(readlink -f /usr/bin/python3)
  { echo "$py"; echo /usr/lib/python3.11; ldd "$py" | grep -o '/[^ ]*'; } | sort -u |
    tar -C / --warning=no-file-changed --exclude='__pycache__' --exclude='dist-packages' -chf - -T - 2>/dev/null | tar -C "$ctx/root" -xf -
  ln -sf "$(basename "$py")" "$ctx/root/usr/bin/python3"
  printf 'FROM yadage2x/busybox:local\nCOPY root/ /\nENV PATH=/bin:/usr/bin\n' >"$ctx/Dockerfile"
  docker build -q -t yadage2x/python:local "$ctx" >/dev/null 2>>"$state/build.log"
  rm -rf "$ctx"
  # the names the examples and corpus workflows use
  for tag in busybox:latest busybox:1.36; do docker tag yadage2x/busybox:local "$tag"; done
  for tag in python:3.12-slim python:3.11-slim python:latest; do docker tag yadage2x/python:local "$tag"; done
}

down() {
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.25; done
    rm -f "$pidfile"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
