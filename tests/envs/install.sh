#!/usr/bin/env bash
# CI: what tests/e2e/test_containers.py needs: podman (with runc: crun fails on hosts with hybrid
# cgroups), Docker's own engine (docker.io: dockerd, containerd and Docker's client; the tests run
# a daemon of their own with tests/envs/dockerd.sh) and a static busybox to build the test images
# from (no image registry is used). Not podman-docker: its `docker` is podman, and docker is tested.
set -euo pipefail
apt-get install -y -qq --no-install-recommends podman runc docker.io busybox-static >/dev/null
podman --version
docker --version | grep '^Docker version' || { echo "docker is not Docker's client (podman-docker?)" >&2; exit 1; }
# dockerd starts here (and stops): a failure shows its log now, not only as a failed test
bash "$(dirname "$0")/dockerd.sh" start /tmp/pyrule-docker-install && bash "$(dirname "$0")/dockerd.sh" stop /tmp/pyrule-docker-install
