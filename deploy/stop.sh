#!/usr/bin/env bash
# `make stop`: stops a `make run` started in the background, waiting until it has cleaned up.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
pidfile=$ROOT/var/run/run.pid
if [ ! -f "$pidfile" ] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "stop: nothing running"
    rm -f "$pidfile"
    exit 0
fi
pid=$(cat "$pidfile")
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { echo "stop: stopped"; exit 0; }; sleep 0.1; done
echo "stop: pid $pid did not stop within 10 s" >&2
exit 1
