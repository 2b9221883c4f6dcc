#!/usr/bin/env bash
# Start or stop a local OCI registry (Debian's docker-registry, distribution 2.8) on loopback, for the
# archive tests. Installs the package when missing (needs root). Storage and state live in DIR.
#   scripts/registry.sh up DIR PORT [AUTH]   serve 127.0.0.1:PORT; AUTH, if given, is the registry's
#                                            `auth:` mapping in YAML flow style, e.g. '{htpasswd: {realm: r, path: /x}}'
#   scripts/registry.sh down DIR                 stop the registry that `up` started there
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 up DIR PORT [AUTH] | down DIR" >&2; exit 2; }
mkdir -p "$dir"
pidfile=$dir/registry.pid

up() {
  local port=$1 auth=${2:-}
  if ! command -v docker-registry >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >"$dir/apt.log"
  fi
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $dir/storage}, delete: {enabled: true}}"
    echo "http: {addr: 127.0.0.1:$port}"
    if [ -n "$auth" ]; then echo "auth: $auth"; fi
  } >"$dir/config.yml"
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    # answering at all (200, or 401 with auth) means it is up; python3 rather than curl, which a fresh machine may lack
    if python3 -c "import sys, urllib.request, urllib.error
try: urllib.request.urlopen('http://127.0.0.1:$port/v2/', timeout=1)
except urllib.error.HTTPError: pass
except OSError: sys.exit(1)"; then return 0; fi
    sleep 0.1
  done
  echo "docker-registry did not start on 127.0.0.1:$port; see $dir/registry.log" >&2
  down
  exit 1
}

down() {
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  fi
}

case "$cmd" in
  up) up "${3:?PORT}" "${4:-}" ;;
  down) down ;;
  *) echo "usage: $0 up DIR PORT [AUTH] | down DIR" >&2; exit 2 ;;
esac
