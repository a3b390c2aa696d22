#!/usr/bin/env bash
# Runs every libFuzzer target in FUZZ_BUILD for SECONDS each with its seed corpus
# (tests/fuzz/corpus/<name>/, copied so the repository's corpus is never rewritten).
# Prints one line per target; exits non-zero when a target found a crash.
# Usage: run.sh FUZZ_BUILD SECONDS
set -uo pipefail
FB=$1 SECS=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
passed=0 failed=0
for t in "$ROOT/$FB"/fuzz-*; do
    [ -x "$t" ] || continue
    name=${t##*/fuzz-}
    work=$(mktemp -d /tmp/bb-fuzz-XXXXXX)
    [ -d "$ROOT/tests/fuzz/corpus/$name" ] && cp -r "$ROOT/tests/fuzz/corpus/$name/." "$work/"
    log="$ROOT/$FB/fuzz-$name.log"
    if ASAN_OPTIONS=detect_leaks=1 "$t" -max_total_time="$SECS" -rss_limit_mb=2048 \
        -timeout=10 -artifact_prefix="$ROOT/$FB/crash-$name-" "$work" >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
        echo "fuzz $name: ok (${runs:-no summary}, ${SECS}s)"
        passed=$((passed + 1))
    else
        echo "fuzz $name: FAILED (see $log)"
        tail -20 "$log"
        failed=$((failed + 1))
    fi
    rm -rf "$work"
done
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
