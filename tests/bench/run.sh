#!/usr/bin/env bash
# `make bench`: figures, not assertions (see tests/bench/bench.py for what is measured).
# Usage: run.sh BUILD_DIR BIN_DIR [http compile fanout loader]
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
exec /usr/bin/python3 "$ROOT/tests/bench/bench.py" "$@"
