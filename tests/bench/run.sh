#!/usr/bin/env bash
# `make bench`: wrk against a bare libmicrohttpd server (the baseline, measured in the same
# run), GET /health and GET /projects/{id} through the full stack; then the spec loader bench.
# Prints req/s, p50/p99 and each route's ratio to the baseline. Figures, not assertions.
set -uo pipefail
BUILD=$1 BIN=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DURATION=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNECTIONS:-64}
TMP=$(mktemp -d /tmp/bb-bench-XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    wait 2>/dev/null
    bash "$ROOT/deploy/pg.sh" stop "$TMP/pg"
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PG_EXTRA="-c fsync=off -c synchronous_commit=off" \
    DB=$(bash "$ROOT/deploy/pg.sh" start "$TMP/pg" "$(free_port)") || exit 1
HTTP=$(free_port) BROKER=$(free_port) EVIN=$(free_port) EVOUT=$(free_port) HELLO=$(free_port)
TOKEN=bench-token-$RANDOM$RANDOM
"$ROOT/$BIN/barbacane-gateway" --http-port "$HTTP" --admin-token "$TOKEN" --log-level warn \
    --broker-bind "tcp://127.0.0.1:$BROKER" --events-in-bind "tcp://127.0.0.1:$EVIN" \
    --events-out-bind "tcp://127.0.0.1:$EVOUT" 2>"$TMP/gw.log" & PIDS+=($!)
for i in 1 2; do
    "$ROOT/$BIN/barbacane-registry" --database-url "$DB" --broker "tcp://127.0.0.1:$BROKER" \
        --events "tcp://127.0.0.1:$EVIN" --log-level warn 2>"$TMP/reg$i.log" & PIDS+=($!)
done
"$ROOT/$BUILD/tests/bench-hello" "$HELLO" 2 & PIDS+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP/health" >/dev/null && break; sleep 0.1; done
ID=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
     -d '{"name":"bench"}' "http://127.0.0.1:$HTTP/projects" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

# wrk's "Requests/sec" and latency percentiles, converted to ms.
measure() {
    local out
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$1")
    python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v); n = float(m.group(1))
    return n / 1000 if m.group(2) == "us" else n * 1000 if m.group(2) == "s" else n
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", out).group(1)); p99 = ms(re.search(r"\s99%\s+(\S+)", out).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {errs.group(1) if errs else 0}")
PY
}

echo "wrk -t2 -c$CONNS -d${DURATION}s on $(nproc) cores"
printf '%-28s %10s %9s %9s %8s %8s\n' route "req/s" "p50 ms" "p99 ms" ratio non2xx
read -r base b50 b99 berr < <(measure "http://127.0.0.1:$HELLO/")
printf '%-28s %10s %9s %9s %8s %8s\n' "baseline (bare MHD)" "$base" "$b50" "$b99" "1.00" "$berr"
for route in /health "/projects/$ID"; do
    read -r rps p50 p99 err < <(measure "http://127.0.0.1:$HTTP$route")
    label=$route; [ "$route" != /health ] && label="/projects/{id}"
    printf '%-28s %10s %9s %9s %8s %8s\n' "GET $label" "$rps" "$p50" "$p99" \
        "$(python3 -c "print(f'{$rps/$base:.2f}')")" "$err"
done
echo "target: GET /projects/{id} >= 0.25 of baseline with p99 <= 10 ms"

if [ -x "$ROOT/$BUILD/tests/bench-loader" ]; then
    echo
    "$ROOT/$BUILD/tests/bench-loader"
fi
