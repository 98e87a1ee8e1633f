#!/usr/bin/env bash
# A real Docker daemon for the container tests (tests/e2e/test_containers.py with docker), with its
# own socket, data and state under DIR (default /tmp/pyrule-docker), so that it touches no system
# docker: no iptables, no bridge network (containers get no network), storage driver chosen by
# dockerd (overlay2 where the file system allows it, else vfs). Root only.
#   dockerd.sh start [DIR]   start it unless it runs; wait for `docker info`; exit 1 with its log tail
#   dockerd.sh stop [DIR]    stop it (and its containers), if it runs
#   dockerd.sh status [DIR]  exit 0 when it answers
# Clients: DOCKER_HOST=unix://DIR/docker.sock docker ...
set -euo pipefail
cmd=${1:-}
dir=${2:-/tmp/pyrule-docker}
export DOCKER_HOST="unix://$dir/docker.sock" PATH="$PATH:/usr/sbin:/sbin"

answers() { timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

case $cmd in
status) answers ;;
start)
    answers && exit 0
    command -v dockerd >/dev/null || { echo "no dockerd: apt-get install docker.io (tests/envs/install.sh)" >&2; exit 1; }
    [ "$(id -u)" = 0 ] || { echo "dockerd needs root" >&2; exit 1; }
    mkdir -p "$dir"
    if [ -s "$dir/dockerd.pid" ] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null; then
        kill "$(cat "$dir/dockerd.pid")"; sleep 2  # a daemon that does not answer
    fi
    rm -f "$dir/docker.sock" "$dir/dockerd.pid"
    setsid dockerd --host "$DOCKER_HOST" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$dir/dockerd.pid" --iptables=false --ip6tables=false --bridge=none \
        >"$dir/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 120); do
        answers && { docker version --format 'dockerd {{.Server.Version}} at '"$DOCKER_HOST"; exit 0; }
        kill -0 $! 2>/dev/null || break
        sleep 0.5
    done
    echo "dockerd did not start (log $dir/dockerd.log):" >&2
    tail -n 30 "$dir/dockerd.log" >&2
    exit 1 ;;
stop)
    [ -s "$dir/dockerd.pid" ] || exit 0
    pid=$(cat "$dir/dockerd.pid")
    ids=$(docker ps -q 2>/dev/null || :)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || :
    kill "$pid" 2>/dev/null || :
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || : ;;
*) echo "usage: $0 start|stop|status [DIR]" >&2; exit 2 ;;
esac
