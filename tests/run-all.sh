#!/usr/bin/env bash
# Runs the unit suites (cmocka), a short run of every fuzz target (libFuzzer, when built), and
# the black-box suite (pytest against real processes, plus the artifact verifier's own tests),
# then prints one closing line, "N passed, N failed", and exits non-zero when anything failed.
# Usage: run-all.sh BUILD_DIR BIN_DIR [unit|blackbox|all]   (FUZZ_BUILD, FUZZ_SECONDS: fuzzing)
set -uo pipefail
BUILD=$1 BIN=$2 WHICH=${3:-all}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
passed=0 failed=0 skipped=0

if [ "$WHICH" != blackbox ]; then
    for t in "$ROOT/$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        out=$("$t" 2>&1); rc=$?
        printf '%s\n' "$out"
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
        p=${p:-0} f=${f:-0}
        [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1   # crashed before its summary
        passed=$((passed + p)) failed=$((failed + f))
    done
fi

if [ "$WHICH" = all ] && [ -n "${FUZZ_BUILD:-}" ] && ls "$ROOT/$FUZZ_BUILD"/fuzz-* >/dev/null 2>&1; then
    out=$(bash "$ROOT/tests/fuzz/run.sh" "$FUZZ_BUILD" "${FUZZ_SECONDS:-10}" 2>&1)
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(printf '%s\n' "$out" | sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-1}))
fi

if [ "$WHICH" != unit ]; then
    shared="$ROOT/../shared/contract/openapi.yaml"
    if [ -f "$shared" ] && ! cmp -s "$shared" "$ROOT/tests/contract/openapi.yaml"; then
        echo "warning: tests/contract/openapi.yaml differs from $shared; refresh the copy" >&2
    fi
    xml="$ROOT/$BUILD/pytest.xml"
    rm -f "$xml"
    BARBACANE_BIN_DIR="$ROOT/$BIN" BARBACANE_TOOLS_DIR="$ROOT/$BUILD/tests" "$PYTHON" -m pytest -q -p no:cacheprovider \
        --junitxml="$xml" "$ROOT/tests/blackbox" "$ROOT/tests/tools"
    rc=$?
    if [ -f "$xml" ]; then
        read -r t f e s < <("$PYTHON" - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r if r.tag == "testsuite" else r.find("testsuite")
print(s.get("tests", 0), s.get("failures", 0), s.get("errors", 0), s.get("skipped", 0))
PY
)
        passed=$((passed + t - f - e - s)) failed=$((failed + f + e)) skipped=$((skipped + s))
    fi
    [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] && [ ! -f "$xml" ] && failed=$((failed + 1))
fi

echo
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
