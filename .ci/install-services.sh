#!/usr/bin/env bash
# The servers that the `scale` tests start themselves (ragassets_tests/services.py): PostgreSQL and Redis
# from Debian's packages. Installs what is missing when we are root (or have sudo); otherwise says so and
# the tests that need them skip with that reason.
set -uo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then as_root=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then as_root=(sudo -n);
else echo "not root and no sudo: install ${missing[*]} yourself (the Postgres/Celery tests skip meanwhile)"; exit 0; fi
echo "installing ${missing[*]} (Debian packages) for the Postgres/Celery tests"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || echo "apt-get install ${missing[*]} failed: the Postgres/Celery tests will skip"
# the package's own cluster is not needed: the tests run their own server in a temporary folder
exit 0
