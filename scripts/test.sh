#!/usr/bin/env bash
# Install everything the tests need, make sure PostgreSQL and Redis answer, lint, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium and a CJK font for the real-browser tests (never a downloaded browser).
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "wenquanyi micro hei"; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
  else
    echo "Chromium or fonts-wqy-microhei missing: sudo apt-get install chromium fonts-wqy-microhei" >&2
  fi
fi

# pg_dump and pg_restore for the backup-and-restore test (tests/test_restore.py).
if ! command -v pg_dump >/dev/null || ! command -v pg_restore >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
  else
    echo "pg_dump or pg_restore missing: sudo apt-get install postgresql-client" >&2
  fi
fi

# PostgreSQL and Redis: start them when they do not answer (the tests fail, never skip, without them).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi

bash scripts/setup.sh requirements-dev.txt
# axe-core for the phone pass's accessibility check, from the npm registry at the locked version.
if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
  npm ci --prefix tests/browser --silent --no-audit --no-fund
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Three workers on two cores: a good part of a test's time is spent waiting on PostgreSQL, Redis, Chromium and
# the production test's leases, and a third worker fills those waits (the whole suite, measured the same hour:
# 655 s with two workers, 624 s with three).
exec .venv/bin/python -m pytest -n 3 --dist worksteal -p no:cacheprovider --durations=25 "$@" tests
