#!/usr/bin/env bash
# Starts podman's Docker-compatible API service for Podium, idempotently, and prints its
# socket path (the DOCKER_HOST is unix://<that path>).
#   scripts/podman/serve.sh DIR          # start (or find running) under DIR; print the socket
#   scripts/podman/serve.sh --stop DIR   # stop the service started under DIR
# Everything the instance writes lives under DIR: storage/ (images, containers), run/, tmp/,
# podman.sock, podman.pid and podman.log. The settings come from the files beside this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for tool in podman runc conmon curl; do
    command -v "$tool" >/dev/null || { echo "serve.sh: $tool is missing" >&2; exit 2; }
done

stop=0
if [ "${1:-}" = "--stop" ]; then stop=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--stop] DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
sock="$dir/podman.sock"
pidfile="$dir/podman.pid"

export CONTAINERS_CONF="$here/containers.conf"
export CONTAINERS_STORAGE_CONF="$here/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$here/registries.conf"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

podman_here() {
    podman --root "$dir/storage" --runroot "$dir/run" --tmpdir "$dir/tmp" "$@"
}

if [ "$stop" = 1 ]; then
    # Containers outlive the service (conmon watches them): remove them, and their volumes.
    podman_here rm --all --force --time 0 >/dev/null 2>&1 || true
    podman_here volume rm --all --force >/dev/null 2>&1 || true
    if running; then
        pid=$(cat "$pidfile")
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile" "$sock"
    exit 0
fi

# A unix socket path longer than 107 bytes cannot be bound.
if [ ${#sock} -gt 100 ]; then
    echo "serve.sh: socket path too long (${#sock} bytes): $sock" >&2; exit 2
fi

if ! running; then
    mkdir -p "$dir/storage" "$dir/run" "$dir/tmp"
    rm -f "$sock"
    # conmon inherits the service's working folder and writes an `oom` file there when a
    # container is OOM-killed: keep that inside DIR.
    cd "$dir"
    setsid podman \
        --root "$dir/storage" --runroot "$dir/run" --tmpdir "$dir/tmp" \
        system service --time=0 "unix://$sock" >"$dir/podman.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
fi

# Ready when the API answers its ping.
for _ in $(seq 300); do
    if [ -S "$sock" ] && curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
        echo "$sock"
        exit 0
    fi
    running || break
    sleep 0.1
done
echo "serve.sh: podman did not come up; its log:" >&2
cat "$dir/podman.log" >&2
exit 1
