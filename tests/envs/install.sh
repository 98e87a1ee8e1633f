#!/usr/bin/env bash
# CI: what tests/e2e/test_containers.py needs: podman (with runc: crun fails on hosts with hybrid
# cgroups) and a static busybox to build the test images from (no image registry is used).
set -euo pipefail
apt-get install -y -qq --no-install-recommends podman runc busybox-static >/dev/null
podman --version
