#!/usr/bin/env bash
# Time the README's first command from a fresh clone: install, cold `zcells demo`, then warm runs.
#
# Usage: benchmarks/bench_demo.sh [WORKDIR]   (default /tmp/zcells-demo-bench; it is deleted first)
# Prints: install, cold demo and total seconds; a warm `--no-serve` run; and the time until a warm
# `zcells demo` answers /healthz. The survey cache lives in WORKDIR/cache, so the cold run is cold.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/zcells-demo-bench}"
port=8077
rm -rf "$work" && git clone -q "$repo" "$work/src" && cd "$work/src"
python3 -m venv .venv && . .venv/bin/activate
export ZCELLS_CACHE_DIR="$work/cache"
t0=$(date +%s.%N)
pip install -q torch==2.13.0 && pip install -q .
t1=$(date +%s.%N)
zcells demo --no-serve --no-progress --out "$work/arts" > "$work/cold-demo.log" 2>&1
t2=$(date +%s.%N)
zcells demo --no-serve --no-progress --out "$work/arts" > "$work/warm-demo.log" 2>&1
t3=$(date +%s.%N)
zcells demo --no-progress --out "$work/arts" --port "$port" > "$work/warm-serve.log" 2>&1 &
t4=$(date +%s.%N)
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
t5=$(date +%s.%N)
pkill -f "gunicorn --bind 127.0.0.1:$port" || true
python - <<PY
t0, t1, t2, t3, t4, t5 = $t0, $t1, $t2, $t3, $t4, $t5
print(f"install {t1 - t0:.1f} s, cold demo {t2 - t1:.1f} s, total {t2 - t0:.1f} s; "
      f"warm --no-serve {t3 - t2:.1f} s; warm serve until /healthz {t5 - t4:.1f} s")
PY
grep -E "^(rf|llr|cnn):|demo ready" "$work/cold-demo.log"
