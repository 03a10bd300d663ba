#!/usr/bin/env bash
# Install what the app needs and start it on the embedded default (SQLite, demo world).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/python run.py "$@"
