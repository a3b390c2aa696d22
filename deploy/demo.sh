#!/usr/bin/env bash
# `make demo`: the whole flow on a stack of its own (state in var/demo, ports 19090…), each
# step printed: project → API key → mock plugin → spec (the /init basic template) → compile →
# artifact → an agent (a data plane) connects → deploy → the agent downloads, verifies and
# reports the new artifact hash → the REST view shows it. Then everything is stopped.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
export VAR=$ROOT/var/demo PORT=${DEMO_PORT:-19090} BROKER_PORT=15555 EVENTS_IN_PORT=15556 \
       EVENTS_OUT_PORT=15557 PG_PORT=54339 HUB_PORT=19091 REGISTRY_WORKERS=1 COMPILER_WORKERS=1 HUBS=1
URL=http://127.0.0.1:$PORT
mkdir -p "$VAR"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

bash "$ROOT/deploy/run.sh" > "$VAR/run.out" 2>&1 &
RUN=$!
AGENT=
cleanup() {
    [ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null
    kill -TERM "$RUN" 2>/dev/null
    wait "$RUN" 2>/dev/null || true
}
trap cleanup EXIT
step "start the control plane (var/demo, $URL)"
for _ in $(seq 300); do curl -sf "$URL/health" >/dev/null && break; sleep 0.1; done
curl -sf "$URL/health"; echo
TOKEN=$(cat "$VAR/admin-token")
api() { local m=$1 p=$2; shift 2; curl -sf -X "$m" -H "Authorization: Bearer $TOKEN" "$@" "$URL$p"; }

step "create a project"
PROJECT=$(api POST /projects -H 'Content-Type: application/json' -d "{\"name\":\"demo-$RANDOM\"}" | json '["id"]')
echo "project $PROJECT"

step "create a data-plane API key"
KEY=$(api POST "/projects/$PROJECT/api-keys" -H 'Content-Type: application/json' -d '{"name":"edge-1"}' | json '["key"]')
echo "key ${KEY:0:12}… (shown once)"

step "register the mock dispatcher plugin"
printf '\0asm\1\0\0\0' > "$VAR/mock.wasm"
api POST /plugins -F name=mock -F version=0.1.0 -F type=dispatcher -F "file=@$VAR/mock.wasm" | json '["sha256"]'

step "generate the basic template (POST /init) and upload its api.yaml"
api POST /init -H 'Content-Type: application/json' -d '{"name":"Demo API"}' \
    | python3 -c 'import json,sys; print([f["content"] for f in json.load(sys.stdin)["files"] if f["path"]=="api.yaml"][0], end="")' > "$VAR/api.yaml"
SPEC=$(api POST "/projects/$PROJECT/specs" -F "file=@$VAR/api.yaml" | json '["id"]')
echo "spec $SPEC"

step "compile it, and wait for the artifact"
JOB=$(api POST "/specs/$SPEC/compile" | json '["id"]')
for _ in $(seq 300); do
    STATUS=$(api GET "/compilations/$JOB" | json '["status"]')
    [ "$STATUS" = succeeded ] || [ "$STATUS" = failed ] && break
    sleep 0.1
done
echo "compilation $JOB: $STATUS"
[ "$STATUS" = succeeded ] || { api GET "/compilations/$JOB"; exit 1; }
ARTIFACT=$(api GET "/compilations/$JOB" | json '["artifact_id"]')
api GET "/artifacts/$ARTIFACT" | python3 -c 'import json,sys; a=json.load(sys.stdin); print("artifact", a["id"], a["manifest"]["artifact_hash"], a["size_bytes"], "bytes")'

step "a data plane connects (barbacane-agent through the gateway's /ws/data-plane)"
"$BIN/barbacane-agent" --url "ws://127.0.0.1:$PORT/ws/data-plane" --project-id "$PROJECT" \
    --api-key "$KEY" --name edge-1 --work-dir "$VAR/agent" > "$VAR/agent.out" 2> "$VAR/agent.log" &
AGENT=$!
for _ in $(seq 100); do grep -q '"registered"' "$VAR/agent.out" 2>/dev/null && break; sleep 0.1; done
grep '"registered"' "$VAR/agent.out" | head -1
api GET "/projects/$PROJECT/data-planes" | python3 -c 'import json,sys; [print("data plane", d["name"], d["status"], "hash", d["artifact_hash"]) for d in json.load(sys.stdin)]'

step "deploy the artifact"
api POST "/projects/$PROJECT/deploy" -H 'Content-Type: application/json' -d '{}'; echo

step "the agent downloads it (no credential but the signed URL), verifies it, reports the hash"
for _ in $(seq 150); do grep -q '"verified"' "$VAR/agent.out" && break; sleep 0.1; done
grep -E '"artifact_available"|"downloaded"|"verified"|"rejected"' "$VAR/agent.out" | head -3
for _ in $(seq 150); do
    LINE=$(api GET "/projects/$PROJECT/data-planes" | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["status"], d["artifact_hash"], d["artifact_id"])')
    case "$LINE" in "online sha256:"*" $ARTIFACT") break ;; esac
    sleep 0.2
done
echo "data plane edge-1: $LINE"
case "$LINE" in "online sha256:"*" $ARTIFACT") echo; echo "demo: done" ;; *) echo "demo: the data plane did not converge" >&2; exit 1 ;; esac
