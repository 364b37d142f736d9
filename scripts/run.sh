#!/usr/bin/env bash
# Set up (a virtualenv with the project) and run policybot on the embedded defaults:
# SQLite + embedded Chroma under ./data, the bundled notices indexed on first start.
# Usage: scripts/run.sh [--host 0.0.0.0] [--port 8000]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/policybot ] || [ pyproject.toml -nt .venv/.installed ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e .
  touch .venv/.installed
fi
export ANONYMIZED_TELEMETRY=False
exec .venv/bin/policybot serve "$@"
